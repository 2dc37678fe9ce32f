"""The decoder stack shared by the Generator-Decoder (reads memory) and `StatelessLM` (does not)."""

from __future__ import annotations

import torch
from torch import nn

from .attention import KVCache, Rotation
from .blocks import DecoderBlock
from .config import RxTConfig
from .norm import RMSNorm
from .rope import RotaryEmbedding


class Decoder(nn.Module):
    def __init__(self, config: RxTConfig, rope: RotaryEmbedding, reads_memory: bool):
        super().__init__()
        self.blocks = nn.ModuleList(DecoderBlock(config, rope, reads_memory) for _ in range(config.layers))
        self.norm = RMSNorm(config.dim, config.norm_eps)
        self.reads_memory = reads_memory
        self.rope = rope

    def project_memory(self, memory: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """memory [B, layers, M, D] -> one (K, V) pair per block."""
        return [block.project_memory(memory[:, i]) for i, block in enumerate(self.blocks)]

    def forward(
        self,
        x: torch.Tensor,
        positions: torch.Tensor,
        memory_kv: list | None = None,
        memory_mask: torch.Tensor | None = None,
        caches: list[KVCache] | None = None,
        decode_span: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (normed hidden states, summed MoE auxiliary loss)."""
        rotation = Rotation.of(self.rope, positions, x.dtype)  # the same for every layer
        aux = []
        for i, block in enumerate(self.blocks):
            x, block_aux = block(
                x,
                positions,
                memory_kv[i] if memory_kv is not None else None,
                memory_mask,
                caches[i] if caches is not None else None,
                decode_span,
                rotation,
            )
            aux.append(block_aux)
        return self.norm(x), torch.stack(aux).sum()
