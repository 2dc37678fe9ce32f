"""What the keep write learns to keep: the tokens a later answer repeats, and a loss that
teaches its salience head exactly that."""

from __future__ import annotations

import pytest
import torch

from rxt_core import ReactiveTransformer
from rxt_core.training.batching import turn_batch
from rxt_core.training.config import LoopConfig, MemoryAwareConfig
from rxt_core.training.copy_targets import recall_sources
from rxt_core.training.keep_targets import future_recalled, recording_salience
from rxt_core.training.loop import Runtime, train
from rxt_core.training.memory_aware import MemoryAwareStage


@pytest.fixture(scope="module")
def keep_config(config):
    return config.model_copy(update={"memory_write": "keep", "memory_attention": "simple"})


def _labels(dialogues, config):
    batches = [turn_batch(dialogues, t, config) for t in range(max(len(d) for d in dialogues))]
    return batches, future_recalled(batches, recall_sources(batches, config), config.vocab_size)


def _words(tokenizer, batch, labels, row=0):
    return [tokenizer.inverse[int(i)] for i in batch.ids[row][labels[row]]]


def test_the_tokens_a_later_answer_repeats_are_labelled_in_the_turn_it_came_from(
    keep_config, tokenizer, dialogues, token_dialogues
):
    """Turns "I am Ann ." / "Hi Ann .", "I have a cat ." / "Nice cat .", "How are you ?" / "I am
    fine .", "Who am I ?" / "You are Ann .", "What pet do I have ?" / "A cat .": a token is labelled
    in the latest turn that held it before the answer that repeats it: the name and "am" in turn 0,
    the pet, "I" and "." in turn 1 (turn 2's "I am fine ." repeats them while two turns hold them),
    "are" in turn 2, but not its "." (three turns hold it by then: a word of every turn), nor
    anything of the last turn, whose future the dialogue does not show."""
    batches, labels = _labels(token_dialogues[:1], keep_config)
    name, pet = dialogues[0].turns[0].stated[0].value, dialogues[0].turns[1].stated[0].value
    assert _words(tokenizer, batches[0], labels[0]) == ["am", name, name]
    assert _words(tokenizer, batches[1], labels[1]) == ["I", pet, ".", pet, "."]
    assert _words(tokenizer, batches[2], labels[2]) == ["are"]
    assert not labels[3].any() and not labels[4].any()


def _kept_vs_labels(model, dialogues) -> tuple[float, float]:
    """Share of the labelled tokens the salience head keeps, and of the others it drops."""
    batches, labels = _labels(dialogues, model.config)
    hits = {True: [0, 0], False: [0, 0]}
    with torch.no_grad(), recording_salience(model) as salience:
        for batch, wanted in zip(batches[:-1], labels[:-1], strict=True):
            model.write_memory(model.init_memory(len(dialogues)), batch.ids, batch.mask)
            kept = salience.pop() > 0
            for positive in (True, False):
                where = batch.mask & (wanted == positive)
                hits[positive][0] += int((kept[where] == positive).sum())
                hits[positive][1] += int(where.sum())
    return hits[True][0] / hits[True][1], hits[False][0] / hits[False][1]


def test_keep_weight_teaches_the_salience_head_to_keep_exactly_what_is_asked_later(
    keep_config, token_dialogues, tmp_path
):
    """The salience head gets no gradient from the answers (the selection is discrete): without
    the keep loss it stays as initialised, with it it learns to keep the stated names and pets
    and drop the rest."""
    kept = {}
    for weight in (0.0, 1.0):
        torch.manual_seed(0)
        model = ReactiveTransformer(keep_config)
        before = model.memory_attention.salience.score.weight.detach().clone()
        cfg = LoopConfig(steps=40, batch_size=8, lr=1e-2, warmup_steps=1, log_every=100)
        stage = MemoryAwareStage(model, token_dialogues, cfg, MemoryAwareConfig(keep_weight=weight))
        state = train(stage, cfg, Runtime(tmp_path / str(weight), progress=False))
        assert all(("keep_loss" in h) == bool(weight) for h in state.history)
        moved = not torch.equal(model.memory_attention.salience.score.weight, before)
        assert moved == bool(weight)
        kept[weight] = _kept_vs_labels(model.eval(), token_dialogues)
    positives, negatives = kept[1.0]
    assert positives >= 0.95 and negatives >= 0.95, kept


def test_keep_supervision_needs_the_keep_write(config):
    with pytest.raises(ValueError, match="keep write"), recording_salience(ReactiveTransformer(config)):
        pass
