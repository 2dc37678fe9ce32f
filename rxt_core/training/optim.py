"""AdamW with linear warm-up and cosine decay; no weight decay on norms, biases and gates."""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import LoopConfig


def build_optimizer(params: list[tuple[str, nn.Parameter]], cfg: LoopConfig) -> torch.optim.AdamW:
    decay = [p for n, p in params if p.dim() >= 2 and "stm_init" not in n]
    no_decay = [p for n, p in params if not (p.dim() >= 2 and "stm_init" not in n)]
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.95))


def lr_factor(step: int, cfg: LoopConfig, seconds: float = 0.0) -> float:
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    if cfg.max_seconds is not None:
        progress = max(progress, seconds / cfg.max_seconds)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * cosine


def set_lr(optimizer: torch.optim.Optimizer, step: int, cfg: LoopConfig, seconds: float = 0.0) -> float:
    lr = cfg.lr * lr_factor(step, cfg, seconds)
    for group in optimizer.param_groups:
        group["lr"] = lr
    return lr
