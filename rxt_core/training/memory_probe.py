"""Does the decoder read its memory? A diagnostic tracked in stage 4 and printed by `rxt eval`.

A decoder can reach a low answer perplexity while ignoring memory cross-attention entirely —
the failure mode the paper's stages 1-3 exist to prevent — so perplexity alone cannot tell.
This probe scores only the *value tokens* of recall answers (the name, number or place asked
about, which nothing in the current query reveals), teacher-forced, twice:
- with the dialogue's own STM_{t-1}, written from the reference turns;
- with another dialogue's STM at the same turn (the batch rows rolled by one).
A model that stores and retrieves facts predicts the value far better from its own memory:
`nll_gap` = NLL(other) - NLL(own) per value token is large. A gap near 0 means memory is ignored.

It also scores, with the own STM, the *copied values*: a value the query states and the answer
repeats ("My cousin is Mekel." -> "Mekel sounds like a great cousin."). Reading a fact back from
memory needs the same copying of a never-seen name, from the current context first: a model that
cannot copy here cannot recall either. Their first and later tokens are scored apart too: a model
that copies only the first piece of an unseen value and finishes it from its language prior
("Rotterdam" -> "Romegranate") shows a high first-token and a low later-token accuracy. The
recalled values' tokens are split the same way: a wrong first token is the wrong value (or none),
a wrong later one a value found and then misspelled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..model import ReactiveTransformer
from .batching import TextTokenizer, TokenBatch, TokenDialogue, TokenTurn, interaction_batch
from .losses import next_token_nll


@dataclass
class MemoryProbe:
    value_tokens: int = 0
    own_nll: float = 0.0
    other_nll: float = 0.0
    own_correct: int = 0
    other_correct: int = 0
    value_later_tokens: int = 0  # the recalled values' tokens after their first
    own_later_correct: int = 0
    copy_tokens: int = 0
    copy_correct: int = 0
    copy_later_tokens: int = 0  # the copied values' tokens after their first
    copy_later_correct: int = 0

    @property
    def own_accuracy(self) -> float:
        return _rate(self.own_correct, self.value_tokens)

    @property
    def other_accuracy(self) -> float:
        return _rate(self.other_correct, self.value_tokens)

    @property
    def own_first_accuracy(self) -> float:
        return _rate(self.own_correct - self.own_later_correct, self.value_tokens - self.value_later_tokens)

    @property
    def own_later_accuracy(self) -> float:
        return _rate(self.own_later_correct, self.value_later_tokens)

    @property
    def copy_accuracy(self) -> float:
        return _rate(self.copy_correct, self.copy_tokens)

    @property
    def copy_first_accuracy(self) -> float:
        return _rate(self.copy_correct - self.copy_later_correct, self.copy_tokens - self.copy_later_tokens)

    @property
    def copy_later_accuracy(self) -> float:
        return _rate(self.copy_later_correct, self.copy_later_tokens)

    @property
    def nll_gap(self) -> float:
        return _rate(self.other_nll - self.own_nll, self.value_tokens)

    def as_dict(self) -> dict:
        return {
            "value_tokens": self.value_tokens,
            "own_value_accuracy": self.own_accuracy,
            "own_value_first_tokens": self.value_tokens - self.value_later_tokens,
            "own_value_first_token_accuracy": self.own_first_accuracy,
            "own_value_later_tokens": self.value_later_tokens,
            "own_value_later_token_accuracy": self.own_later_accuracy,
            "other_value_accuracy": self.other_accuracy,
            "value_nll_own": _rate(self.own_nll, self.value_tokens),
            "value_nll_other": _rate(self.other_nll, self.value_tokens),
            "value_nll_gap": self.nll_gap,
            "copied_value_tokens": self.copy_tokens,
            "copied_value_accuracy": self.copy_accuracy,
            "copied_value_first_tokens": self.copy_tokens - self.copy_later_tokens,
            "copied_value_first_token_accuracy": self.copy_first_accuracy,
            "copied_value_later_tokens": self.copy_later_tokens,
            "copied_value_later_token_accuracy": self.copy_later_accuracy,
        }


def _rate(total: float, tokens: int) -> float:
    """Per token; 0 when nothing was scored (a batch without recalls or copies)."""
    return total / max(1, tokens)


def value_positions(turn: TokenTurn, tokenizer: TextTokenizer) -> list[int]:
    """Indices into `turn.answer` of the recalled value's tokens ([] when the turn recalls
    nothing or the value's tokens do not appear as such in the answer)."""
    return [] if turn.recall is None else token_span(turn.answer, turn.recall.value, tokenizer)


def later_value_positions(turn: TokenTurn, tokenizer: TextTokenizer) -> list[int]:
    """`value_positions` but the value's first token."""
    return value_positions(turn, tokenizer)[1:]


def copy_positions(turn: TokenTurn, tokenizer: TextTokenizer) -> list[int]:
    """Indices into `turn.answer` of the tokens of values the query states and the answer repeats."""
    return sorted({k for span in _copy_spans(turn, tokenizer) for k in span})


def later_copy_positions(turn: TokenTurn, tokenizer: TextTokenizer) -> list[int]:
    """`copy_positions` but each value's first token."""
    spans = _copy_spans(turn, tokenizer)
    firsts = {span[0] for span in spans}
    return sorted({k for span in spans for k in span[1:]} - firsts)


def _copy_spans(turn: TokenTurn, tokenizer: TextTokenizer) -> list[list[int]]:
    return [span for fact in turn.stated if (span := token_span(turn.answer, fact.value, tokenizer))]


def token_span(tokens: list[int], value: str, tokenizer: TextTokenizer) -> list[int]:
    """Indices into `tokens` of the first occurrence of `value`'s tokens (after a space or not);
    [] when they do not occur as such."""
    for text in (" " + value, value):
        needle = tokenizer.encode(text)
        for start in range(len(tokens) - len(needle) + 1):
            if needle and tokens[start : start + len(needle)] == needle:
                return list(range(start, start + len(needle)))
    return []


@torch.inference_mode()
def probe_memory(
    model: ReactiveTransformer,
    dialogues: Sequence[TokenDialogue],
    tokenizer: TextTokenizer,
    batch_size: int = 32,
) -> MemoryProbe:
    """Teacher-forced value-token NLL and accuracy with own vs another dialogue's STM."""
    was_training = model.training
    model.eval()
    result = MemoryProbe()
    config = model.config
    for start in range(0, len(dialogues), batch_size):
        chunk = dialogues[start : start + batch_size]
        if len(chunk) < 2:
            break  # rolling needs another dialogue
        stm = model.init_memory(len(chunk))
        for t in range(max(len(d) for d in chunk)):
            turns = [d[t] if t < len(d) else None for d in chunk]
            batch = interaction_batch(turns, config).to(model.device)
            recalled, copied = (
                _select(turns, batch, value_positions, tokenizer),
                _select(turns, batch, copy_positions, tokenizer),
            )
            if recalled.target_count or copied.target_count:
                logits = model(batch.ids, stm)[0]
                _, correct = next_token_nll(logits, copied)
                result.copy_correct += int(correct)
                result.copy_tokens += copied.target_count
                later = _select(turns, batch, later_copy_positions, tokenizer)
                _, correct = next_token_nll(logits, later)
                result.copy_later_correct += int(correct)
                result.copy_later_tokens += later.target_count
            if recalled.target_count:
                nll, correct = next_token_nll(logits, recalled)
                result.own_nll += float(nll)
                result.own_correct += int(correct)
                later = _select(turns, batch, later_value_positions, tokenizer)
                _, correct = next_token_nll(logits, later)
                result.own_later_correct += int(correct)
                result.value_later_tokens += later.target_count
                nll, correct = next_token_nll(model(batch.ids, stm.roll(1, dims=0))[0], recalled)
                result.other_nll += float(nll)
                result.other_correct += int(correct)
                result.value_tokens += recalled.target_count
            new = model.write_memory(stm, batch.ids, batch.mask)
            stm = batch.written(new, stm)
    model.train(was_training)
    return result


def _select(turns, batch: TokenBatch, positions, tokenizer: TextTokenizer) -> TokenBatch:
    """`batch` scoring only the answer tokens `positions(turn, tokenizer)` picks in each row."""
    select = torch.zeros_like(batch.targets)
    for b, turn in enumerate(turns):
        if turn is not None:
            for k in positions(turn, tokenizer):
                select[b, len(turn.query) + 1 + k] = True  # the position predicting answer[k]
    return TokenBatch(batch.ids, batch.mask, select, batch.present)
