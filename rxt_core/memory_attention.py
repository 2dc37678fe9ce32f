"""The Memory Attention network: writes the encoded interaction ED_t into STM_{t-1}.

Every variant ends with the paper's Eq. 2 + 3, per STM layer l:
    Update = Attention(Q = STM_l, K = V = ED_l);  STM_l' = Gate(H_l, Update)
and differs in the step that produces H_l from STM_{t-1} before it ("pre-step"):
- simple:                H_l = STM_l (no pre-step);
- self:                  H_l = Gate_pre(STM_l, Attention(Q = STM_l, K = V = STM_l)) — slots
                         reorganise among themselves;
- interlayer:            H_l = Gate_pre(STM_l, Attention(Q = STM_l, K = V = mean of the *other*
                         layers)) — reduces redundancy across layers;
- gated-self-interlayer: source = Gate_mix(STM_l, mean of other layers) (both at once),
                         H_l = Gate_pre(STM_l, Attention(Q = STM_l, K = V = source)).
Every step that writes into the memory goes through a residual gate (the paper puts one after
every memory attention layer): an ungated pre-step (H_l = STM_l + Attention) adds a nearly
constant vector to every slot at each turn, and in training the STM's norm grew 29 -> 41 -> 52
over three updates until one shared component was 98% of it (docs/training.md).
With `memory_write = "slot"` the final step is instead the slot-allocating write of
slot_write.py (tokens compete for slots; a slot handed nothing keeps its content exactly), and
with `memory_write = "keep"` the token-keeping write of keep_write.py (the salient tokens
themselves, one per slot, newest first; it needs the simple variant, whose pre-step would mix them;
with `memory_pointer` the STM's extra id layer is moved by the same order, memory_pointer.py).
Slots have no order, so nothing rotates the slots; RoPE rotates only the keys of ED (which is a
sequence) when `rope_on_encoded_keys` is set.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .attention import Attention
from .config import RxTConfig
from .gates import ResidualGate
from .keep_write import KeepWrite, Salience, keep, keep_order
from .norm import RMSNorm
from .rope import RotaryEmbedding
from .slot_write import SlotWrite

PRE_STEP_SOURCE = {
    "simple": None,
    "self": "self",
    "interlayer": "other-layers",
    "gated-self-interlayer": "gated-mix",
}


class MemoryAttentionLayer(nn.Module):
    def __init__(self, config: RxTConfig, rope: RotaryEmbedding):
        super().__init__()
        d, slots, eps = config.dim, config.stm_slots, config.norm_eps
        self.variant = config.memory_attention
        self.pre_source = PRE_STEP_SOURCE[self.variant]
        if self.pre_source is not None:
            self.pre_norm = RMSNorm(d, eps)
            self.pre_source_norm = RMSNorm(d, eps)
            self.pre_attention = Attention(d, config.attention, config.head_dim)
            self.pre_gate = ResidualGate(d, slots, config.gate)
        if self.pre_source == "gated-mix":
            self.source_gate = ResidualGate(d, slots, config.gate)
        self.slot_write = SlotWrite(config, rope) if config.memory_write == "slot" else None
        self.keep_write = KeepWrite(config) if config.memory_write == "keep" else None
        if config.memory_write == "gated":
            self.query_norm = RMSNorm(d, eps)
            self.encoded_norm = RMSNorm(d, eps)
            self.attention = Attention(
                d, config.attention, config.head_dim, rope=rope, rope_keys=config.rope_on_encoded_keys
            )
            self.gate = ResidualGate(d, slots, config.gate)

    @property
    def write_gate(self) -> nn.Module:
        """The module whose output is the layer's new STM (its inputs give the write weights)."""
        if self.keep_write is not None:
            raise ValueError("the keep write has no write weights: it moves slots, it does not mix them")
        return self.gate if self.slot_write is None else self.slot_write.gate

    def _pre_step(self, stm: torch.Tensor, others: torch.Tensor) -> torch.Tensor:
        if self.pre_source is None:
            return stm
        source = {"self": stm, "other-layers": others}.get(self.pre_source)
        if source is None:
            source = self.source_gate(stm, others)
        kv = self.pre_attention.project_source(self.pre_source_norm(source))
        attended = self.pre_attention(self.pre_norm(stm), kv)
        return self.pre_gate(stm, attended)

    def forward(self, stm, others, encoded, encoded_positions, encoded_mask, order=None):
        """`order`: the keep write's slot order (keep_write.keep_order), shared by every layer."""
        if self.keep_write is not None:
            return self.keep_write(stm, encoded, order)
        h = self._pre_step(stm, others)
        if self.slot_write is not None:
            return self.slot_write(h, encoded, encoded_positions, encoded_mask)
        kv = self.attention.project_source(self.encoded_norm(encoded), encoded_positions)
        update = self.attention(self.query_norm(h), kv, key_mask=encoded_mask)
        return self.gate(h, update)


class MemoryAttention(nn.Module):
    def __init__(self, config: RxTConfig, rope: RotaryEmbedding):
        super().__init__()
        self.layers = nn.ModuleList(MemoryAttentionLayer(config, rope) for _ in range(config.layers))
        self.salience = Salience(config) if config.memory_write == "keep" else None
        self.keep_threshold = config.keep_threshold

    def forward(
        self,
        stm: torch.Tensor,
        encoded: list[torch.Tensor],
        encoded_positions: torch.Tensor,
        encoded_mask: torch.Tensor,
        token_rows: torch.Tensor | None = None,
        layers: Sequence[int] | None = None,
        continues: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """stm [B, L, S, D]; encoded: L tensors [B, T, D]; mask [B, T] (True = real token).
        `continues` [B, T]: the keep write keeps whole words (keep_write.keep_order).
        With `token_rows` [B, T, D] (the interaction's token ids, memory_pointer.id_rows) the STM
        has one more layer, the memory pointer's ids, which keeps those rows in the keep order.
        `layers` (default: all) writes only those content layers, in that order, and returns
        them (and the ids) alone: a reader of one layer need not pay for the others."""
        n = len(self.layers)
        # the mean of the other layers: only the interlayer pre-steps read it
        total = stm[:, :n].sum(dim=1) if self.layers[0].pre_source in ("other-layers", "gated-mix") else None
        order = None
        if self.salience is not None:
            salience = self.salience(encoded[-1])
            order = keep_order(salience, encoded_mask, stm.shape[2], self.keep_threshold, continues)
        new_layers = []
        for i in range(n) if layers is None else layers:
            own = stm[:, i]
            others = own if total is None or n == 1 else (total - own) / (n - 1)
            new_layers.append(self.layers[i](own, others, encoded[i], encoded_positions, encoded_mask, order))
        if token_rows is not None:
            new_layers.append(keep(token_rows, stm[:, n], order))
        return torch.stack(new_layers, dim=1)
