"""Transformer layers of the decoder and the encoder (pre-norm residual blocks)."""

from __future__ import annotations

import torch
from torch import nn

from .attention import Attention, KVCache, Rotation, SelfAttention
from .config import RxTConfig
from .ffn import SwiGLU
from .moe import MoEFeedForward
from .norm import RMSNorm
from .rope import RotaryEmbedding


class DecoderBlock(nn.Module):
    """Masked self-attention -> memory cross-attention (RxT only) -> MoE or dense FFN.

    Memory cross-attention rotates the decoder's queries with RoPE but never the memory keys:
    memory slots have no order."""

    def __init__(self, config: RxTConfig, rope: RotaryEmbedding, reads_memory: bool):
        super().__init__()
        d, eps = config.dim, config.norm_eps
        self.self_norm = RMSNorm(d, eps)
        self.self_attention = SelfAttention(d, config.attention, config.head_dim, rope)
        self.reads_memory = reads_memory
        if reads_memory:
            self.memory_norm = RMSNorm(d, eps)
            self.memory_source_norm = RMSNorm(d, eps)
            self.memory_attention = Attention(
                d, config.attention, config.head_dim, rope=rope, rope_queries=True
            )
        self.ffn_norm = RMSNorm(d, eps)
        self.ffn = (
            MoEFeedForward(d, config.moe) if config.decoder_moe else SwiGLU(d, config.decoder_ffn_hidden)
        )

    def project_memory(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Memory K/V [B, kv_heads, M, head_dim]: computed once per turn, reused every token —
        so laid out contiguously once here (attention over strided K/V copies them every step)."""
        k, v = self.memory_attention.project_source(self.memory_source_norm(memory))
        return k.contiguous(), v.contiguous()

    def forward(
        self,
        x: torch.Tensor,
        positions: torch.Tensor,
        memory_kv: tuple[torch.Tensor, torch.Tensor] | None = None,
        memory_mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
        decode_span: int | None = None,
        rotation: Rotation | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Without a cache: causal attention over the whole sequence (training). With a cache and
        no `decode_span`: prompt prefill. With both: one decode step per row. `rotation`: the
        RoPE factors of `positions`, shared by all layers (computed here when not given)."""
        if rotation is None:
            rotation = Rotation.of(self.self_attention.rope, positions, x.dtype)
        h = self.self_norm(x)
        if cache is None:
            x = x + self.self_attention(h, positions, causal=True, rotation=rotation)
        elif decode_span is None:
            x = x + self.self_attention.prefill(h, positions, cache, rotation)
        else:
            x = x + self.self_attention.decode(h, positions, decode_span, cache, rotation)
        if self.reads_memory:
            x = x + self.memory_attention(
                self.memory_norm(x), memory_kv, positions, key_mask=memory_mask, rotation=rotation
            )
        out = self.ffn(self.ffn_norm(x))
        if isinstance(out, tuple):
            return x + out[0], out[1]
        return x + out, x.new_zeros(())


class EncoderBlock(nn.Module):
    """Bidirectional self-attention -> dense SwiGLU FFN."""

    def __init__(self, config: RxTConfig, rope: RotaryEmbedding):
        super().__init__()
        d, eps = config.dim, config.norm_eps
        self.attention_norm = RMSNorm(d, eps)
        self.attention = SelfAttention(d, config.attention, config.head_dim, rope)
        self.ffn_norm = RMSNorm(d, eps)
        self.ffn = SwiGLU(d, config.encoder_ffn_hidden)

    def forward(self, x: torch.Tensor, positions: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.attention_norm(x), positions, causal=False, key_mask=key_mask)
        return x + self.ffn(self.ffn_norm(x))
