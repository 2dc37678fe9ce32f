"""Residual gates for memory writes (paper Eq. 3 and 4).

sigmoid: STM' = (1 - G) * old + G * update, G in (0, 1): a convex mix, so memory magnitudes
         cannot explode (the paper's recommendation).
tanh:    STM' = (1 - G) * old + (1 + G) * update, G in (-1, 1).

Where G comes from (`GateConfig.kind`):
- static:      one learned scalar per gate;
- per-slot:    one learned scalar per memory slot, the same for every feature;
- per-feature: one learned scalar per feature dimension, the same for every slot;
- linear:      dynamic, G = act(W [old; update] + b), per slot and feature.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import GateConfig


class ResidualGate(nn.Module):
    def __init__(self, dim: int, slots: int, config: GateConfig):
        super().__init__()
        self.config = config
        if config.kind == "linear":
            self.proj = nn.Linear(2 * dim, dim)
            nn.init.normal_(self.proj.weight, std=0.02)
            nn.init.constant_(self.proj.bias, config.init_bias)
        else:
            shape = {"static": (1,), "per-slot": (slots, 1), "per-feature": (dim,)}[config.kind]
            self.logit = nn.Parameter(torch.full(shape, config.init_bias))

    def gate(self, old: torch.Tensor, update: torch.Tensor) -> torch.Tensor:
        """G after the activation, broadcastable to `old`."""
        if self.config.kind == "linear":
            logits = self.proj(torch.cat((old, update), dim=-1))
        else:
            logits = self.logit
        return torch.sigmoid(logits) if self.config.activation == "sigmoid" else torch.tanh(logits)

    def write_weight(self, old: torch.Tensor, update: torch.Tensor) -> torch.Tensor:
        """How much of each entry the gate replaces (sigmoid: G; what write_retention tracks)."""
        return self.gate(old, update)

    def forward(self, old: torch.Tensor, update: torch.Tensor) -> torch.Tensor:
        g = self.gate(old, update)
        if self.config.activation == "sigmoid":
            return old + g * (update - old)  # == (1 - g) * old + g * update
        return (1 - g) * old + (1 + g) * update
