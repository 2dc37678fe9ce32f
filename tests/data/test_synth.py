"""The synthetic generator: determinism, held-out entities, answers that follow the dialogue state."""

from __future__ import annotations

import collections
import random

import pytest

from rxt_core.data.dialogue import Dialogue
from rxt_core.data.entities import phrases, words
from rxt_core.data.facts import FACT_TYPES
from rxt_core.data.synth import SynthConfig, generate, generate_echo, split_pools


def _text(d: Dialogue) -> str:
    return "\n".join(f"{t.query}\n{t.answer}" for t in d.turns)


def test_same_seed_same_dialogues_and_global_random_untouched() -> None:
    state = random.getstate()
    first = list(generate("train", 200, seed=11))
    assert random.getstate() == state
    assert list(generate("train", 200, seed=11)) == first
    assert list(generate("train", 20, seed=11)) == first[:20]  # prefix-stable in n
    assert list(generate("train", 200, seed=12)) != first
    assert list(generate("valid", 200, seed=11)) != first  # same pools, different stream


def test_turn_counts_follow_the_config() -> None:
    lengths = [len(d.turns) for d in generate("train", 500, seed=1)]
    assert min(lengths) == 4 and max(lengths) == 16
    lengths = [
        len(d.turns) for d in generate("train", 100, seed=1, config=SynthConfig(min_turns=7, max_turns=9))
    ]
    assert set(lengths) == {7, 8, 9}
    with pytest.raises(ValueError, match="min_turns"):
        SynthConfig(min_turns=5, max_turns=4)


def test_heldout_pools_are_disjoint_from_training_pools() -> None:
    train, heldout = split_pools("train"), split_pools("heldout")
    all_train = {v.lower() for values in train.pools.values() for v in values}
    for pool, values in heldout.pools.items():
        assert values, f"held-out pool {pool} is empty"
        assert not {v.lower() for v in values} & all_train, pool


def test_heldout_values_never_appear_in_training_dialogues() -> None:
    train_phrases: set[str] = set()
    for d in generate("train", 3000, seed=0):
        train_phrases |= phrases(_text(d))
    heldout_values = {f.value for d in generate("heldout", 500, seed=0) for t in d.turns for f in t.stated}
    assert len(heldout_values) > 500
    # Numbers are held out as facts only (arithmetic small talk uses every number).
    leaked = {v for v in heldout_values if not v.isdigit() and " ".join(words(v)) in train_phrases}
    assert not leaked


def test_echo_dialogues_copy_training_values_only() -> None:
    dialogues = list(generate_echo(2000, seed=3))
    assert [d.to_json() for d in dialogues[:50]] == [d.to_json() for d in generate_echo(50, seed=3)]
    assert all(len(d.turns) == 1 for d in dialogues)
    heldout = {f.value for d in generate("heldout", 500, seed=0) for t in d.turns for f in t.stated}
    heldout = {" ".join(words(v)) for v in heldout if not v.isdigit()}
    assert len(heldout) > 500
    for d in dialogues:
        (turn,) = d.turns
        echoed = turn.answer.removesuffix(".")
        assert f"{echoed}." in turn.query or f"{echoed}?" in turn.query  # the answer copies the query
        assert not heldout & phrases(turn.query)
    assert len({d.turns[0].answer for d in dialogues}) > 0.9 * len(dialogues)  # copying, not memorising


def _replay(d: Dialogue) -> None:
    """Check every recall turn against the state built from the statements before it."""
    state: dict[str, str] = {}
    history: dict[str, list[str]] = collections.defaultdict(list)
    last_mention: dict[str, int] = {}
    for t, turn in enumerate(d.turns):
        for fact in turn.stated:
            assert fact.value in turn.query, (turn, fact)  # the metadata matches the text
            state[fact.fact] = fact.value
            history[fact.fact].append(fact.value)
            last_mention[fact.fact] = t
        if turn.recall is None:
            continue
        r = turn.recall
        assert r.value == state[r.fact]
        assert r.value in turn.answer
        assert r.value not in turn.query
        for old in history[r.fact][:-1]:  # a corrected value is never the answer
            assert old not in turn.answer.replace(r.value, "")
        assert r.distance == t - last_mention[r.fact] >= 1
        assert r.value in _text(Dialogue((d.turns[t - r.distance],)))
        last_mention[r.fact] = t


def test_recall_answers_follow_the_dialogue_state_including_corrections() -> None:
    corrected_then_recalled = 0
    for d in generate("train", 2000, seed=3):
        _replay(d)
        stated: dict[str, int] = collections.Counter()
        for turn in d.turns:
            for fact in turn.stated:
                stated[fact.fact] += 1
            if turn.recall and stated[turn.recall.fact] > 1:
                corrected_then_recalled += 1
    assert corrected_then_recalled > 100  # corrections are common enough to matter


def test_heldout_dialogues_are_consistent_too() -> None:
    for d in generate("heldout", 500, seed=3):
        _replay(d)


def test_every_fact_type_is_stated_and_recalled_with_varied_phrasing() -> None:
    dialogues = list(generate("train", 2000, seed=4))
    stated = {f.fact for d in dialogues for t in d.turns for f in t.stated}
    recalled = {t.recall.fact for d in dialogues for t in d.turns if t.recall}
    assert stated == recalled == {f.name for f in FACT_TYPES}
    queries = {t.query for d in dialogues for t in d.turns if t.recall}
    assert len(queries) > 300


def test_distances_reach_sixteen_and_respect_max_distance() -> None:
    config = SynthConfig(min_turns=17, max_turns=20)
    distances = {
        t.recall.distance
        for d in generate("heldout", 300, seed=2, config=config)
        for t in d.turns
        if t.recall
    }
    assert set(range(1, 17)) <= distances
    capped = SynthConfig(max_turns=20, max_distance=5)
    distances = {
        t.recall.distance for d in generate("train", 300, seed=2, config=capped) for t in d.turns if t.recall
    }
    assert distances and max(distances) <= 5


def test_turns_fit_a_small_model(tokenizer) -> None:
    lengths = [
        len(tokenizer.encode_interaction(t.query, t.answer))
        for d in generate("train", 500, seed=6)
        for t in d.turns
    ]
    assert max(lengths) < 100
    recall_answers = [
        len(tokenizer.encode(t.answer)) for d in generate("train", 500, seed=6) for t in d.turns if t.recall
    ]
    assert max(recall_answers) <= 24


@pytest.mark.timeout(120)
def test_long_dialogues_with_many_corrections_exhaust_small_pools_safely() -> None:
    config = SynthConfig(min_turns=40, max_turns=60, correction_weight=30.0)
    dialogues = list(generate("heldout", 100, seed=8, config=config))
    for d in dialogues:
        _replay(d)
    drinks = {f.value for d in dialogues for t in d.turns for f in t.stated if f.fact == "drink"}
    assert drinks <= set(split_pools("heldout")["drink"])
