"""Metrics on inputs whose answers can be checked by hand."""

from __future__ import annotations

import math

import pytest
import torch

from rxt_core.metrics import RecallByDistance, bleu, cosine, mrl_reward, perplexity, recalled, words
from rxt_core.training.batching import TokenTurn, interaction_batch
from rxt_core.training.losses import next_token_nll


def test_perplexity_of_a_uniform_model_is_the_vocabulary_size(config):
    batch = interaction_batch([TokenTurn([7, 8], [9, 10, 11]), TokenTurn([7], [8])], config)
    logits = torch.zeros(2, batch.ids.shape[1], config.vocab_size)  # uniform over the vocabulary
    nll, _ = next_token_nll(logits, batch)
    assert batch.target_count == 4 + 2  # answer tokens + [EOS] of each row
    assert perplexity(float(nll), batch.target_count) == pytest.approx(config.vocab_size)


def test_answer_targets_are_the_answer_and_eos_only(config):
    batch = interaction_batch([TokenTurn([7, 8], [9, 10])], config)
    # ids: [Q] 7 8 [A] 9 10 [EOS]; targets[i] marks the prediction of ids[i + 1]
    assert batch.ids[0].tolist() == [config.query_id, 7, 8, config.answer_id, 9, 10, config.eos_id]
    predicted = batch.ids[0, 1:][batch.targets[0]].tolist()
    assert predicted == [9, 10, config.eos_id]


def test_perfect_model_has_perplexity_one_and_full_accuracy(config):
    batch = interaction_batch([TokenTurn([7, 8], [9, 10, 11])], config)
    logits = torch.full((1, batch.ids.shape[1], config.vocab_size), -1e4)
    logits[0, torch.arange(batch.ids.shape[1] - 1), batch.ids[0, 1:]] = 1e4
    nll, correct = next_token_nll(logits, batch)
    assert perplexity(float(nll), batch.target_count) == pytest.approx(1.0)
    assert int(correct) == batch.target_count


def test_perplexity_needs_tokens():
    with pytest.raises(ValueError):
        perplexity(1.0, 0)


def test_bleu():
    assert bleu("Your name is Trearo.", "Your name is Trearo.") == pytest.approx(1.0)
    assert bleu("Hi", "Hi") == pytest.approx(1.0)
    assert bleu("completely different words here", "your name is Trearo") == 0.0
    partial = bleu("your name is Bob .", "your name is Trearo .")
    assert 0.0 < partial < 1.0
    # brevity penalty: a correct but short candidate scores below 1
    assert bleu("your name", "your name is Trearo .") < bleu("your name is Trearo", "your name is Trearo .")


def test_cosine_of_bags_of_words():
    assert cosine("a b", "b a") == pytest.approx(1.0)
    assert cosine("a", "b") == 0.0
    assert cosine("a a b", "a") == pytest.approx(2 / math.sqrt(5))
    assert cosine("", "a") == 0.0


def test_mrl_reward_range_and_weights():
    assert mrl_reward("You live in Oslo.", "You live in Oslo.") == pytest.approx(10.0)
    # with history: 4 (BLEU) + 4 (cosine to the reference) + 2 * cos(answer, history)
    history = ["I live in Oslo. Nice city."]
    expected = 10 * (0.4 + 0.4 + 0.2 * cosine("You live in Oslo.", history[0]))
    assert mrl_reward("You live in Oslo.", "You live in Oslo.", history) == pytest.approx(expected)
    assert mrl_reward("zzz", "You live in Oslo.", history) == 0.0


def test_recall_matches_whole_words_case_insensitively():
    assert words("Hi, Tel-Aviv!") == ["hi", ",", "tel", "-", "aviv", "!"]
    assert recalled("Your pet is called Pickles.", "pickles")
    assert recalled("You were born in Tel Aviv.", "Tel Aviv")
    assert not recalled("Your lucky number is 15.", "5")
    assert not recalled("I don't know.", "Pickles")


def test_recall_by_distance_counts():
    r = RecallByDistance()
    for distance, hit in [(1, True), (1, True), (1, False), (3, True), (9, False)]:
        r.add(distance, hit)
    assert r.accuracy(1) == pytest.approx(2 / 3)
    assert r.accuracy(3) == 1.0 and r.accuracy(9) == 0.0
    assert math.isnan(r.accuracy(5))
    assert r.overall() == pytest.approx(3 / 5)
    assert r.overall(1, 8) == pytest.approx(3 / 4)
    assert r.as_dict()["1"] == {"hits": 2, "total": 3, "accuracy": pytest.approx(2 / 3)}
