"""Slot-allocating memory write (`RxTConfig.memory_write = "slot"`): the interaction's tokens
compete for the STM slots, so a turn rewrites a few slots and leaves the rest exactly as they were.

The paper's write (Eq. 2-3) lets every slot attend over the encoded interaction (softmax over the
tokens) and mixes the result in through a gate, so every slot receives an update at every turn.
Session 6 measured the consequence on the bundled model: the gates open on the same entries turn
after turn and 70% of a write is gone one turn later; soft penalties on the gate only made the
writes smaller. Here the softmax runs the other way, over the slots (the idea of Slot Attention,
Locatello et al. 2020): per head h, each token of ED_l hands out one unit of attention among the
S slots and N learned "null" slots that store nothing (where filler tokens can go). A slot's
write weight grows with the attention mass it was handed; its update is the mass-weighted mean of
the values it was handed:

    A = softmax over slots + nulls of  Q(STM_l) K(ED_l)^T / sqrt(head_dim)      [H, S + N, T]
    mass_s = sum_t A[s, t] (real tokens only);   U_s = sum_t A[s, t] V_t / mass_s
    W_s = 1 - exp(-rate_h * mass_s);             STM_l' = STM_l + W_s * (U_s - STM_l)

per head and slot, on that head's head_dim features of the slot (no output projection: a slot's
features are the heads' value spaces, so each head's write lands on its own features and the
write stays a convex mix). A slot handed no mass keeps its content exactly. The heads are
`attention.heads` with head_dim = dim / heads; the SQA/GQA layout (query_heads, kv_heads) shapes
the gated write only.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .attention import Rotation, _merge_heads, _split_heads
from .config import RxTConfig
from .norm import RMSNorm
from .rope import RotaryEmbedding

NULL_SLOTS = 8  # per head: enough room for every token of a turn to be dropped


class AllocatedGate(nn.Module):
    """Applies the write weights: new = old + W * (update - old). A module of its own so the write
    can be observed (write_retention hooks it, as it hooks the residual gates)."""

    def forward(self, old: torch.Tensor, update: torch.Tensor, write: torch.Tensor) -> torch.Tensor:
        return old + write * (update - old)

    def write_weight(self, old: torch.Tensor, update: torch.Tensor, write: torch.Tensor) -> torch.Tensor:
        return write


class SlotWrite(nn.Module):
    def __init__(self, config: RxTConfig, rope: RotaryEmbedding):
        super().__init__()
        d = config.dim
        self.heads = config.attention.heads
        if d % self.heads:
            raise ValueError(f"the slot write needs dim ({d}) divisible by attention.heads ({self.heads})")
        head_dim = d // self.heads
        self.scale = head_dim**-0.5 * config.slot_write_sharpness
        self.query_norm = RMSNorm(d, config.norm_eps)
        self.encoded_norm = RMSNorm(d, config.norm_eps)
        self.query = nn.Linear(d, d, bias=False)
        self.key_value = nn.Linear(d, 2 * d, bias=False)
        self.null_queries = nn.Parameter(torch.randn(self.heads, NULL_SLOTS, head_dim) * 0.02)
        # softplus(rate_logit) = 1 at init: one token's full attention writes 63% of a slot's head
        self.rate_logit = nn.Parameter(torch.full((self.heads, 1, 1), math.log(math.e - 1)))
        self.rope = rope if config.rope_on_encoded_keys else None
        self.gate = AllocatedGate()

    def forward(
        self, stm: torch.Tensor, encoded: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """stm [B, S, D]; encoded [B, T, D]; positions, mask [B, T] (True = real token)."""
        share, values = self.allocate(stm, encoded, positions, mask)
        mass = share.sum(dim=-1, keepdim=True)  # [B, H, S, 1]
        update = (share @ values.float()) / (mass + 1e-4)  # mass-weighted mean of the values
        write = _merge_heads(self.write_weights(mass).expand_as(update))  # [B, S, D]: per head's features
        return self.gate(stm, _merge_heads(update).to(stm.dtype), write.to(stm.dtype))

    def allocate(
        self, stm: torch.Tensor, encoded: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """How each token hands out its attention: `share` [B, H, S, T] (fp32; the null slots' part
        dropped, padding zeroed) and the value heads [B, H, T, head_dim]."""
        b, slots, _ = stm.shape
        queries = _split_heads(self.query(self.query_norm(stm)), self.heads)
        queries = torch.cat((queries, self.null_queries.to(queries.dtype).expand(b, -1, -1, -1)), dim=2)
        keys, values = (
            _split_heads(x, self.heads) for x in self.key_value(self.encoded_norm(encoded)).chunk(2, -1)
        )
        if self.rope is not None:
            keys = Rotation.of(self.rope, positions, keys.dtype)(keys)
        scores = queries @ keys.transpose(-1, -2) * self.scale  # [B, H, S + N, T]
        share = scores.float().softmax(dim=2)[:, :, :slots] * mask[:, None, None, :]
        return share, values

    def write_weights(self, mass: torch.Tensor) -> torch.Tensor:
        """W = 1 - exp(-rate * mass) per head and slot."""
        return 1 - torch.exp(-F.softplus(self.rate_logit) * mass)

    def token_writes(
        self, stm: torch.Tensor, encoded: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Who wrote what (read supervision's ledger): [B, H, S, T] the share of each slot's new
        content (per head) that token t wrote, W * share / mass, and the write weights W [B, H, S]."""
        share, _ = self.allocate(stm, encoded, positions, mask)
        mass = share.sum(dim=-1, keepdim=True)
        write = self.write_weights(mass)
        return write * share / (mass + 1e-4), write.squeeze(-1)
