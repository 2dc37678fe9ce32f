"""Copying from memory (`RxTConfig.memory_pointer`, the keep write only): the decoder may point at
a memory slot and say the token that slot holds, exactly.

Why: with the keep write every slot holds one token of an earlier interaction, yet the decoder
must still re-spell a recalled value from the slot's vector through its vocabulary head. On values
it never saw in training it gets 88% of first and 93% of later tokens right (session 24's probe,
bundled 4p), where a whole 3-token value needs every one; and a learned readout of a slot's token
from its vector gets only 84% of value tokens. So the slots' token ids are stored, and a pointer
copies them, as a pointer-generator network copies from its source text:

    z     = lm_head(h)                                           (the vocabulary logits)
    a     = softmax over filled slots s of  z[id_s] + q(h) · k(STM_{L-1}[s]) / sqrt(D)
    g     = sigmoid(10 (w · h + b))                     (w starts at 0, 10 b at -4: g ≈ 0.02)
    p(v)  = (1 - g) · softmax(z)[v]  +  g · Σ_{s : id_s = v} a_s

The slot score starts from the vocabulary head's own logit of the slot's token, so a new pointer
already is the vocabulary head restricted to the tokens in memory: where the head misspells an
unseen value (a wrong subword it prefers, the right one a little behind it and in memory), the
pointer prefers the right one. The learned match term q · k then tells apart the tokens in
memory by context. (Session 25's first pointer had the match term only: trained 50 steps, with
supervision, its top slot held the recalled token 3% -> ~46% of the time, too slow to help.)

Measured (docs/training.md "Session 25"): from 4p, 400 supervised stage-4 steps and then the gate's
logit shifted by -2 (the bundled 4q) lift held-out recall 1-8 turns back from 78.8% to 86.7% and
9-16 from 74.1% to 84.5% against the same steps without the pointer; unshifted, the gate copied too
eagerly and lost as much on values like the training ones as it gained on unseen ones.
Session 26 (bundled 4r): the gate and a follow bonus alone retrained from 4q (`pointer_gate=
"agreement"`, `pointer_follows`; 200 steps, every other weight frozen): held-out recall 1-8
86.7% -> 87.7% (second set 88.7% -> 89.7%), 9-16 84.5% -> 86.8% (83.8% -> 86.1%).
Session 27 (bundled 4s): the follow bonus alone retrained by context (`pointer_follow_context`,
200 steps with pointer supervision): 9-16 86.8% -> 88.5% (86.1% -> 87.9%), 1-8 87.7% -> 88.5%
(89.7% -> 89.3%); retraining β alone the same way (the control) changed nothing. Then the slot
pointer alone (query, key, bonus; 200 supervised steps; 4t, bundled in session 27): 1-8 89.6%
(89.1%), 9-16 90.2% (87.3%) — on a third held-out set, chosen by nothing, 4t's 1-8 is no better
than 4s's (85.3% vs 86.0%); 4s's 9-16 gain held there too (85.8% -> 87.3%).

Reading the query (`RxTConfig.pointer_reads_query`, session 28, bundled 4v): the pointer's slots
are those of a copy of the STM with the prompt's query written in, as the keep write will write it
after the turn (`ReactiveTransformer.memory_kv` with the prompts); the decoder's cross-attention
still reads the STM itself. Why: an answer repeats values its own query has just stated
("Hiveth is my boss." -> "Nice, Hiveth."), and the vocabulary head misspells an unseen one there
as it did in recalls (4t repeated 77% of them), and a misspelt acknowledgement is written to memory
beside the right value: 4t recalled 94% of the facts whose acknowledgement it got right and 74% of
the others (held-out set 0, 1-8 turns back). Only the pointer's copy gains the query's tokens, so
with a full memory the pointer cannot reach, for this turn, the oldest slots the turn's own write
will drop. Measured from 4t, the gate retrained alone (4u) and then the slot pointer alone with
supervision on the query's values too (4v): acknowledgements 77% -> 81% (set 0), recall 1-8 on
three held-out sets 89.6 / 89.1 / 85.3% -> 90.4 / 90.0 / 87.2% (41 questions fixed, 16 broken).

Whose copy to trust (`RxTConfig.pointer_source`, session 30, bundled 4x): every write marks the
slots a user's query wrote (FROM_USER, one feature past the id bits; it moves with its slot), and
the pointer adds a fixed FOLLOW_SCALE · σ to their scores. Why: 4w's misses of multi-word values
copy its own misspelt acknowledgement, which memory holds beside the user's right statement of the
value ("learn to play the drums" -> ack "... the kayums" -> recall "the kayums"): after "the" the
follow bonus favours both runs alike. The bonus is set (10 · σ = 10), not learned: stage 4 writes
reference acknowledgements, which always repeat the value right, and trained alone from 0 it
reached only 0.33 (0.91 / 1.07 with `--ack-noise 0.2 / 0.5`: random tokens, which the head's
logit in the score already rates low, unlike the model's own misspellings).
Which statement to trust (`pointer_recency` with `pointer_recency_ties`, session 31, bundled 4y):
newer slots break the pointer's ties where a value starts, so a corrected fact is recalled with
its newest value (set by hand at 2 per unit of -log(1 + slot index); trained alone from 0 it went
to 0.6 on 4w and -0.39 on 4x: stage 4's facts are mostly unchanged, older than the turns between).
Over seven held-out sets, recall 1-8 turns back 91.7% -> 92.1%, 9-16 91.6% -> 91.3%, answer
perplexity +0.2%.

The ids ride in the STM tensor itself, as one more layer after the L content layers: slot s of it
holds the id of the token the slot keeps in binary, one ±1 per bit in its first ceil(log2 V)
features (the pad id, all -1, while empty), moved by the same keep order as the content. Stored,
restored, forked and batched like the rest of the STM, nothing outside rxt_core has to know; ±1
is exact in fp16 and bf16 storage, and the code does not depend on any weight, so a model
fine-tuned later still reads the ids of sessions stored before.

The model's "logits" become log p: softmax, cross-entropy, temperature and top-k/p act on them
as on logits (softmax(log p) = p), so losses and sampling are unchanged.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .config import RxTConfig
from .norm import RMSNorm

GATE_INIT_BIAS = -4.0  # a new pointer barely speaks: a trained model continues as it was
GATE_SCALE = 10.0  # the gate's logit is this times w · h + b: it learns this much faster
FOLLOW_SCALE = 10.0  # the follow, source and recency bonuses are this times their parameters, likewise
# a follow bonus above this says the decoder is going on with a run (`pointer_recency_ties`):
# the bundled 4x's is ~1 at a recalled value's first token (median; 90% below 3.5) and ~8 inside
# one (10% below 4.8; session 31, teacher-forced held-out recalls)
GOING_ON = 4.0
WRITTEN_NOW, FROM_USER = 0, 1  # the marks after a slot's id bits (`slot_marks`)


def id_bits(vocab_size: int) -> int:
    """How many features of an id-layer slot spell a token id."""
    return max(1, (vocab_size - 1).bit_length())


def id_rows(ids: torch.Tensor, vocab_size: int, dim: int, dtype: torch.dtype) -> torch.Tensor:
    """[..., dim]: each id of `ids` [...] in binary, +1 for a set bit and -1 for a clear one, in
    the first `id_bits` features (the rest 0)."""
    bits = torch.arange(id_bits(vocab_size), device=ids.device)
    signs = ((ids[..., None] >> bits) & 1).to(dtype) * 2 - 1
    return F.pad(signs, (0, dim - len(bits)))


def slot_ids(id_layer: torch.Tensor, vocab_size: int, pad_id: int) -> torch.Tensor:
    """[B, S] token ids of the STM's id layer [B, S, D] (`id_rows` read back). A code past the
    vocabulary (a memory no write produced, e.g. random: 9 bits spell up to 511 for a vocabulary
    of 300) reads as `pad_id`, an empty slot, rather than an id the head has no logit for."""
    bits = torch.arange(id_bits(vocab_size), device=id_layer.device)
    ids = ((id_layer[..., : len(bits)] > 0).long() << bits).sum(-1)
    return ids.masked_fill(ids >= vocab_size, pad_id)


def slot_marks(id_layer: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """[B, S, 2] bool: the two marks after the id bits of an id layer [B, S, D]. WRITTEN_NOW: the
    query being answered wrote the slot (set in the pointer's transient copy only, for the
    "agreement+query" gate). FROM_USER: a user's query wrote it, not a model's answer
    (`pointer_source`; kept in the STM, so it ages with the slot)."""
    first = id_bits(vocab_size)
    return id_layer[..., first : first + 2] > 0


def strength(base: nn.Parameter, context: nn.Parameter | None, hidden: torch.Tensor) -> torch.Tensor:
    """A bonus's parameter, β or β + w · h per position ([B, T, 1]) where it reads the context."""
    if context is None:
        return base.float()
    return base.float() + (hidden.float() @ context.float())[..., None]


class SlotPointer(nn.Module):
    """Where the decoder points: a distribution over the filled slots, summed per token id into a
    copy distribution over the vocabulary. A module of its own so stage 4 can record its output
    and supervise it (`MemoryAwareConfig.pointer_weight`).
    `pointer_follows` (session 26) adds FOLLOW_SCALE · β to the score of every slot whose
    predecessor slot holds the token just read (β starts at 0). Why: a turn's kept tokens sit in
    their order, so the next token of a value being copied is in the slot after the last one
    copied, but the match term has no notion of order: 4q spelled held-out values by jumping
    between their tokens ("yelloward yellow" for "mustard yellow", "coastal pathal").
    `pointer_follow_context` (session 27) makes the bonus FOLLOW_SCALE · (β + w · h), w starting at
    0. Why: 4r's wrong values mostly start where the answer's phrasing runs on into another fact's
    statement ("Your boss's name is" -> the slot after "is" in "my neighbour's name is Vedis"):
    following is right inside a value, not at its first token, and h knows which of the two it is.
    `pointer_source` (session 30) adds FOLLOW_SCALE · σ to the score of every slot a user's query
    wrote (σ starts at 0). Why: 4w's remaining misses recall the model's own misspelt
    acknowledgement ("learn to play the kayums"), which memory holds beside the user's right
    statement of the value ("the drums"); the follow bonus favours both runs alike, and which one
    wins was the match term's call. What the user said is the ground truth; what the model said
    back is a copy of it, right or not.
    `pointer_recency` adds FOLLOW_SCALE · ρ · -log(1 + slot index) (slots are newest first), and
    with `pointer_recency_ties` (session 31) weighs it by σ(GOING_ON - the follow bonus) and by
    1 - the largest share one token has of the pointer without it. Why: a corrected value sits in
    memory beside the value it corrects, both the user's, and the match term rates them alike (4x,
    held-out set 3: 25 of 71 corrections missed, 18 of them with the pointer preferring the old
    value at the value's first token, the gate open); the newer statement of a fact is the one that
    holds. But everywhere, the bonus also pulled copies off an older value midway ("Kyotous",
    "onmber"): only where a value starts is "which statement" the question, and the learned follow
    bonus says where that is. And a pick the pointer was sure of lost probability to newer slots
    (answer perplexity 1.453 -> 1.477 on held-out set 0): a tie-break should not move a pick that
    is not tied."""

    def __init__(self, config: RxTConfig):
        super().__init__()
        self.pad_id, self.vocab_size = config.pad_id, config.vocab_size
        self.query = nn.Linear(config.dim, config.dim, bias=False)
        self.key_norm = RMSNorm(config.dim, config.norm_eps)
        self.key = nn.Linear(config.dim, config.dim, bias=False)
        self.follow = nn.Parameter(torch.zeros(())) if config.pointer_follows else None
        self.follow_context = nn.Parameter(torch.zeros(config.dim)) if config.pointer_follow_context else None
        self.source = nn.Parameter(torch.zeros(())) if config.pointer_source else None
        self.recency = nn.Parameter(torch.zeros(())) if config.pointer_recency else None
        self.recency_context = (
            nn.Parameter(torch.zeros(config.dim)) if config.pointer_recency_context else None
        )
        self.recency_ties = config.pointer_recency_ties
        self.reads_now = config.pointer_gate == "agreement+query"  # the gate's query features
        self.reads_marks = self.reads_now or config.pointer_source

    def project(self, content: torch.Tensor, id_layer: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Once per turn, like the decoder's memory K/V: the pointer's memory entry, the slots' keys
        [B, S, D] from the last content layer `content` [B, S, D] and their ids [B, S] from the id
        layer [B, S, D], and where this pointer reads them, the slots' marks [B, S, 2]
        (`slot_marks`)."""
        keys, ids = self.key(self.key_norm(content)), slot_ids(id_layer, self.vocab_size, self.pad_id)
        if not self.reads_marks:
            return keys, ids
        return keys, ids, slot_marks(id_layer, self.vocab_size)

    def forward(
        self, hidden: torch.Tensor, logits: torch.Tensor, memory, tokens: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Per position, the pointer's probability of each token [B, T, V] fp32 (all zeros where
        the memory is empty), how much of it went to slots the follow bonus favoured [B, T]
        (zeros without `pointer_follows`) and, for the "agreement+query" gate, how much went to the
        slots the query just wrote [B, T] (else None); from the normed hidden states [B, T, D], the
        vocabulary logits [B, T, V], `project`'s output (keys, ids[, marks]) and the tokens read at
        those positions [B, T]."""
        keys, ids, *marks = memory
        slot_ids = ids[:, None, :].expand(-1, hidden.shape[1], -1)  # [B, T, S]
        match = self.query(hidden) @ keys.transpose(-1, -2) / math.sqrt(keys.shape[-1])
        scores = logits.gather(-1, slot_ids).float() + match.float()
        follows = follow_bonus = None
        if self.follow is not None:
            before = F.pad(ids[:, :-1], (1, 0), value=self.pad_id)  # [B, S]: the previous slot's id
            follows = (before[:, None, :] == tokens[..., None]) & (tokens != self.pad_id)[..., None]
            follow_bonus = FOLLOW_SCALE * strength(self.follow, self.follow_context, hidden)
            scores = scores + follow_bonus * follows
        if self.source is not None:
            scores = scores + FOLLOW_SCALE * self.source.float() * marks[0][:, None, :, FROM_USER]
        if self.recency is not None:  # slot order is age, newest first
            newness = -torch.log1p(torch.arange(ids.shape[1], device=ids.device, dtype=scores.dtype))
            if self.recency_ties:  # where a value starts, between the tokens the pointer is torn between
                with torch.no_grad():  # weights read off the step, not trained through
                    doubt = 1 - self._copy(scores, ids, slot_ids)[1].amax(-1, keepdim=True)
                    newness = newness * torch.sigmoid(GOING_ON - follow_bonus) * doubt
            scores = scores + FOLLOW_SCALE * strength(self.recency, self.recency_context, hidden) * newness
        attention, copy = self._copy(scores, ids, slot_ids)
        followed = (
            attention.new_zeros(attention.shape[:2]) if follows is None else (attention * follows).sum(-1)
        )
        on_query = (attention * marks[0][:, None, :, WRITTEN_NOW]).sum(-1) if self.reads_now else None
        return copy, followed, on_query

    def _copy(
        self, scores: torch.Tensor, ids: torch.Tensor, slot_ids: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        """The attention over the filled slots [B, T, S] and its sum per token id [B, T, V]."""
        scores = scores.masked_fill((ids == self.pad_id)[:, None, :], float("-inf"))
        attention = torch.softmax(scores, dim=-1).nan_to_num(0.0)  # an empty memory points nowhere
        copy = attention.new_zeros((*attention.shape[:2], self.vocab_size))
        return attention, copy.scatter_add_(-1, slot_ids, attention)


class CopyGate(nn.Module):
    """The logit of g, GATE_SCALE · (w · h + b [+ u · agreement]), [B, T]. Why the scale: the gate
    is new in a trained model and starts nearly shut, where its sigmoid is flat; with Adam every
    parameter moves about the learning rate per step, so at stage 4's 3e-4 an unscaled gate went
    0.018 -> 0.020 at recalled tokens in 75 steps. w starts at 0 (the same g everywhere), b at
    GATE_INIT_BIAS / GATE_SCALE.
    `pointer_gate="agreement"` (session 26) also reads two numbers per position, u starting at 0:
    the head's log-probability of the pointer's most likely token below the head's own best, and
    the pointer's log-probability of it. Why: from h alone the gate cannot tell a pointer that is
    right from one that is wrong. Opened at a value's first token it also copied wrong slots (the
    fix was session 25's shift, -2 on the logit, shutting it everywhere); opened at values under a
    target that knows when the pointer is right, it copied on past a value's end ("snookeren",
    "855"), where the head is sure of the next token and the pointer's pick is one it rates low.
    `pointer_gate="agreement+query"` (session 29, bundled 4w) also reads the pointer's mass m on the
    slots the query just wrote (`pointer_reads_query`), times two weights starting at 0: m, and m
    times the head's disagreement above. Why: misses of multi-word and closed-pool values (plans,
    colours) copy the model's own misspelt acknowledgement ("learn to play the kayums"), written when
    the value was stated: there the pointer is right ("Ġdr", 1.00) and the agreement gate shut
    (the head rates "Ġdr" far below its "Ġk"). A pick from the query is a value just stated, not a
    recall's wrong slot or a copy past a value's end. Trained alone (`--gate-target query`):
    acknowledgements 81 -> 84%, held-out recall 1-8 90.4 / 90.0 / 87.2% -> 91.1 / 92.8 / 88.5% on
    three sets, answer perplexity 1.390 -> 1.446 (it learned a large bonus for the query's picks,
    which teacher-forced scoring pays where the reference phrases otherwise; docs/training.md
    "Session 29").
    `pointer_gate="agreement+follow"` (session 27) also reads the pointer's mass on slots the follow
    bonus favoured, times a weight starting at 0. Why: 4r's misses still copy past a value's end
    ("enchiladasas", "853", "Dublina": 15% of them), and going on along a remembered run seemed
    when the pointer is most likely right. Measured: free-running recall unchanged (114 held-out
    misses, 113 of them 4r's): in the past-end misses probed the followed mass at the token past
    the value was 0, so there was nothing for the gate to read. An option; the bundled model does
    not use it."""

    def __init__(self, config: RxTConfig):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(config.dim))
        self.bias = nn.Parameter(torch.tensor(GATE_INIT_BIAS / GATE_SCALE))
        agreement = config.pointer_gate.startswith("agreement")
        self.agreement = nn.Parameter(torch.zeros(2)) if agreement else None
        self.follow = nn.Parameter(torch.zeros(())) if config.pointer_gate == "agreement+follow" else None
        self.query = nn.Parameter(torch.zeros(2)) if config.pointer_gate == "agreement+query" else None

    def forward(
        self,
        hidden: torch.Tensor,
        head_log_p: torch.Tensor,
        copy: torch.Tensor,
        followed: torch.Tensor,
        on_query: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """From the normed hidden states [B, T, D], the head's log-probabilities [B, T, V], the
        pointer's probabilities [B, T, V], its mass on followed slots [B, T] and on the slots the
        query just wrote [B, T] (None unless "agreement+query"; the last four read, not trained
        through)."""
        logit = hidden.float() @ self.weight.float() + self.bias.float()
        if self.agreement is not None:
            with torch.no_grad():
                chance, pick = copy.max(-1, keepdim=True)
                below_best = (
                    head_log_p.gather(-1, pick) - head_log_p.max(-1, keepdim=True).values
                ).clamp_min(-20)
                features = torch.cat([below_best, chance.clamp_min(1e-9).log()], -1)
            logit = logit + features @ self.agreement.float()
            if self.query is not None:  # the same disagreement, and the mass, where the pick is the query's
                with torch.no_grad():
                    mass = on_query[..., None]
                    query_features = torch.cat([below_best * mass, mass], -1)
                logit = logit + query_features @ self.query.float()
        if self.follow is not None:
            logit = logit + followed.detach() * self.follow.float()
        return GATE_SCALE * logit


class MemoryPointer(nn.Module):
    def __init__(self, config: RxTConfig):
        super().__init__()
        self.slots = SlotPointer(config)
        self.gate = CopyGate(config)

    def project(self, content: torch.Tensor, id_layer: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.slots.project(content, id_layer)

    def forward(
        self, hidden: torch.Tensor, logits: torch.Tensor, memory, tokens: torch.Tensor
    ) -> torch.Tensor:
        """log p [B, T, V] (fp32) from the decoder's normed hidden states [B, T, D], its vocabulary
        logits [B, T, V], the pointer's memory entry (`SlotPointer.project`) and the tokens read at
        those positions [B, T]."""
        copy, followed, on_query = self.slots(hidden, logits, memory, tokens)
        head_log_p = F.log_softmax(logits.float(), dim=-1)
        empty = (memory[1] == self.slots.pad_id).all(-1)[:, None]
        gate = self.gate(hidden, head_log_p, copy, followed, on_query).masked_fill(empty, float("-inf"))
        gate = gate[..., None]
        log_gate, log_rest = F.logsigmoid(gate), F.logsigmoid(-gate)  # log g, log (1 - g)
        from_vocab = head_log_p + log_rest
        from_memory = copy.clamp_min(1e-30).log() + log_gate  # clamp: no 0 * inf gradients
        return torch.logaddexp(from_vocab, from_memory)
