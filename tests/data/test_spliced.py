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


def _joined_from(value: str, phrases: list[list[str]]) -> bool:
    """Whether `value` is a phrase's first word(s) followed by a phrase's last word(s)."""
    heads = {tuple(p[:i]) for p in phrases for i in range(1, len(p))}
    tails = {tuple(p[i:]) for p in phrases for i in range(1, len(p))}
    v = value.split()
    return any(tuple(v[:i]) in heads and tuple(v[i:]) in tails for i in range(1, len(v)))


def test_spliced_phrases_join_two_pool_phrases_at_a_word_boundary() -> None:
    train = split_pools("train")
    heldout = _heldout_texts()
    rng = random.Random(0)
    plans = [p.split() for p in train["plan"]]
    values = [spliced_value(rng, "plan", train, phrase_prob=1.0) for _ in range(300)]
    assert len(set(values)) > 150  # 50 plans give thousands of joins
    for v in values:
        assert v not in train["plan"] and " ".join(words(v)) not in train.reserved | heldout, v
        assert _joined_from(v, plans), v
    # pools with too few phrases to join (language: none, sport: two) splice a word instead
    for pool in ("language", "sport"):
        assert all(_source(spliced_value(rng, pool, train, phrase_prob=1.0), train[pool]) for _ in range(50))


def test_dialogues_with_spliced_phrases_mix_both_kinds() -> None:
    config = SynthConfig(spliced_value_prob=1.0, spliced_phrase_prob=0.5)
    dialogues = consistent_training_dialogues(config)
    pools = split_pools("train")
    plans = [p.split() for p in pools["plan"]]
    stated = [
        f.value for d in dialogues for t in d.turns for f in t.stated if FACTS_BY_NAME[f.fact].pool == "plan"
    ]
    joined = sum(_joined_from(v, plans) for v in stated)
    assert 0.3 < joined / len(stated) < 0.7  # about half the plans are joined phrases...
    assert all(
        _joined_from(v, plans) or _source(v, pools["plan"]) for v in stated
    )  # ...the rest spliced words
    with pytest.raises(ValueError, match="spliced_phrase_prob"):
        SynthConfig(spliced_phrase_prob=1.5)
