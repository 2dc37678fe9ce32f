"""Is a stated value still *in* the memory? Tells a lost write from a failed read.

`memory_probe` scores the value tokens of recall answers: a miss there cannot say whether the
value was never stored (the write) or the decoder cannot find it from a question (the read).
This probe asks memory for the value without a question: it re-reads the interaction that stated
it ("My neighbour's name is Vedis." -> ...), teacher-forced, from the STM `lag` turns after that
interaction was written (lag 0: right after), and scores the value's tokens *in the query*, where
they occur for the first time, so only memory (or the language prior) can supply them — the
re-reading stage 4's replay loss trains. Beside it, per lag, the recall answers at distance
lag + 1 (read from the same number of writes after the stating turn), and two references: another
dialogue's memory (the prior alone) and, without any write, the interaction's own encoder states
(what stages 1-2 taught the decoder to read). Each value's first token is scored apart from its
later ones, which the prior can complete once the first is right.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from ..model import ReactiveTransformer
from .batching import TextTokenizer, TokenDialogue, TokenTurn, turn_batch
from .memory_probe import token_span, value_positions

Counts = dict[str, list[int]]  # "<read>_<memory>_<first|later>" -> [right, tokens]


def stated_positions(turn: TokenTurn, tokenizer: TextTokenizer) -> list[list[int]]:
    """Row positions (in `[Q] query [A] answer [EOS]`) of each value the query states."""
    spans = (token_span(turn.query, fact.value, tokenizer) for fact in turn.stated)
    return [[1 + k for k in span] for span in spans if span]


def recalled_positions(turn: TokenTurn, tokenizer: TextTokenizer) -> list[list[int]]:
    """Row positions of the value a recall turn's answer gives ([] for other turns)."""
    span = value_positions(turn, tokenizer)
    return [[len(turn.query) + 2 + k for k in span]] if span else []


@torch.inference_mode()
def probe_replay(
    model: ReactiveTransformer,
    dialogues: Sequence[TokenDialogue],
    tokenizer: TextTokenizer,
    lags: Sequence[int] = (0, 1, 2, 4, 8),
    batch_size: int = 32,
) -> dict[str, dict]:
    """Accuracy per read: "lag{k}_own" / "lag{k}_other" (replay from the dialogue's own / another
    dialogue's STM k turns after the stating write), "recall{k}_own" (recall answers at distance
    k + 1; distances beyond max(lags) + 1 go to the last lag), "encoder_own" (no write); each with
    "_first" and "_later" tokens."""
    was_training = model.training
    model.eval()
    counts: Counts = defaultdict(lambda: [0, 0])
    batch_size = max(2, batch_size)  # the "other" memory is another row's
    for start in range(0, len(dialogues), batch_size):
        chunk = dialogues[start : start + batch_size]
        if len(chunk) >= 2:  # a last dialogue alone has no other row: left out
            _probe_chunk(model, chunk, tokenizer, sorted(lags), counts)
    model.train(was_training)
    return {
        key: {"right": right, "tokens": tokens, "accuracy": right / max(1, tokens)}
        for key, (right, tokens) in sorted(counts.items())
    }


@dataclass(frozen=True)
class RecallGuess:
    """The decoder's teacher-forced guess at a recall answer's first value token, read from its
    own dialogue's memory: what one-off diagnostics classify (which value it said instead)."""

    dialogue: int  # index into the dialogues given
    turn: int
    guess: int
    truth: int


@torch.inference_mode()
def recall_first_guesses(
    model: ReactiveTransformer,
    dialogues: Sequence[TokenDialogue],
    tokenizer: TextTokenizer,
    batch_size: int = 32,
) -> Iterator[RecallGuess]:
    """One guess per recall turn whose answer holds its value, dialogue by dialogue, turn by turn."""
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(dialogues), batch_size):
            chunk = dialogues[start : start + batch_size]
            stm = model.init_memory(len(chunk))
            for s in range(max(len(d) for d in chunk)):
                batch = turn_batch(chunk, s, model.config)
                asked = {
                    r: positions[0][0]
                    for r, d in enumerate(chunk)
                    if s < len(d) and (positions := recalled_positions(d[s], tokenizer))
                }
                if asked:
                    predicted = model(batch.ids, stm)[0].argmax(-1)
                    for r, first in asked.items():
                        yield RecallGuess(
                            start + r, s, int(predicted[r, first - 1]), int(batch.ids[r, first])
                        )
                new = model.write_memory(stm, batch.ids, batch.mask)
                stm = batch.written(new, stm)
    finally:
        model.train(was_training)


def _probe_chunk(model, chunk, tokenizer, lags, counts: Counts) -> None:
    config = model.config
    batches = [turn_batch(chunk, t, config) for t in range(max(len(d) for d in chunk))]
    stms = [model.init_memory(len(chunk))]  # stms[t]: after writing turns 0..t-1
    for batch in batches:
        new = model.write_memory(stms[-1], batch.ids, batch.mask)
        stms.append(batch.written(new, stms[-1]))
    for s, batch in enumerate(batches):
        here = {b: d[s] for b, d in enumerate(chunk) if s < len(d)}
        stated = {b: p for b, turn in here.items() if (p := stated_positions(turn, tokenizer))}
        recalled = {b: p for b, turn in here.items() if (p := recalled_positions(turn, tokenizer))}
        if stated:
            encoded = torch.stack(model.encode(batch.ids, batch.mask), dim=1)
            predicted = model(batch.ids, encoded, batch.mask)[0].argmax(-1)
            _score(counts, "encoder_own", predicted, batch.ids, stated)
        if recalled:
            predicted = model(batch.ids, stms[s])[0].argmax(-1)
            for b, positions in recalled.items():
                lag = min(here[b].recall.distance - 1, lags[-1])
                _score(counts, f"recall{lag}_own", predicted, batch.ids, {b: positions})
        for lag in lags:
            rows = {b: p for b, p in stated.items() if s + 1 + lag <= len(chunk[b])}
            if rows:
                own = stms[s + 1 + lag]
                index = torch.tensor(list(rows))
                for memory, stm in (("own", own), ("other", own.roll(1, dims=0))):
                    predicted = torch.zeros_like(batch.ids)  # only the rows that are scored
                    predicted[index] = model(batch.ids[index], stm[index])[0].argmax(-1)
                    _score(counts, f"lag{lag}_{memory}", predicted, batch.ids, rows)


def _score(counts: Counts, read: str, predicted: torch.Tensor, ids: torch.Tensor, rows: dict) -> None:
    """rows: {row: [positions of one value's tokens, ...]}; position p is predicted at p - 1."""
    for b, values in rows.items():
        for positions in values:
            for n, p in enumerate(positions):
                cell = counts[f"{read}_{'first' if n == 0 else 'later'}"]
                cell[0] += int(predicted[b, p - 1] == ids[b, p])
                cell[1] += 1
