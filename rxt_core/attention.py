"""Attention layers: MHA, GQA and Sparse Query Attention (SQA) from one head layout.

The head layout (`AttentionConfig`) only changes projection shapes: queries use
`query_heads * head_dim` columns, keys/values `kv_heads * head_dim`, and SDPA's grouped-query
mode shares each K/V head among `query_heads / kv_heads` query heads. With SQA
(query_heads < heads) the score and output FLOPs shrink by heads / query_heads.

- `SelfAttention`: fused QKV projection, RoPE on queries and keys, causal or padded-bidirectional,
  with a per-row KV cache for incremental decoding.
- `Attention`: queries from one sequence, keys/values from another (memory cross-attention,
  memory attention), RoPE optional on each side.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from .config import AttentionConfig
from .rope import RotaryEmbedding


def _split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """[B, T, heads*hd] -> [B, heads, T, hd]."""
    b, t, _ = x.shape
    return x.view(b, t, heads, -1).transpose(1, 2)


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    b, h, t, d = x.shape
    return x.transpose(1, 2).reshape(b, t, h * d)


class Rotation(NamedTuple):
    """RoPE factors of one set of positions, broadcastable to [B, heads, T, head_dim].

    Every layer (and both attentions of a decoder layer) rotates by the same positions, so a
    forward pass looks the tables up once and shares them: rotating is then 4 element-wise ops.
    `x * cos + roll(x) * sin` with cos = [cos, cos] and sin = [-sin, sin] is exactly
    `RotaryEmbedding.forward`'s [x1*cos - x2*sin, x2*cos + x1*sin]."""

    cos: torch.Tensor
    sin: torch.Tensor

    @classmethod
    def of(cls, rope: RotaryEmbedding, positions: torch.Tensor, dtype: torch.dtype) -> Rotation:
        cos, sin = rope.cos[positions], rope.sin[positions]  # [B, T, head_dim / 2]
        both = torch.cat((cos, cos, -sin, sin), dim=-1).unsqueeze(1).to(dtype)
        return cls(*both.chunk(2, dim=-1))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.cos + x.roll(x.shape[-1] // 2, dims=-1) * self.sin


def attend(q, k, v, mask: torch.Tensor | None = None, causal: bool = False) -> torch.Tensor:
    """SDPA with grouped K/V heads. `mask` is boolean, True = may attend, broadcastable to
    [B, heads, Tq, Tk]."""
    grouped = q.shape[1] != k.shape[1]
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal, enable_gqa=grouped)


class SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: AttentionConfig, head_dim: int, rope: RotaryEmbedding):
        super().__init__()
        self.q_heads, self.kv_heads, self.head_dim = heads.query_heads, heads.kv_heads, head_dim
        self.q_size, self.kv_size = heads.query_heads * head_dim, heads.kv_heads * head_dim
        self.qkv = nn.Linear(dim, self.q_size + 2 * self.kv_size, bias=False)
        self.out = nn.Linear(self.q_size, dim, bias=False)
        self.rope = rope

    def _project(self, x: torch.Tensor, positions: torch.Tensor, rotation: Rotation | None = None):
        """Q, K, V heads [B, heads, T, head_dim]. The fused projection's columns are the query,
        key and value heads in order, so one view splits them all and one rotation covers the
        query and key heads together."""
        b, t, _ = x.shape
        heads = self.qkv(x).view(b, t, -1, self.head_dim).transpose(1, 2)
        rotation = Rotation.of(self.rope, positions, x.dtype) if rotation is None else rotation
        qk = rotation(heads[:, : self.q_heads + self.kv_heads])
        q, k = qk.split((self.q_heads, self.kv_heads), dim=1)
        return q, k, heads[:, self.q_heads + self.kv_heads :]

    def forward(
        self,
        x: torch.Tensor,
        positions: torch.Tensor,
        causal: bool,
        key_mask: torch.Tensor | None = None,
        rotation: Rotation | None = None,
    ) -> torch.Tensor:
        """Whole-sequence attention (training, encoder, stateless prefill without cache).
        `key_mask` [B, T] marks real (non-padding) tokens for bidirectional attention.
        `rotation`: the RoPE factors of `positions` when the caller already has them."""
        q, k, v = self._project(x, positions, rotation)
        mask = key_mask[:, None, None, :] if key_mask is not None else None
        return self.out(_merge_heads(attend(q, k, v, mask=mask, causal=causal)))

    def prefill(
        self, x: torch.Tensor, positions: torch.Tensor, cache: KVCache, rotation: Rotation | None = None
    ) -> torch.Tensor:
        """Causal attention over a right-padded prompt; writes its K/V at cache columns 0..T-1."""
        q, k, v = self._project(x, positions, rotation)
        cache.k[:, :, : x.shape[1]] = k
        cache.v[:, :, : x.shape[1]] = v
        return self.out(_merge_heads(attend(q, k, v, causal=True)))

    def decode(
        self,
        x: torch.Tensor,
        positions: torch.Tensor,
        span: int,
        cache: KVCache,
        rotation: Rotation | None = None,
    ) -> torch.Tensor:
        """One new token per row. Row b's cache holds positions[b, 0] tokens; the new token is
        written at that column (its position) and attends to columns 0..positions[b, 0]. `span`
        is the host-side max(positions) + 1, so only the used part of the cache is read."""
        q, k, v = self._project(x, positions, rotation)
        if x.shape[0] == 1:  # one row: it writes column span - 1 and may read all `span` columns
            cache.k.narrow(2, span - 1, 1).copy_(k)
            cache.v.narrow(2, span - 1, 1).copy_(v)
            visible = None
        else:
            lengths = positions[:, 0]
            rows = torch.arange(x.shape[0], device=x.device)
            # an index put does not cast: under autocast K (after RoPE) and V can differ in dtype
            cache.k[rows, :, lengths] = k[:, :, 0].to(cache.k.dtype)
            cache.v[rows, :, lengths] = v[:, :, 0].to(cache.v.dtype)
            visible = (torch.arange(span, device=x.device) <= lengths.unsqueeze(1))[:, None, None, :]
        out = attend(q, cache.k.narrow(2, 0, span), cache.v.narrow(2, 0, span), mask=visible)
        return self.out(_merge_heads(out))


class Attention(nn.Module):
    """Queries from `x`, keys/values from `source` (memory slots or encoded data)."""

    def __init__(
        self,
        dim: int,
        heads: AttentionConfig,
        head_dim: int,
        rope: RotaryEmbedding | None = None,
        rope_queries: bool = False,
        rope_keys: bool = False,
    ):
        super().__init__()
        self.q_heads, self.kv_heads = heads.query_heads, heads.kv_heads
        self.kv_size = heads.kv_heads * head_dim
        self.q = nn.Linear(dim, heads.query_heads * head_dim, bias=False)
        self.kv = nn.Linear(dim, 2 * self.kv_size, bias=False)
        self.out = nn.Linear(heads.query_heads * head_dim, dim, bias=False)
        if (rope_queries or rope_keys) and rope is None:
            raise ValueError("rope_queries/rope_keys need a RotaryEmbedding")
        self.rope, self.rope_queries, self.rope_keys = rope, rope_queries, rope_keys

    def project_source(self, source: torch.Tensor, positions: torch.Tensor | None = None):
        """K/V heads of `source` [B, S, D]. Memory cross-attention calls this once per turn."""
        k, v = self.kv(source).split((self.kv_size, self.kv_size), dim=-1)
        k = _split_heads(k, self.kv_heads)
        if self.rope_keys:
            k = self.rope(k, positions)
        return k, _split_heads(v, self.kv_heads)

    def forward(
        self,
        x: torch.Tensor,
        kv: tuple[torch.Tensor, torch.Tensor],
        positions: torch.Tensor | None = None,
        key_mask: torch.Tensor | None = None,
        rotation: Rotation | None = None,
    ) -> torch.Tensor:
        """`rotation`: the RoPE factors of `positions` when the caller already has them."""
        q = _split_heads(self.q(x), self.q_heads)
        if self.rope_queries:
            q = self.rope(q, positions) if rotation is None else rotation(q)
        mask = key_mask[:, None, None, :] if key_mask is not None else None
        return self.out(_merge_heads(attend(q, kv[0], kv[1], mask=mask)))

    def weights(
        self, x: torch.Tensor, keys: torch.Tensor, positions: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The attention probabilities `forward` would use (SDPA does not return them), [B,
        query_heads, T, S], for `x` [B, T, D] over `keys` [B, kv_heads, S, head_dim] (no key mask):
        what read supervision scores."""
        q = _split_heads(self.q(x), self.q_heads)
        if self.rope_queries:
            q = self.rope(q, positions)
        keys = keys.repeat_interleave(self.q_heads // self.kv_heads, dim=1)  # SDPA's GQA grouping
        return (q @ keys.transpose(-1, -2) * q.shape[-1] ** -0.5).float().softmax(dim=-1)


class KVCache:
    """Pre-allocated self-attention K/V of one layer: [batch, kv_heads, capacity, head_dim]."""

    def __init__(self, k: torch.Tensor, v: torch.Tensor):
        self.k, self.v = k, v

    @classmethod
    def empty(cls, batch: int, kv_heads: int, capacity: int, head_dim: int, device, dtype) -> KVCache:
        shape = (batch, kv_heads, capacity, head_dim)
        return cls(
            torch.zeros(shape, device=device, dtype=dtype), torch.zeros(shape, device=device, dtype=dtype)
        )
