"""`rxt eval`'s scoring of generated answers: recall and copy counted per fact kind."""

from __future__ import annotations

from dataclasses import astuple

from rxt_core.metrics import recalled
from rxt_core.training.evaluate import EvalResult, _score


def _value(dialogue, kind: str) -> str:
    return next(f.value for t in dialogue for f in t.stated if f.fact == kind)


def test_recall_and_copy_are_counted_per_fact_kind(token_dialogues, tokenizer):
    n = len(token_dialogues)
    perfect = EvalResult("reference answers", 0, n)
    _score(token_dialogues, [[t.answer for t in d] for d in token_dialogues], tokenizer, perfect, samples=0)
    for kind in ("name", "pet"):
        assert perfect.recall_by_fact.as_dict()[kind] == {"hits": n, "total": n, "accuracy": 1.0}
        assert perfect.copy_by_fact.as_dict()[kind] == {"hits": n, "total": n, "accuracy": 1.0}

    # Each dialogue gets the next one's answers: a hit only where the two share the value.
    shifted = EvalResult("another dialogue's answers", 0, n)
    others = token_dialogues[1:] + token_dialogues[:1]
    _score(token_dialogues, [[t.answer for t in d] for d in others], tokenizer, shifted, samples=0)
    for kind in ("name", "pet"):
        same = sum(_value(a, kind) == _value(b, kind) for a, b in zip(token_dialogues, others, strict=True))
        assert 0 < same < n
        assert shifted.recall_by_fact.hits[kind] == shifted.copy_by_fact.hits[kind] == same
    assert shifted.copy_by_fact.overall() == sum(shifted.copy_by_fact.hits.values()) / (2 * n)


def test_every_missed_recall_is_listed_with_the_answer_that_missed(token_dialogues, tokenizer):
    n = len(token_dialogues)
    perfect = EvalResult("reference answers", 0, n)
    _score(token_dialogues, [[t.answer for t in d] for d in token_dialogues], tokenizer, perfect, samples=0)
    assert perfect.misses == []

    # Scored in two chunks, as `evaluate` batches: a miss's dialogue index counts across chunks.
    shifted = EvalResult("another dialogue's answers", 0, n)
    answers = [[t.answer for t in d] for d in token_dialogues[1:] + token_dialogues[:1]]
    half = n // 2
    _score(token_dialogues[:half], answers[:half], tokenizer, shifted, samples=0)
    _score(token_dialogues[half:], answers[half:], tokenizer, shifted, samples=0)
    total = sum(shifted.recall_by_fact.totals.values()) - sum(shifted.recall_by_fact.hits.values())
    assert 0 < len(shifted.misses) == total
    assert any(miss["dialogue"] >= half for miss in shifted.misses)
    for miss in shifted.misses:
        turn = token_dialogues[miss["dialogue"]][miss["turn"]]
        assert miss["query"] == turn.query_text
        assert (miss["fact"], miss["value"], miss["distance"]) == astuple(turn.recall)
        assert not recalled(miss["generated"], miss["value"]) and recalled(miss["reference"], miss["value"])
    shifted.answer_tokens = 1  # as_dict reports perplexity, which needs a scored token
    assert shifted.as_dict()["misses"] == shifted.misses
