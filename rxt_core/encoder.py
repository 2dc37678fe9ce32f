"""The Memory Encoder: reads the finished interaction `[Q] query [A] answer [EOS]` and returns
every layer's hidden states, ED_t = {ed_1..ed_L}; ed_l feeds STM layer l."""

from __future__ import annotations

import torch
from torch import nn

from .blocks import EncoderBlock
from .config import RxTConfig
from .norm import RMSNorm
from .rope import RotaryEmbedding


class MemoryEncoder(nn.Module):
    def __init__(self, config: RxTConfig, rope: RotaryEmbedding):
        super().__init__()
        self.blocks = nn.ModuleList(EncoderBlock(config, rope) for _ in range(config.layers))
        self.norm = RMSNorm(config.dim, config.norm_eps)  # only for the training-time MLM head

    def forward(self, x: torch.Tensor, positions: torch.Tensor, key_mask: torch.Tensor) -> list[torch.Tensor]:
        states = []
        for block in self.blocks:
            x = block(x, positions, key_mask)
            states.append(x)
        return states
