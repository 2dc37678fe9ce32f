"""`rxt eval`'s scoring of generated answers: recall and copy counted per fact kind."""

from __future__ import annotations

from dataclasses import astuple

import torch

from rxt_core import ReactiveTransformer
from rxt_core.bundled import bundled_model_dir
from rxt_core.metrics import recalled
from rxt_core.sampling import SamplingParams
from rxt_core.tokenizer import RxTTokenizer
from rxt_core.training.evaluate import EvalResult, _score, replay


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


def test_replay_answers_each_dialogue_as_a_chat_of_its_own_would():
    """`rxt eval` (and the docs/results probes) answer dialogues of different lengths in batches:
    every turn's memory and answer are what one session chatting alone would have had."""
    model = ReactiveTransformer.from_pretrained(bundled_model_dir()).eval()
    tokenizer = RxTTokenizer.load(bundled_model_dir() / "tokenizer.json")
    dialogues = [
        ["My dog is called Biscuit.", "What is my dog's name?"],
        ["I live in Oslo.", "Tell me a short story.", "Where do I live?"],
        ["Hello!"],
    ]
    queries = [[tokenizer.encode(q) for q in d] for d in dialogues]
    params = SamplingParams(max_new_tokens=16)
    with torch.no_grad():
        turns = list(replay(model, queries, params))
        assert [(turn.index, turn.rows) for turn in turns] == [(0, [0, 1, 2]), (1, [0, 1]), (2, [1])]
        for b, dialogue in enumerate(queries):
            stm = model.init_memory(1)
            for turn, query in zip(turns, dialogue, strict=False):
                row = turn.rows.index(b)
                torch.testing.assert_close(turn.memory[row : row + 1], stm, atol=1e-4, rtol=1e-4)
                answer = model.generate([query], stm, params)[0]
                assert turn.answers[row] == answer
                stm = model.update_memory(stm, [query], [answer], precision="fp32")
    assert "Biscuit" in tokenizer.decode(turns[1].answers[0])  # the memory carried between turns
