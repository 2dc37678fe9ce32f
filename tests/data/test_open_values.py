"""Open values: real words of no pool for the closed slots, never a held-out value or a template
word, and dialogues built with them still answer from their state."""

from __future__ import annotations

import random

import pytest

from rxt_core.data.entities import words
from rxt_core.data.novel import CAPITALISED_POOLS
from rxt_core.data.open_values import CLOSED_FACTS, OPEN_POOLS, OPEN_WORDS, open_value
from rxt_core.data.synth import FACTS_BY_NAME, SynthConfig, generate, split_pools
from tests.data.test_novel import _heldout_texts, consistent_training_dialogues


def test_open_values_are_real_words_of_no_pool_cased_like_their_pool() -> None:
    train = split_pools("train")
    known = {v.lower() for values in train.pools.values() for v in values}
    heldout = _heldout_texts()
    rng = random.Random(0)
    for pool in sorted(OPEN_POOLS):
        values = [open_value(rng, pool, train) for _ in range(400)]
        assert len(set(values)) > 300, pool  # no small list to answer from
        assert sum(v.lower() not in known for v in values) > 350, pool
        for v in values:
            drawn = words(v)[1:] if pool == "plan" else words(v)  # plans: a verb + the words
            assert all(w in OPEN_WORDS for w in drawn), v
            assert not {" ".join(drawn), *drawn} & (train.reserved | heldout), v
            assert all(w[0].isupper() for w in v.split()) if pool in CAPITALISED_POOLS else v == v.lower()
    with pytest.raises(ValueError, match="open values"):
        open_value(rng, "name", train)


def test_training_dialogues_with_open_values_stay_consistent_and_clear_of_heldout() -> None:
    dialogues = consistent_training_dialogues(SynthConfig(open_value_prob=0.5))
    known = {v for values in split_pools("train").pools.values() for v in values}
    stated = [(FACTS_BY_NAME[f.fact].pool, f.value) for d in dialogues for t in d.turns for f in t.stated]
    closed = [value for pool, value in stated if pool in OPEN_POOLS]
    assert 0.35 < sum(v not in known for v in closed) / len(closed) < 0.65  # about half the closed slots
    assert all(pool in OPEN_POOLS for pool, value in stated if value not in known)  # and only those


def test_the_closed_facts_are_the_kinds_open_values_fill() -> None:
    """Evaluation scripts split results by `CLOSED_FACTS`: it must be the kinds the docs name and
    exactly those whose stated values open values replace."""
    assert {"city", "hometown", "colour", "drink", "food", "job", "language", "plan", "sport"} == CLOSED_FACTS
    dialogues = consistent_training_dialogues(SynthConfig(open_value_prob=1.0))
    train = split_pools("train")
    stated = [f for d in dialogues for t in d.turns for f in t.stated]
    assert {f.fact for f in stated} > CLOSED_FACTS  # names, numbers, ... are stated too
    outside = [f.value not in train[FACTS_BY_NAME[f.fact].pool] for f in stated]
    closed = [out for f, out in zip(stated, outside, strict=True) if f.fact in CLOSED_FACTS]
    assert sum(closed) > 0.95 * len(closed)  # an open word is now and then also a pool value
    assert not any(out for f, out in zip(stated, outside, strict=True) if f.fact not in CLOSED_FACTS)


def test_the_heldout_split_refuses_open_values_and_the_probability_is_checked() -> None:
    with pytest.raises(ValueError, match="held-out"):
        next(generate("heldout", 1, seed=0, config=SynthConfig(open_value_prob=0.1)))
    with pytest.raises(ValueError, match=r"open_value_prob must be in \[0, 1\]"):
        SynthConfig(open_value_prob=1.5)


def echoed_values(dialogues) -> list[str]:
    """Every value the one-turn echo dialogues copy, checked to be their query's, in order."""
    values = []
    for d in dialogues:
        (turn,) = d.turns
        echoed = turn.answer.removesuffix(".")
        assert f"{echoed}." in turn.query or f"{echoed}?" in turn.query
        values += echoed.replace(" and ", ", ").split(", ")
    return values


def test_echo_with_open_values_copies_open_words() -> None:
    from rxt_core.data.synth import generate_echo

    known = {v for values in split_pools("train").pools.values() for v in values}
    dialogues = list(generate_echo(600, seed=2, open_value_prob=1.0))
    values = echoed_values(dialogues)
    copied_open = sum(v not in known and all(w in OPEN_WORDS for w in words(v)) for v in values)
    assert copied_open > 300  # closed-pool values of the echo rows are open words
    assert [d.to_json() for d in generate_echo(50, seed=2)] != [d.to_json() for d in dialogues[:50]]
