"""Training checkpoints: model + stage-only modules + optimizer + step + loss history, written
atomically so a run killed mid-save resumes from the previous checkpoint."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

STATE_FILE = "train_state.pt"


@dataclass
class TrainState:
    step: int = 0
    seconds: float = 0.0  # training time over every run of this stage (resumes included)
    history: list[dict] = field(default_factory=list)  # one record per logged step


def save_checkpoint(
    directory: str | Path, modules: dict[str, nn.Module], optimizer: torch.optim.Optimizer, state: TrainState
) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    payload = {
        "modules": {name: m.state_dict() for name, m in modules.items()},
        "optimizer": optimizer.state_dict(),
        "step": state.step,
        "seconds": state.seconds,
        "history": state.history,
    }
    tmp = directory / (STATE_FILE + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, directory / STATE_FILE)
    return directory


def has_checkpoint(directory: str | Path) -> bool:
    return (Path(directory) / STATE_FILE).is_file()


def load_checkpoint(
    directory: str | Path, modules: dict[str, nn.Module], optimizer: torch.optim.Optimizer
) -> TrainState:
    payload = torch.load(Path(directory) / STATE_FILE, map_location="cpu", weights_only=False)
    for name, module in modules.items():
        module.load_state_dict(payload["modules"][name])
    optimizer.load_state_dict(payload["optimizer"])
    return TrainState(step=payload["step"], seconds=payload.get("seconds", 0.0), history=payload["history"])
