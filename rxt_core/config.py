"""Typed model configuration and named presets.

One `RxTConfig` describes a whole Reactive Transformer (decoder, encoder, memory attention,
STM); `StatelessLM` reads the decoder fields of the same object, so a baseline is built from
exactly the same blocks.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

AttentionKind = Literal["mha", "gqa", "sqa"]
MemoryAttentionVariant = Literal["simple", "self", "interlayer", "gated-self-interlayer"]
MemoryWrite = Literal["gated", "slot", "keep"]
GateActivation = Literal["sigmoid", "tanh"]
GateKind = Literal["static", "per-slot", "per-feature", "linear"]
StmInit = Literal["zeros", "normal", "learned"]


class AttentionConfig(BaseModel):
    """Head layout of one attention layer.

    `heads` sets the head width (dim // heads). MHA: query_heads = kv_heads = heads.
    GQA: query_heads = heads, kv_heads < heads. SQA: query_heads < heads (fewer query heads
    cut the score FLOPs by heads / query_heads), kv_heads <= query_heads.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    heads: int = 8
    query_heads: int = 4
    kv_heads: int = 2

    @property
    def kind(self) -> AttentionKind:
        if self.query_heads < self.heads:
            return "sqa"
        return "mha" if self.kv_heads == self.heads else "gqa"

    @model_validator(mode="after")
    def _check(self) -> AttentionConfig:
        if not (1 <= self.kv_heads <= self.query_heads <= self.heads):
            raise ValueError(
                f"need 1 <= kv_heads ({self.kv_heads}) <= query_heads ({self.query_heads}) "
                f"<= heads ({self.heads})"
            )
        if self.query_heads % self.kv_heads:
            raise ValueError(
                f"query_heads ({self.query_heads}) must be a multiple of kv_heads ({self.kv_heads})"
            )
        return self


class MoEConfig(BaseModel):
    """Mixture-of-Experts SwiGLU FFN: `experts` routed experts, `top_k` active per token, plus
    `shared_experts` that every token uses."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    experts: int = 4
    top_k: int = 2
    shared_experts: int = 1
    expert_hidden: int = 512
    aux_loss_weight: float = 0.01

    @model_validator(mode="after")
    def _check(self) -> MoEConfig:
        if not 1 <= self.top_k <= self.experts:
            raise ValueError(f"top_k ({self.top_k}) must be in 1..experts ({self.experts})")
        return self


class GateConfig(BaseModel):
    """Residual gate of a memory write: STM' = (1-G)*old + G*update (sigmoid, a convex mix) or
    (1-G)*old + (1+G)*update (tanh). `kind`: one learned scalar (static), one per slot, one per
    feature, or computed from [old, update] by a linear layer (dynamic, per slot and feature)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    activation: GateActivation = "sigmoid"
    kind: GateKind = "linear"
    init_bias: float = -1.0


class RxTConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    vocab_size: int = 8192
    max_seq_len: int = 256
    dim: int = 256
    layers: int = 6
    attention: AttentionConfig = AttentionConfig()
    moe: MoEConfig = MoEConfig()
    decoder_moe: bool = True
    decoder_ffn_hidden: int = 768  # used when decoder_moe is False
    encoder_ffn_hidden: int = 768
    stm_slots: int = 512
    stm_init: StmInit = "learned"
    stm_init_std: float = 0.02
    memory_attention: MemoryAttentionVariant = "interlayer"
    gate: GateConfig = GateConfig()
    # the write step after the variant's pre-step: "gated" = the paper's attention + residual gate,
    # "slot" = tokens compete for slots and a turn rewrites only the slots it was handed
    # (slot_write.py; `gate` then applies to the pre-step only), "keep" = the salient tokens
    # themselves, one per slot, newest first (keep_write.py; simple memory attention only)
    memory_write: MemoryWrite = "gated"
    # the keep write keeps a token when its salience logit exceeds this: higher keeps fewer tokens a
    # turn, so what is kept stays longer (a decision threshold only: training's loss ignores it)
    keep_threshold: float = 0.0
    # the keep write only: the STM also stores each slot's token id, and the decoder may copy a
    # token from memory by pointing at its slot (memory_pointer.py)
    memory_pointer: bool = False
    # what the pointer's copy gate reads: "hidden", the decoder's hidden state only; "agreement",
    # also how the vocabulary head rates the pointer's pick; "agreement+follow", also how much of
    # the pointer's choice the follow bonus made (needs pointer_follows); "agreement+query", also how
    # much of it went to the slots the query just wrote, alone and times the head's disagreement
    # (needs pointer_reads_query; memory_pointer.CopyGate)
    pointer_gate: Literal["hidden", "agreement", "agreement+follow", "agreement+query"] = "hidden"
    # the pointer also favours the slot after one holding the token just read (memory_pointer.py's
    # SlotPointer): kept tokens sit in their order, so a copied value goes on where it went on
    pointer_follows: bool = False
    # the follow bonus also depends on where the decoder is (β + w · h): following a run is right
    # inside a value and misleading where the answer's phrasing matches another fact's statement
    pointer_follow_context: bool = False
    # the pointer also reads the query being answered, written into a copy of the STM as the keep
    # write will write it after the turn: it can copy a value the user just stated (memory_pointer.py)
    pointer_reads_query: bool = False
    # the STM's id layer also marks the slots a user's query wrote (not a model's answer), and the
    # pointer learns a bonus for them: a recall should copy the user's spelling of a value, not the
    # model's own acknowledgement of it, which may be misspelt (memory_pointer.SlotPointer)
    pointer_source: bool = False
    # the pointer favours newer slots by a parameter times -log(1 + slot index) (the keep write's
    # slots are newest first; the bundled 4y's is set to 2): a corrected value is in memory beside
    # the value it corrects
    pointer_recency: bool = False
    # the recency bonus also depends on where the decoder is (ρ + w · h): newer is right where a
    # value starts (which of two statements of a fact), wrong inside one (session 31)
    pointer_recency_context: bool = False
    # the recency bonus only breaks ties: it counts where the decoder starts a value, not where it
    # goes on with one (its follow bonus is weak), and as much as the pointer is torn between tokens
    # without it: a correction is told apart at the value's first token, an older run may go on,
    # and a pick the pointer is sure of keeps its probability (session 31; memory_pointer.SlotPointer)
    pointer_recency_ties: bool = False
    # the id layer stores a query's first token as its space-led twin ('Z' -> 'ĠZ', a table from the
    # tokenizer, word_pieces.py): a value that opens the user's sentence ("Zala is my cousin.") is
    # recalled mid-sentence, with the space, and the pointer can only copy ids memory holds
    pointer_space_twins: bool = False
    # the keep write keeps every piece of a word any of whose pieces it keeps (word_pieces.py): a
    # value kept without its first piece ("ho vel" of "Chovel") cannot be recalled
    keep_whole_words: bool = False
    # the slot write's allocation logits are multiplied by this: > 1 hands each token's attention
    # to fewer slots, so a slot holds fewer tokens (session 19: 2 gave +1-2 points of recall at eval
    # alone, but -8 when trained 45 min from the bundled model; docs/training.md)
    slot_write_sharpness: float = Field(1.0, gt=0)
    rope_on_encoded_keys: bool = True
    rope_theta: float = 10000.0
    norm_eps: float = 1e-6
    tie_embeddings: bool = True
    # Special token ids (the tokenizer reserves 0..5 in this order).
    pad_id: int = 0
    bos_id: int = 1
    eos_id: int = 2
    query_id: int = 3
    answer_id: int = 4
    mask_id: int = 5

    @property
    def head_dim(self) -> int:
        return self.dim // self.attention.heads

    @model_validator(mode="after")
    def _check(self) -> RxTConfig:
        if self.dim % self.attention.heads:
            raise ValueError(
                f"dim ({self.dim}) must be divisible by attention.heads ({self.attention.heads})"
            )
        if self.memory_write == "keep" and self.memory_attention != "simple":
            raise ValueError(
                f"memory_write 'keep' needs memory_attention 'simple' (a {self.memory_attention!r} "
                "pre-step would mix the kept tokens)"
            )
        if self.memory_pointer and self.memory_write != "keep":
            raise ValueError(
                f"memory_pointer needs memory_write 'keep' (a {self.memory_write!r} write mixes "
                "tokens in a slot, so a slot has no one token to copy)"
            )
        if self.pointer_gate == "agreement+follow" and not self.pointer_follows:
            raise ValueError("pointer_gate 'agreement+follow' reads the follow bonus: set pointer_follows")
        if self.pointer_gate == "agreement+query" and not self.pointer_reads_query:
            raise ValueError(
                "pointer_gate 'agreement+query' reads where the query's copy went: set pointer_reads_query"
            )
        marking = "pointer_gate 'agreement+query'" if self.pointer_gate == "agreement+query" else None
        marking = "pointer_source" if self.pointer_source else marking
        if marking and (self.vocab_size - 1).bit_length() + 2 > self.dim:
            raise ValueError(f"{marking} marks slots past the id bits: dim ({self.dim}) is too small")
        if self.pointer_space_twins and not self.memory_pointer:
            raise ValueError("pointer_space_twins is what the memory pointer copies: set memory_pointer")
        if self.keep_whole_words and self.memory_write != "keep":
            raise ValueError("keep_whole_words is a rule of the keep write: set memory_write 'keep'")
        if self.pointer_recency and not self.memory_pointer:
            raise ValueError("pointer_recency is a bonus of the memory pointer's: set memory_pointer")
        if self.pointer_source and not self.memory_pointer:
            raise ValueError("pointer_source is a bonus of the memory pointer's: set memory_pointer")
        if self.pointer_recency_ties and not (self.pointer_recency and self.pointer_follows):
            raise ValueError("pointer_recency_ties weighs the recency bonus by the follow bonus: set both")
        if self.pointer_recency_context and not self.pointer_recency:
            raise ValueError("pointer_recency_context scales the recency bonus: set pointer_recency")
        if self.pointer_follow_context and not self.pointer_follows:
            raise ValueError("pointer_follow_context scales the follow bonus: set pointer_follows")
        if self.pointer_reads_query and not self.memory_pointer:
            raise ValueError("pointer_reads_query is what the memory pointer reads: set memory_pointer")
        if self.memory_pointer and (self.vocab_size - 1).bit_length() > self.dim:
            raise ValueError(f"memory_pointer spells token ids in binary: dim ({self.dim}) is too small")
        if self.head_dim % 2:
            raise ValueError(f"head dim ({self.head_dim}) must be even for RoPE")
        specials = [self.pad_id, self.bos_id, self.eos_id, self.query_id, self.answer_id, self.mask_id]
        if len(set(specials)) != len(specials) or max(specials) >= self.vocab_size:
            raise ValueError(f"special token ids {specials} must be distinct and < vocab_size")
        return self


PRESETS: dict[str, RxTConfig] = {
    # Unit tests: a few hundred thousand parameters, every code path on.
    "tiny": RxTConfig(
        vocab_size=512,
        max_seq_len=64,
        dim=64,
        layers=2,
        attention=AttentionConfig(heads=4, query_heads=2, kv_heads=1),
        moe=MoEConfig(experts=4, top_k=2, shared_experts=1, expert_hidden=64),
        encoder_ffn_hidden=128,
        stm_slots=16,
    ),
    # The bundled model: ~10M parameters, trainable on a 2-core CPU in under an hour.
    "nano": RxTConfig(
        vocab_size=4096,
        max_seq_len=256,
        dim=192,
        layers=4,
        attention=AttentionConfig(heads=6, query_heads=6, kv_heads=2),
        moe=MoEConfig(experts=4, top_k=2, shared_experts=1, expert_hidden=384),
        encoder_ffn_hidden=576,
        stm_slots=64,
    ),
    # The latency benchmark's model (issue: 6 layers, dim 256, SQA 8/4/2, 4-expert top-2 MoE +
    # 1 shared expert of hidden 512, dense encoder FFN 768, STM 6 x 512, vocab 8192, 256 positions).
    "bench-22m": RxTConfig(),
}


def preset(name: str, **overrides) -> RxTConfig:
    """A named preset, optionally with top-level fields replaced."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return RxTConfig(**{**PRESETS[name].model_dump(), **overrides})


__all__ = [
    "AttentionConfig",
    "GateConfig",
    "MoEConfig",
    "PRESETS",
    "RxTConfig",
    "preset",
]
