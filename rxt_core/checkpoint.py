"""Save/load a model folder: `config.json` + `model.safetensors` (+ `tokenizer.json`).

Shared by `ReactiveTransformer` and `StatelessLM` through `PretrainedMixin`. Weights load on any
device (`map_location`), so a checkpoint trained on GPU serves on CPU and vice versa.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_model, save_model

from .config import RxTConfig

CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE = "config.json", "model.safetensors", "tokenizer.json"


class PretrainedMixin:
    config: RxTConfig
    kind: str  # "rxt" or "stateless", written to config.json

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def save_pretrained(self, directory: str | Path, tokenizer_file: str | Path | None = None) -> Path:
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        payload = {"model_type": self.kind, **self.config.model_dump(mode="json")}
        (out / CONFIG_FILE).write_text(json.dumps(payload, indent=2) + "\n")
        save_model(self, str(out / WEIGHTS_FILE))
        if tokenizer_file is not None and Path(tokenizer_file).resolve() != (out / TOKENIZER_FILE).resolve():
            shutil.copyfile(tokenizer_file, out / TOKENIZER_FILE)
        return out

    @classmethod
    def from_pretrained(
        cls, directory: str | Path, device: str | torch.device = "cpu", overrides: dict | None = None
    ):
        """`overrides`: config fields to change that keep every weight (e.g. keep_threshold, a
        decision threshold); one that would change the weights is a ValueError."""
        folder = Path(directory)
        config_path, weights_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
        for path in (config_path, weights_path):
            if not path.is_file():
                raise FileNotFoundError(f"{path} not found: not a model folder saved by save_pretrained")
        payload = json.loads(config_path.read_text())
        model_type = payload.pop("model_type", cls.kind)
        if model_type != cls.kind:
            raise ValueError(f"{folder} holds a {model_type!r} model, not {cls.kind!r}")
        model = cls(RxTConfig(**{**payload, **(overrides or {})}))
        try:
            load_model(model, str(weights_path), strict=True, device=str(device))
        except RuntimeError as e:
            if not overrides:
                raise
            raise ValueError(
                f"{sorted(overrides)} would change {folder}'s weights (only settings that keep every "
                f"weight can be overridden at load; retrain with `rxt train --init ... --set` instead): {e}"
            ) from e
        return model.to(device).eval()

    def fingerprint(self) -> str:
        """A short hash of config and weights. An STM is only meaningful for the exact weights that
        wrote it, so stored snapshots carry this and are refused by any other model."""
        cached = getattr(self, "_fingerprint", None)
        if cached is None:
            digest = hashlib.sha256(self.config.model_dump_json().encode())
            for name, tensor in sorted(self.state_dict().items()):
                digest.update(name.encode())
                digest.update(tensor.detach().float().cpu().numpy().tobytes())
            cached = self._fingerprint = digest.hexdigest()[:16]
        return cached
