"""The replay probe scores exactly the stated and recalled value tokens, per lag, and sees a
value kept in memory where another dialogue's memory cannot supply it."""

from __future__ import annotations

import pytest

from rxt_core import ReactiveTransformer
from rxt_core.bundled import bundled_model_dir
from rxt_core.data.synth import SynthConfig, generate
from rxt_core.interaction import interaction_ids
from rxt_core.training.batching import tokenize_dialogues
from rxt_core.training.pipeline import load_tokenizer
from rxt_core.training.replay_probe import (
    probe_replay,
    recall_first_guesses,
    recalled_positions,
    stated_positions,
)

BUNDLED = bundled_model_dir()


def test_positions_point_at_the_value_in_the_interaction_row(token_dialogues, tokenizer, config):
    # turn 1: "I am X ." -> "Hi X ."; turn 4: "Who am I ?" -> "You are X ."
    stating, recall = token_dialogues[0][0], token_dialogues[0][3]
    name = tokenizer.encode(stating.stated[0].value)
    (positions,) = stated_positions(stating, tokenizer)
    assert [interaction_ids(stating.query, stating.answer, config)[p] for p in positions] == name
    (positions,) = recalled_positions(recall, tokenizer)
    assert [interaction_ids(recall.query, recall.answer, config)[p] for p in positions] == name
    assert stated_positions(recall, tokenizer) == [] and recalled_positions(stating, tokenizer) == []


def test_probe_counts_every_value_token_once_per_read(token_dialogues, tokenizer, config):
    """Each dialogue states two one-token values (turns 1-2) and recalls both 3 turns later."""
    result = probe_replay(ReactiveTransformer(config), token_dialogues, tokenizer, lags=(0, 2), batch_size=8)
    values = 2 * len(token_dialogues)
    for read in ("encoder_own", "lag0_own", "lag0_other", "lag2_own", "lag2_other", "recall2_own"):
        assert result[f"{read}_first"]["tokens"] == values, read
    assert not any(key.endswith("_later") for key in result)  # one-token values
    assert "recall0_own_first" not in result  # every recall is 3 turns back: the last lag
    one_at_a_time = probe_replay(
        ReactiveTransformer(config), token_dialogues, tokenizer, lags=(0, 2), batch_size=1
    )
    assert one_at_a_time["lag0_own_first"]["tokens"] == values  # batch size 1 still has an "other" row


def test_recall_guesses_score_the_recalled_values_as_the_probe_does(token_dialogues, tokenizer, config):
    """One guess per recall, its truth the value's token; as many right as the probe's recall row."""
    model = ReactiveTransformer(config)
    guesses = list(recall_first_guesses(model, token_dialogues, tokenizer, batch_size=3))
    assert len(guesses) == 2 * len(token_dialogues)
    for g in guesses:
        assert [g.truth] == tokenizer.encode(token_dialogues[g.dialogue][g.turn].recall.value)
    probe = probe_replay(model, token_dialogues, tokenizer, lags=(0, 2), batch_size=8)
    assert sum(g.guess == g.truth for g in guesses) == probe["recall2_own_first"]["right"]


@pytest.mark.skipif(not (BUNDLED / "config.json").is_file(), reason="the bundled model is not built yet")
def test_the_bundled_model_keeps_stated_values_in_its_own_memory():
    model = ReactiveTransformer.from_pretrained(BUNDLED)
    tokenizer = load_tokenizer(str(BUNDLED / "tokenizer.json"))
    dialogues = tokenize_dialogues(
        generate("valid", 12, seed=5, config=SynthConfig(min_turns=6, max_turns=8)), tokenizer, model.config
    )
    result = probe_replay(model, dialogues, tokenizer, lags=(0, 4), batch_size=12)
    for lag in (0, 4):
        own, other = result[f"lag{lag}_own_first"], result[f"lag{lag}_other_first"]
        assert own["tokens"] >= 20
        assert own["accuracy"] > other["accuracy"] + 0.3, lag  # 200 dialogues, session 16: ~73% vs ~2%
