"""Read supervision (stage 4's `read_weight`, ours, sessions 19 and 21): teach the decoder's memory
read to go where the write put what the answer must recall.

Sessions 16-18 found the values in memory (re-read with the stating turn as the cue, 58% of first
value tokens eight writes later) but the question's read not finding them (32-42%), and a sharper
read did not help. The answer loss reaches the read only through the value's tokens; this loss aims
at the read itself. With the slot write it is known which slots each token of a written interaction
went to and how much of that later writes left (`SlotLedger`); with the keep write (session 21),
which slot each kept token sits in now, one token per slot (`KeepLedger`). The targets supervised
are stage 4's recalled targets (an answer token whose id an earlier turn holds and its own query
does not; copy_targets.py) whose id at most `MAX_MENTIONS` earlier turns hold (a stated value, not
a word of every turn), each traced to the latest turn that holds it. No labels: token ids only.

For such a target, let c_l(s) be the share of slot s of STM layer l (averaged over the write's
heads) that the source turn's tokens of that id wrote and later writes left, and a_lh(s) the
decoder's memory cross-attention of layer l, query head h, at the position predicting the target:

    loss_l = -log( (max_h sum_s a_lh(s) c_l(s) + eps) / (max_s c_l(s) + eps) )

how far the layer's best head is from reading as much of the source as one slot holds (0 when it
reads only the slot that holds most of it; ~0 when the write kept nothing of it). For the keep
write c_l(s) is 1 where slot s holds a token of that id from the source turn, else 0. One head per
layer is enough: the others stay free to read whatever else the answer needs. The stage adds
read_weight times the mean of loss_l over layers and supervised targets.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch

from ..keep_write import kept_tokens
from ..model import ReactiveTransformer
from .batching import TokenBatch, TokenDialogue, turn_batch
from .copy_targets import RecallSources, recall_sources, stated_values
from .keep_targets import recording_salience

EPS = 1e-3


class SlotLedger:
    """Per write of a dialogue batch, the share of every slot each of its tokens still holds:
    [B, layers, write heads, slots, T_k], decayed in place by every later write."""

    def __init__(self):
        self.turns: list[torch.Tensor] = []

    def record(self, tokens: torch.Tensor, writes: torch.Tensor, present: torch.Tensor) -> None:
        """`tokens` [B, L, H, S, T], `writes` [B, L, H, S] of one write; rows not `present` (their
        dialogue has ended) keep their memory, so they wrote nothing."""
        present = present.to(writes.dtype)[:, None, None, None]
        keep = 1 - writes * present
        for shares in self.turns:
            shares.mul_(keep[..., None])
        self.turns.append(tokens * present[..., None])

    def record_write(
        self, captured: tuple[torch.Tensor, torch.Tensor], batch: TokenBatch, present: torch.Tensor
    ) -> None:
        """One write as `recording_token_writes` captured it (token shares, write weights)."""
        tokens, writes = captured
        self.record(tokens, writes, present.to(tokens.device))

    def content(
        self, rows: torch.Tensor, sources: torch.Tensor, ids: torch.Tensor, batches: Sequence[TokenBatch]
    ) -> torch.Tensor:
        """[N, L, S]: for target n, the share of each slot that the tokens with id `ids[n]` of turn
        `sources[n]` (row `rows[n]`) still hold, averaged over the write's heads."""
        first = self.turns[0]
        out = first.new_zeros(len(rows), first.shape[1], first.shape[3])
        for k in sources.unique().tolist():
            pick = sources == k
            holds = batches[k].ids[rows[pick]] == ids[pick, None]  # [n, T_k]
            shares = self.turns[k][rows[pick]] * holds[:, None, None, None, :]
            out[pick] = shares.sum(-1).mean(2)
        return out


class KeepLedger:
    """Per write of a dialogue batch, the slot each of its tokens sits in now, [B, T_k] (-1: not
    kept, or fallen off the end). A write keeping k tokens puts them in slots 0..k-1 in their order
    and moves every older slot s to s + k (keep_write.keep_order)."""

    def __init__(self, slots: int, layers: int, threshold: float = 0.0):
        self.slots, self.layers, self.threshold = slots, layers, threshold
        self.turns: list[torch.Tensor] = []

    def record(self, kept: torch.Tensor) -> None:
        """`kept` [B, T]: the tokens one write kept (rows whose dialogue has ended keep none)."""
        shift = kept.sum(1, keepdim=True)
        for slot in self.turns:
            moved = slot + shift
            slot.copy_(torch.where((slot >= 0) & (moved < self.slots), moved, -1))
        place = kept.long().cumsum(1) - 1
        self.turns.append(torch.where(kept & (place < self.slots), place, -1))

    def record_write(self, salience: torch.Tensor, batch: TokenBatch, present: torch.Tensor) -> None:
        """One write as `recording_salience` captured it (the salience logits of `batch`'s tokens)."""
        kept = kept_tokens(salience.detach(), batch.mask, self.threshold)
        self.record(kept & present[:, None].to(kept.device))

    def content(
        self, rows: torch.Tensor, sources: torch.Tensor, ids: torch.Tensor, batches: Sequence[TokenBatch]
    ) -> torch.Tensor:
        """[N, L, S]: 1 where a slot holds a token with id `ids[n]` of turn `sources[n]` (row
        `rows[n]`), the same in every layer (each layer keeps the same tokens)."""
        out = torch.zeros(len(rows), self.slots + 1, device=rows.device)
        for k in sources.unique().tolist():
            pick = sources == k
            slot = self.turns[k][rows[pick]]  # [n, T_k]
            holds = (batches[k].ids[rows[pick]] == ids[pick, None]) & (slot >= 0)
            out[pick] = out[pick].scatter(1, torch.where(holds, slot, self.slots), 1.0)
        return out[:, None, : self.slots].expand(-1, self.layers, -1)


class ReadSupervision:
    """One stage-4 step's read loss. Inside `with`, the model's forward passes and writes are
    recorded; call `loss(t)` right after decoding turn t and `written(present)` after each write."""

    def __init__(
        self,
        model: ReactiveTransformer,
        batches: Sequence[TokenBatch],
        sources: Sequence[RecallSources] | None = None,
    ):
        """`sources`: `recall_sources(batches, ...)` when the caller already has them."""
        write = model.config.memory_write
        if write not in ("slot", "keep"):
            raise ValueError(f"read supervision needs the slot or the keep write, not memory_write={write!r}")
        self.model, self.batches = model, batches
        sources = recall_sources(batches, model.config) if sources is None else sources
        self.sources = [stated_values(s) for s in sources]
        self.count = sum(int(s.targets.sum()) for s in self.sources)
        if write == "slot":
            self.ledger, self._recorder = SlotLedger(), recording_token_writes
        else:
            self.ledger = KeepLedger(model.config.stm_slots, model.config.layers, model.config.keep_threshold)
            self._recorder = recording_salience

    @contextlib.contextmanager
    def recording(self) -> Iterator[ReadSupervision]:
        with recording_reads(self.model) as reads, self._recorder(self.model) as writes:
            self._reads, self._writes = reads, writes
            yield self

    def loss(self, t: int) -> torch.Tensor | None:
        """Summed read loss of turn t's supervised targets (None: there are none)."""
        scored = self.target_losses(t)
        return None if scored is None else scored[2].sum()

    def target_losses(self, t: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        """Turn t's supervised targets (rows, target columns) and each one's read loss, averaged
        over layers (None: there are none). Call once per turn, right after decoding it."""
        reads = self._reads.pop()
        self._reads.clear()  # replay's passes: not supervised
        sources = self.sources[t]
        rows, cols = sources.targets.nonzero(as_tuple=True)
        if not len(rows):
            return None
        ids = self.batches[t].ids[rows, cols + 1]
        content = self.ledger.content(rows, sources.source[rows, cols], ids, self.batches)
        best_slot = content.amax(-1).to(self.model.device)  # [N, L]
        content = content.to(self.model.device)
        losses = []
        for layer, (block, (x, keys, positions)) in enumerate(
            zip(self.model.decoder.blocks, reads, strict=True)
        ):
            probs = block.memory_attention.weights(
                x[rows, cols][:, None], keys[rows], positions[rows, cols][:, None]
            )
            read = (probs[:, :, 0] * content[:, layer, None, :]).sum(-1).amax(-1)  # [N]: the best head
            losses.append(-torch.log((read + EPS) / (best_slot[:, layer] + EPS)))
        return rows, cols, torch.stack(losses, 1).mean(1)

    def written(self, present: torch.Tensor) -> None:
        """Right after the write of the ledger's next turn (`present`: its dialogues' rows)."""
        self.ledger.record_write(self._writes.pop(), self.batches[len(self.ledger.turns)], present)


def teacher_forced_reads(
    model: ReactiveTransformer, dialogues: Sequence[TokenDialogue], batch_size: int = 16
) -> Iterator[tuple[Sequence[TokenDialogue], int, torch.Tensor, ReadSupervision]]:
    """Every turn of `dialogues`, decoded teacher-forced from the model's own memory without
    gradients: (the dialogues of the batch, turn t, logits, the batch's `ReadSupervision`). Call
    `target_losses(t)` before the next item (after it the turn is written and its reads dropped).
    Grad mode stays off while the caller holds an item (diagnostics and tests, not training)."""
    for start in range(0, len(dialogues), batch_size):
        chunk = dialogues[start : start + batch_size]
        batches = [turn_batch(chunk, t, model.config) for t in range(max(len(d) for d in chunk))]
        reads = ReadSupervision(model, batches)
        with torch.no_grad(), reads.recording():
            stm = model.init_memory(len(chunk))
            for t, batch in enumerate(batches):
                logits, _ = model(batch.ids, stm)
                yield chunk, t, logits, reads
                reads._reads.clear()
                new = model.write_memory(stm, batch.ids, batch.mask)
                reads.written(batch.present)
                stm = batch.written(new, stm)


def recording_reads(model: ReactiveTransformer) -> contextlib.AbstractContextManager[list[list[tuple]]]:
    """Each decoder forward pass appends, per block, its memory cross-attention's inputs
    (normed hidden states [B, T, D], memory keys [B, kv_heads, S, hd], positions [B, T])."""
    attentions = [block.memory_attention for block in model.decoder.blocks]
    return _per_pass(attentions, lambda _module, args: (args[0], args[1][0], args[2]), list)


def recording_token_writes(
    model: ReactiveTransformer,
) -> contextlib.AbstractContextManager[list[tuple[torch.Tensor, torch.Tensor]]]:
    """Each `write_memory` call appends (token shares [B, L, H, S, T], write weights [B, L, H, S])
    of its slot writes (SlotWrite.token_writes), detached: the ledger is a target, not a path."""

    def capture(module, args: tuple) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            return module.token_writes(*args)

    def combine(layers: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
        tokens, weights = zip(*layers, strict=True)
        return torch.stack(tokens, 1).float(), torch.stack(weights, 1).float()

    return _per_pass([layer.slot_write for layer in model.memory_attention.layers], capture, combine)


@contextlib.contextmanager
def _per_pass(modules: Sequence[torch.nn.Module], capture, combine) -> Iterator[list]:
    """Hooks `modules` (one per layer, each called once per pass, in order): at the end of every
    pass, `combine` of the layers' `capture(module, args)` joins the yielded list."""
    current: list = []
    passes: list = []

    def record(module, args: tuple, _output) -> None:
        current.append(capture(module, args))
        if len(current) == len(modules):
            passes.append(combine(list(current)))
            current.clear()

    hooks = [module.register_forward_hook(record) for module in modules]
    try:
        yield passes
    finally:
        for hook in hooks:
            hook.remove()
