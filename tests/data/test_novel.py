"""Made-up values: any shape, cased like their pool, never a held-out value or a template word."""

from __future__ import annotations

import random

import pytest

from rxt_core.data.entities import phrases, words
from rxt_core.data.novel import CAPITALISED_POOLS, NOVEL_POOLS, PHRASE_POOLS, novel_phrase, novel_value
from rxt_core.data.synth import SynthConfig, generate, generate_echo, split_pools
from tests.data.test_synth import _replay


def _heldout_texts() -> set[str]:
    heldout = split_pools("heldout")
    return {" ".join(words(v)) for values in heldout.pools.values() for v in values if not v.isdigit()}


def test_made_up_values_are_new_strings_cased_like_their_pool() -> None:
    train = split_pools("train")
    rng = random.Random(0)
    known = {v for values in train.pools.values() for v in values}
    heldout = _heldout_texts()
    for pool in sorted(NOVEL_POOLS):
        values = [novel_value(rng, pool, train) for _ in range(400)]
        assert len(set(values)) > 300, pool  # not a small fixed list
        assert sum(v not in known for v in values) > 300, pool  # mostly in no pool at all
        for v in values:
            made_up = v.split(" ", 1)[1] if pool == "plan" else v  # plans: a verb + a made-up object
            assert not {" ".join(words(made_up)), *words(made_up)} & (train.reserved | heldout), v
            assert int(v) >= 100 if pool in ("age", "number") else not v.isdigit(), v
            first_letters = {w[0] for w in v.split()}
            assert all(c.isupper() for c in first_letters) if pool in CAPITALISED_POOLS else v == v.lower()
    with pytest.raises(ValueError, match="made-up"):
        novel_value(rng, "birthday", train)


def consistent_training_dialogues(config: SynthConfig) -> list:
    """1,500 training dialogues of `config`, checked: seeded, their recall answers follow their
    state (corrections included), and no held-out value appears anywhere in them."""
    dialogues = list(generate("train", 1500, seed=5, config=config))
    assert [d.to_json() for d in dialogues[:20]] == [d.to_json() for d in generate("train", 20, 5, config)]
    heldout = _heldout_texts()
    for d in dialogues:
        _replay(d)
        for t in d.turns:
            assert not heldout & phrases(f"{t.query} {t.answer}"), t
    return dialogues


def test_training_dialogues_with_made_up_values_stay_consistent_and_clear_of_heldout() -> None:
    dialogues = consistent_training_dialogues(SynthConfig(novel_value_prob=0.5))
    known = {v for values in split_pools("train").pools.values() for v in values}
    stated = [f.value for d in dialogues for t in d.turns for f in t.stated]
    made_up = [v for v in stated if v not in known]
    assert 0.2 < len(made_up) / len(stated) < 0.5  # half of the values of most pools


def test_the_heldout_split_refuses_made_up_values_and_probabilities_are_checked() -> None:
    with pytest.raises(ValueError, match="held-out"):
        next(generate("heldout", 1, seed=0, config=SynthConfig(novel_value_prob=0.1)))
    with pytest.raises(ValueError, match=r"novel_value_prob must be in \[0, 1\]"):
        SynthConfig(novel_value_prob=1.5)
    with pytest.raises(ValueError, match=r"novel_value_prob must be in \[0, 1\]"):
        next(generate_echo(1, seed=0, novel_value_prob=-0.1))


def test_echo_with_made_up_values_still_copies_the_query() -> None:
    dialogues = list(generate_echo(500, seed=2, novel_value_prob=0.5))
    plain = list(generate_echo(500, seed=2))
    assert sum(a.turns[0].answer != b.turns[0].answer for a, b in zip(dialogues, plain, strict=True)) > 300
    for d in dialogues:
        (turn,) = d.turns
        echoed = turn.answer.removesuffix(".")
        assert f"{echoed}." in turn.query or f"{echoed}?" in turn.query


def test_phrase_values_mix_made_up_words_into_real_shapes() -> None:
    """Every phrase value has a word no pool and no template knows (so it must be copied), the
    other pools' phrases keep one word of the pool's own values, and none is, or contains, a
    held-out value."""
    train = split_pools("train")
    rng = random.Random(3)
    heldout = _heldout_texts()
    cities = {c.lower() for c in train["city"]}
    for pool in sorted(PHRASE_POOLS):
        own_words = {w.lower() for v in train[pool] for w in v.split()}
        values = [novel_phrase(rng, pool, train) for _ in range(300)]
        assert len(set(values)) > 280, pool
        for v in values:
            assert len(v.split()) >= 2, v
            made_up = [w for w in words(v) if w not in train.reserved and w not in cities]
            assert made_up, v
            assert not phrases(v) & heldout, v
            assert v == v.lower() or any(c in v for c in train["city"]), v
            if pool != "plan":
                assert len(v.split()) == 2 and len(set(v.split()) & own_words) >= 1, v
    with pytest.raises(ValueError, match="phrase"):
        novel_phrase(rng, "name", train)


def test_dialogues_with_phrase_values_stay_consistent_and_clear_of_heldout() -> None:
    config = SynthConfig(novel_value_prob=0.6, novel_phrase_prob=1.0)
    dialogues = list(generate("train", 800, seed=7, config=config))
    plans = [f.value for d in dialogues for t in d.turns for f in t.stated if f.fact == "plan"]
    assert len(plans) > 50 and sum(len(p.split()) >= 3 for p in plans) > len(plans) / 3
    heldout = _heldout_texts()
    for d in dialogues:
        _replay(d)
        for t in d.turns:
            assert not heldout & phrases(f"{t.query} {t.answer}"), t
    with pytest.raises(ValueError, match=r"novel_phrase_prob must be in \[0, 1\]"):
        SynthConfig(novel_phrase_prob=2.0)
