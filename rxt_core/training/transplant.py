"""Start a stage from a trained model with part of it changed: a different config (e.g. another
memory write) or some modules re-initialised. Every weight whose name and shape still fit is
copied; the rest start fresh. This is how a new memory write is tried on a decoder and encoder
that already read and encode (session 7: `--set memory_write='"slot"'` on the bundled model),
with a control that re-initialises the old write the same way (`--reinit memory_attention.`)."""

from __future__ import annotations

import logging

import torch

from ..config import RxTConfig
from ..model import ReactiveTransformer

log = logging.getLogger(__name__)


def check_prefixes(model: ReactiveTransformer, prefixes, flag: str, example: str) -> None:
    """ValueError naming the first of `prefixes` that starts no parameter name of `model`: a
    typo would otherwise select nothing, silently."""
    names = list(model.state_dict())
    unknown = [prefix for prefix in prefixes if not any(n.startswith(prefix) for n in names)]
    if unknown:
        raise ValueError(f"{flag} {unknown[0]!r} names no parameter of the model (e.g. {example!r})")


def transplant(
    model: ReactiveTransformer, overrides: dict, reinit: list[str] | tuple[str, ...] = ()
) -> ReactiveTransformer:
    """`model` rebuilt with `overrides` applied to its config; parameters named with a prefix in
    `reinit`, or whose name or shape the new config does not have, keep their fresh init.
    Returns `model` itself when nothing changes."""
    check_prefixes(model, reinit, "--reinit", "memory_attention.")
    config = RxTConfig.model_validate({**model.config.model_dump(), **overrides})
    if config == model.config and not reinit:
        return model
    fresh = ReactiveTransformer(config).to(model.device)
    state = model.state_dict()
    old = {**state, **_slot_write_values(state, config), **_resized_stm_init(state, config)}
    kept = {
        name: tensor
        for name, tensor in fresh.state_dict().items()
        if name in old and old[name].shape == tensor.shape and not name.startswith(tuple(reinit))
    }
    with torch.no_grad():
        for name, tensor in kept.items():
            tensor.copy_(old[name])
    started = [name for name in fresh.state_dict() if name not in kept]
    dropped = [name for name in old if name not in fresh.state_dict()]
    log.info(
        "transplant: %d tensors copied, %d start fresh (%s), %d dropped",
        len(kept),
        len(started),
        _summary(started),
        len(dropped),
    )
    return fresh.train(model.training)


def _slot_write_values(state: dict[str, torch.Tensor], config: RxTConfig) -> dict[str, torch.Tensor]:
    """A keep write started from a slot write takes over its value projection and the norm before
    it: the decoder has learned to read mixes of exactly those vectors (session 20)."""
    if config.memory_write != "keep":
        return {}
    carried = {}
    for name, tensor in state.items():
        prefix, dot, rest = name.partition(".slot_write.")
        if not dot:
            continue
        if rest == "key_value.weight":
            carried[f"{prefix}.keep_write.value.weight"] = tensor[config.dim :]
        elif rest.startswith("encoded_norm."):
            carried[f"{prefix}.keep_write.{rest}"] = tensor
    return carried


def _resized_stm_init(state: dict[str, torch.Tensor], config: RxTConfig) -> dict[str, torch.Tensor]:
    """A learned initial memory resized to `config.stm_slots`: tiled (or cut), so every slot still
    looks like "nothing kept yet" to the decoder. For the keep write the slot count is only the
    queue's length (session 21: 128 -> 512 slots, no training, held-out recall 9-16 +9 points)."""
    init = state.get("stm_init")
    if init is None or init.shape[1] == config.stm_slots:
        return {}
    repeats = -(-config.stm_slots // init.shape[1])
    return {"stm_init": init.repeat(1, repeats, 1)[:, : config.stm_slots]}


def _summary(names: list[str]) -> str:
    """The distinct module prefixes (two levels) of `names`, for a one-line log."""
    return ", ".join(sorted({".".join(n.split(".")[:2]) for n in names})) or "none"
