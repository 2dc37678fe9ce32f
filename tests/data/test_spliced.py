"""Spliced values: a training value with one word turned into another half-way, never a held-out
value or word, and dialogues built with them still answer from their state."""

from __future__ import annotations

import random

import pytest

from rxt_core.data.entities import words
from rxt_core.data.novel import CAPITALISED_POOLS
from rxt_core.data.open_values import OPEN_POOLS
from rxt_core.data.spliced import spliced_value
from rxt_core.data.synth import FACTS_BY_NAME, SynthConfig, generate, generate_echo, split_pools
from tests.data.test_novel import _heldout_texts, consistent_training_dialogues
from tests.data.test_open_values import echoed_values


def _source(value: str, pool_values: tuple[str, ...]) -> tuple[str, str] | None:
    """The (original, spliced) word pair if `value` is a pool value with exactly one word changed
    after its first two letters."""
    for original in pool_values:
        a, b = original.split(), value.split()
        changed = [(x, y) for x, y in zip(a, b, strict=False) if x != y]
        if len(a) == len(b) and len(changed) == 1 and changed[0][0][:2] == changed[0][1][:2]:
            return changed[0]
    return None


def test_spliced_values_keep_a_familiar_head_and_change_the_tail() -> None:
    train = split_pools("train")
    heldout = _heldout_texts()
    rng = random.Random(0)
    for pool in sorted(OPEN_POOLS):
        values = [spliced_value(rng, pool, train) for _ in range(300)]
        assert len(set(values)) > 250, pool  # no small list to answer from
        for v in values:
            assert v not in train[pool], v
            pair = _source(v, train[pool])
            assert pair is not None, v
            original, spliced = pair
            assert spliced.lower() != original.lower(), v
            assert not {" ".join(words(v)), *words(spliced)} & (train.reserved | heldout), v
            if pool in CAPITALISED_POOLS:
                assert spliced[0].isupper() and spliced[1:] == spliced[1:].lower(), v
    with pytest.raises(ValueError, match="spliced values"):
        spliced_value(rng, "name", train)


def test_training_dialogues_with_spliced_values_stay_consistent_and_clear_of_heldout() -> None:
    dialogues = consistent_training_dialogues(SynthConfig(spliced_value_prob=0.5))
    pools = split_pools("train")
    stated = [(FACTS_BY_NAME[f.fact].pool, f.value) for d in dialogues for t in d.turns for f in t.stated]
    closed = [(pool, value) for pool, value in stated if pool in OPEN_POOLS]
    spliced = [(pool, v) for pool, v in closed if v not in pools[pool]]
    assert 0.35 < len(spliced) / len(closed) < 0.65  # about half the closed slots
    assert all(_source(v, pools[pool]) for pool, v in spliced)
    assert all(value in pools[pool] for pool, value in stated if pool not in OPEN_POOLS)


def test_the_heldout_split_refuses_spliced_values_and_the_probability_is_checked() -> None:
    with pytest.raises(ValueError, match="held-out"):
        next(generate("heldout", 1, seed=0, config=SynthConfig(spliced_value_prob=0.1)))
    with pytest.raises(ValueError, match=r"spliced_value_prob must be in \[0, 1\]"):
        SynthConfig(spliced_value_prob=-0.1)


def test_echo_with_spliced_values_copies_them() -> None:
    pools = split_pools("train")
    closed = {v for pool in OPEN_POOLS for v in pools[pool]}
    values = echoed_values(generate_echo(600, seed=2, spliced_value_prob=1.0))
    spliced = sum(any(_source(v, pools[p]) for p in OPEN_POOLS) and v not in closed for v in values)
    assert spliced > 300  # the echo rows' cities, foods, colours and sports are spliced
