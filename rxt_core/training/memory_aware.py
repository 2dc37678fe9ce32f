"""Stage 4: supervised memory-aware training over whole dialogues (paper §3).

For a batch of dialogues I_1..I_N:
    STM_0 = the model's initial memory (`init_memory`'s value; the learned one gets gradients)
    for t = 1..N:  decode I_t reading STM_{t-1}  ->  loss on the answer tokens (and [EOS])
                   STM_t = MemAttn(STM_{t-1}, encoder(I_t))          (for t < N)
The loss is the mean negative log-likelihood over every answer token of the batch (+ the MoE
auxiliary loss). With `recall_weight` r > 1 (ours) it is a weighted mean instead: an answer token
whose id occurs in an earlier interaction of its dialogue, and not in its own query, counts r times
(copy_targets.py) — the tokens only memory can supply. The logged loss stays the plain mean.

Gradient flow through memory updates (`MemoryAwareConfig.bptt_turns` = K):
- K = 0 (default): nothing is detached; the loss of turn t back-propagates through all
  t - 1 memory updates before it, into the encoder and memory attention of every earlier turn.
- K > 0 (truncated BPTT): once K memory updates have been made since the last cut, the loss of
  the turn that reads the resulting STM is added, the accumulated loss is back-propagated, and
  the STM is detached before the next update. So the loss of every turn after the first
  back-propagates through the last 1..K memory updates before it (exactly K at the end of a
  window, 1 right after a cut), never further back; K = 1 trains one-step writes only.
Replay (`replay_weight` w > 0, our addition): after each write, the decoder also reads the
interaction just written back from the new STM (the last turn is written for it too); w times
its mean token NLL per turn joins the loss. With `replay_depth` D > 1 the interaction read back
from STM_t is I_{t-k}, k drawn per turn uniformly from 0..min(t, D-1) (k = 0: I_t).
Overlap (`overlap_weight` λ > 0, ours): with w_t the write weights of update t per STM entry
(1 minus what the gates keep, write_retention.py), λ · mean(w_{t-1} · w_t) per pair of
consecutive updates, averaged over the dialogue's turns, joins the loss: it pushes a turn's write
away from the entries the previous turn has just written. Sparsity (`sparsity_weight` μ > 0):
μ · mean(w_t · (1 - w_t)) per update, averaged the same way: writes of 0 or 1, not a thin mix.
Read supervision (`read_weight` ρ > 0, ours, session 19): ρ times the mean over supervised
targets of read_supervision.py's loss, which pushes the decoder's memory read at a recalled
answer token towards the slots where the write put that token's earlier turn.
Keep supervision (`keep_weight` κ > 0, ours, session 20; the keep write only): κ times the mean
over scored tokens of keep_targets.py's loss, which trains the write's salience head to keep the
tokens a later answer of the dialogue repeats (every turn but a dialogue's last is scored).
Pointer supervision (`pointer_weight` π > 0, ours, session 25; the memory pointer only): π times
pointer_targets.py's two losses, the pointer's own -log probability of a recalled value token a
slot holds (with `pointer_reads_query` also of a value copied from the turn's own query; a mean
over the batch's such value tokens) and the gate's cross-entropy (a mean
over all answer tokens) towards "copy here" at exactly those tokens (`gate_target="values"`) or
towards c / (c + h), how much more surely the pointer says each target token than the head does
(`"better"`, session 26), or towards "copy here" only at the values copied from the turn's own
query, the other tokens untold (`"query"`, session 29); the mixed output's loss is there as always.
Noisy acknowledgements (`ack_noise` p > 0, ours, session 30): each write puts a random token in
place of each answer token that repeats its own query's, with probability p; the decoder's
targets are the reference (ack_noise.py).
Freezing: memory attention and the encoder get no gradient before
`unfreeze_memory_attention_step` / `unfreeze_encoder_step`; the decoder (with the shared
embedding) always trains. `train_only` prefixes override all that: only those parameters train.
"""

from __future__ import annotations

import contextlib
import itertools

import torch
from torch import nn

from ..config import RxTConfig
from ..keep_write import kept_tokens
from ..model import ReactiveTransformer
from .ack_noise import noisy_acknowledgements
from .batching import TokenBatch, TokenDialogue, batch_indices, turn_batch
from .config import LoopConfig, MemoryAwareConfig
from .copy_targets import RecallSources, recall_sources
from .keep_targets import future_recalled, keep_loss, recording_salience
from .loop import StepResult
from .losses import next_token_nll, weighted_next_token_nll
from .pointer_targets import (
    better_than_head,
    gate_loss,
    held_values,
    pointed_values,
    pointer_loss,
    query_values,
    recording_pointer,
)
from .read_supervision import ReadSupervision
from .transplant import check_prefixes
from .write_retention import recording_writes


class MemoryAwareStage:
    name = "4"

    def __init__(
        self,
        model: ReactiveTransformer,
        dialogues: list[TokenDialogue],
        loop: LoopConfig,
        cfg: MemoryAwareConfig,
    ):
        self.model, self.dialogues, self.loop, self.cfg = model, dialogues, loop, cfg
        self.lengths = [len(d) for d in dialogues]
        if cfg.pointer_weight and model.pointer is None:
            raise ValueError("--pointer-weight needs a memory pointer model (--set memory_pointer=true)")
        if cfg.pointer_weight and cfg.gate_target == "query" and not model.config.pointer_reads_query:
            raise ValueError(
                "--gate-target query needs a pointer that reads the query (--set pointer_reads_query=true)"
            )
        check_prefixes(model, cfg.train_only, "--train-only", "pointer.gate.")  # else: trains nothing

    def modules(self) -> dict[str, nn.Module]:
        return {"model": self.model}

    def prepare(self, step: int) -> None:
        memory_on = step >= self.cfg.unfreeze_memory_attention_step
        encoder_on = step >= self.cfg.unfreeze_encoder_step
        for name, p in self.model.named_parameters():
            if self.cfg.train_only:
                p.requires_grad_(name.startswith(self.cfg.train_only))
            elif name.startswith("memory_attention."):
                p.requires_grad_(memory_on)
            elif name.startswith("encoder."):
                p.requires_grad_(encoder_on)
            else:
                p.requires_grad_(True)

    def step(self, step: int, rank: int, world: int, generator: torch.Generator) -> StepResult:
        picked = batch_indices(
            step, self.loop.batch_size, len(self.dialogues), self.loop.seed, rank, world, self.lengths
        )
        dialogues = [self.dialogues[i] for i in picked]
        model, config = self.model, self.model.config
        turns = max(len(d) for d in dialogues)
        batches = [turn_batch(dialogues, t, config).to(model.device) for t in range(turns)]
        targets = max(1, sum(b.target_count for b in batches))
        wants_sources = (
            self.cfg.recall_weight != 1
            or self.cfg.read_weight
            or self.cfg.keep_weight
            or self.cfg.pointer_weight
        )
        sources = recall_sources(batches, config) if wants_sources else None
        weights = self._recall_weights(sources)  # None: every target weighs 1
        denominator = (
            targets
            if weights is None
            else max(1.0, float(sum(w[b.targets].sum() for w, b in zip(weights, batches, strict=True))))
        )
        stm = initial_memory(model, len(dialogues))
        window = torch.zeros((), device=model.device)
        total_nll, correct, tokens = 0.0, 0, 0
        replay_total, replay_tokens = 0.0, 0
        overlap_total, mixed_total, previous_write = 0.0, 0.0, None
        aux_weight = config.moe.aux_loss_weight / turns
        shaping = self.cfg.overlap_weight or self.cfg.sparsity_weight
        recording = recording_writes(model) if shaping else contextlib.nullcontext()
        reads = ReadSupervision(model, batches, sources) if self.cfg.read_weight else None
        read_total = 0.0
        keeps = None
        if self.cfg.keep_weight:
            keeps = KeepSupervision(batches, sources, config, self.cfg.keep_positive_weight)
        keep_recording = recording_salience(model) if keeps else contextlib.nullcontext()
        pointing = self.cfg.pointer_weight > 0
        pointer_recording = recording_pointer(model) if pointing else contextlib.nullcontext()
        if pointing:  # a mean over every value token the pointer is taught, held by a slot or not
            values = pointed_values(sources, batches, config)
            acknowledged = query_values(sources, batches, config) if self.cfg.gate_target == "query" else None
            pointer_denominator = max(1, sum(int(v.sum()) for v in values))
        pointer_total, pointer_count, pointer_top, gate_total, gate_on = 0.0, 0, 0, 0.0, 0.0
        with (
            recording as writes,
            reads.recording() if reads else contextlib.nullcontext(),
            keep_recording as salience,
            pointer_recording as pointed,
        ):
            for t, batch in enumerate(batches):
                logits, aux = model(batch.ids, stm)
                if pointing:
                    copyable = held_values(pointed["ids"], batch, values[t])
                    summed, count, top = pointer_loss(pointed["copy"], batch, copyable)
                    wanted, where = copyable, batch.targets
                    if self.cfg.gate_target == "better":
                        wanted = better_than_head(pointed["copy"], pointed["head"], batch)
                    elif self.cfg.gate_target == "query":  # open at the query's held copies, else untold
                        where = held_values(pointed["ids"], batch, acknowledged[t])
                        wanted = where
                    gated = gate_loss(pointed["gate"], wanted, where)
                    window = window + self.cfg.pointer_weight * (
                        summed / pointer_denominator + gated / targets
                    )
                    pointer_total, gate_total = (
                        pointer_total + float(summed.detach()),
                        gate_total + float(gated.detach()),
                    )
                    pointer_count, pointer_top = pointer_count + count, pointer_top + top
                    gate_on += float(torch.sigmoid(pointed["gate"][:, :-1].detach())[copyable].sum())
                if reads is not None and (read := reads.loss(t)) is not None:
                    window = window + self.cfg.read_weight * read / reads.count
                    read_total += float(read.detach())
                if weights is None:
                    nll, right = next_token_nll(logits, batch)
                    fitted = nll
                else:
                    nll, fitted, right = weighted_next_token_nll(logits, batch, weights[t])
                window = window + fitted / denominator + aux_weight * aux
                total_nll += float(nll.detach())
                correct += int(right)
                tokens += batch.token_count
                if t == turns - 1 and not (self.cfg.replay_weight or shaping):
                    break  # the last write only matters to replay and to the write-shaping terms
                if self.cfg.bptt_turns and t > 0 and t % self.cfg.bptt_turns == 0:  # t updates since the cut
                    window.backward()
                    window = torch.zeros((), device=model.device)
                    stm = stm.detach()
                    previous_write = None if previous_write is None else previous_write.detach()
                written = batch.ids
                if self.cfg.ack_noise:
                    written = noisy_acknowledgements(batch, config, self.cfg.ack_noise, generator)
                new = model.write_memory(stm, written, batch.mask)
                if reads is not None:
                    reads.written(batch.present)
                if keeps is not None:
                    written = salience[-1]  # this write's (a pointer reading the query writes a copy too)
                    salience.clear()
                    if (kept := keeps.loss(t, written)) is not None:
                        window = window + self.cfg.keep_weight * kept / keeps.count
                if self.cfg.replay_weight > 0:
                    replayed = batches[t - self._replay_back(t, generator)]
                    replay_nll, replay_count = replay_loss(model, replayed, new, batch.present)
                    window = window + self.cfg.replay_weight * replay_nll / max(1, replay_count)
                    replay_total += float(replay_nll.detach())
                    replay_tokens += replay_count
                    tokens += replayed.token_count  # the replay's decoder pass
                if writes is not None:
                    write = writes.pop()
                    if self.cfg.sparsity_weight and batch.present.any():
                        mixed = (write * (1 - write))[batch.present].mean()
                        window = window + self.cfg.sparsity_weight * mixed / turns
                        mixed_total += float(mixed.detach()) / turns
                    if previous_write is not None and batch.present.any():
                        overlap = (previous_write * write)[batch.present].mean()
                        window = window + self.cfg.overlap_weight * overlap / (turns - 1)
                        overlap_total += float(overlap.detach()) / (turns - 1)
                    previous_write = write
                stm = batch.written(new, stm)
                tokens += batch.token_count
        if window.requires_grad:
            window.backward()
        metrics = {"answer_accuracy": correct / targets}
        if replay_tokens:
            metrics["replay_loss"] = replay_total / replay_tokens
        if reads is not None and reads.count:
            metrics["read_loss"] = read_total / reads.count  # mean over the supervised targets
        if keeps is not None:
            metrics.update(keeps.metrics())
        if pointing:  # over the recalled value tokens a slot held
            metrics["pointer_loss"] = pointer_total / max(1, pointer_count)
            metrics["pointer_top"] = pointer_top / max(1, pointer_count)
            metrics["pointer_held"] = pointer_count / pointer_denominator
            metrics["gate_loss"] = gate_total / targets  # over all answer tokens
            metrics["gate_at_values"] = gate_on / max(1, pointer_count)  # mean g where copying is right
        if self.cfg.overlap_weight:
            metrics["write_overlap"] = overlap_total  # mean over the turn pairs of the batch
        if self.cfg.sparsity_weight:
            metrics["write_mixing"] = mixed_total  # mean w (1 - w) over the updates of the batch
        return StepResult(total_nll / targets, tokens, metrics)

    def _recall_weights(self, sources: list[RecallSources] | None) -> list[torch.Tensor] | None:
        """Per turn [B, T_t - 1], each target's loss weight: `recall_weight` where the answer
        repeats a token of an earlier turn that its own query does not hold, else 1 (None: all 1)."""
        if self.cfg.recall_weight == 1 or sources is None:
            return None
        extra = self.cfg.recall_weight - 1
        return [1 + extra * s.targets.float() for s in sources]

    def _replay_back(self, t: int, generator: torch.Generator) -> int:
        """How many turns back the interaction replayed after writing I_t lies."""
        deepest = min(t, self.cfg.replay_depth - 1)
        return int(torch.randint(deepest + 1, (), generator=generator)) if deepest else 0


class KeepSupervision:
    """One stage-4 step's salience loss (keep_targets.py): `loss(t, logits)` after writing turn t."""

    def __init__(
        self,
        batches: list[TokenBatch],
        sources: list[RecallSources],
        config: RxTConfig,
        positive_weight: float,
    ):
        self.positive_weight, self.threshold = positive_weight, config.keep_threshold
        self.labels = future_recalled(batches, sources, config.vocab_size)
        self.scored = [
            batch.mask & following.present[:, None] for batch, following in itertools.pairwise(batches)
        ]
        self.count = max(1, sum(int(m.sum()) for m in self.scored))
        self.total, self.kept, self.positives, self.kept_positives, self.rows = 0.0, 0, 0, 0, 0

    def loss(self, t: int, salience: torch.Tensor) -> torch.Tensor | None:
        """Summed loss over turn t's scored tokens (None: the last turn, which is not scored)."""
        if t >= len(self.scored):
            return None
        scored, labels = self.scored[t], self.labels[t]
        loss = keep_loss(salience, labels, scored, self.positive_weight)
        with torch.no_grad():
            kept = kept_tokens(salience, scored, self.threshold)
            self.total += float(loss)
            self.kept += int(kept.sum())
            self.rows += int(scored.any(1).sum())
            self.positives += int((labels & scored).sum())
            self.kept_positives += int((labels & kept).sum())
        return loss

    def metrics(self) -> dict[str, float]:
        """Mean loss per scored token, tokens kept per interaction, share of the positives kept."""
        return {
            "keep_loss": self.total / self.count,
            "kept_per_turn": self.kept / max(1, self.rows),
            "kept_recalled": self.kept_positives / max(1, self.positives),
        }


def replay_loss(
    model: ReactiveTransformer, batch: TokenBatch, stm: torch.Tensor, present: torch.Tensor
) -> tuple[torch.Tensor, int]:
    """Summed NLL of every token of `batch`'s interactions decoded from `stm`, which holds them
    (rows not `present`, i.e. of finished dialogues, excluded), and how many tokens that is."""
    replay = TokenBatch(batch.ids, batch.mask, batch.mask[:, 1:] & present[:, None], present)
    logits, _ = model(replay.ids, stm)
    nll, _ = next_token_nll(logits, replay)
    return nll, replay.target_count


def initial_memory(model: ReactiveTransformer, batch_size: int) -> torch.Tensor:
    """STM_0 as `init_memory` gives it, but differentiable when it is learned."""
    if model.config.stm_init == "learned":
        return model.with_empty_ids(model.stm_init.unsqueeze(0).expand(batch_size, *model.stm_init.shape))
    return model.init_memory(batch_size)
