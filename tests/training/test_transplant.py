"""Starting a stage from a trained model with a changed config or re-initialised modules."""

import pytest
import torch

from rxt_core import ReactiveTransformer
from rxt_core.training.transplant import transplant


def test_a_new_memory_write_keeps_the_trained_decoder_and_encoder(config):
    trained = ReactiveTransformer(config.model_copy(update={"memory_attention": "simple"}))
    moved = transplant(trained, {"memory_write": "slot"})
    assert moved.config.memory_write == "slot" and moved is not trained
    old, new = trained.state_dict(), moved.state_dict()
    for name, tensor in new.items():
        if name.startswith(("decoder.", "encoder.", "embedding")):
            assert torch.equal(tensor, old[name]), name
    assert any(".slot_write." in name for name in new) and not any(".slot_write." in name for name in old)
    ids = torch.randint(6, config.vocab_size, (2, 9))
    stm = trained.init_memory(2)
    with torch.no_grad():  # the decoder reads a given STM exactly as before
        torch.testing.assert_close(moved(ids, stm)[0], trained(ids, stm)[0])


def test_reinit_starts_the_named_modules_fresh(config):
    torch.manual_seed(0)
    trained = ReactiveTransformer(config)
    with torch.no_grad():
        for p in trained.memory_attention.parameters():
            p.add_(1.0)  # "trained": far from any fresh init
    fresh = transplant(trained, {}, reinit=["memory_attention."])
    for (name, before), after in zip(trained.state_dict().items(), fresh.state_dict().values(), strict=True):
        assert torch.equal(before, after) != name.startswith("memory_attention."), name


def test_no_change_is_a_no_op(config):
    trained = ReactiveTransformer(config)
    assert transplant(trained, {"memory_attention": config.memory_attention}) is trained


def test_a_reinit_prefix_that_names_nothing_is_an_error(config):
    """A typo must not silently turn a re-initialised control into a plain continuation."""
    with pytest.raises(ValueError, match="memory_atention"):
        transplant(ReactiveTransformer(config), {}, reinit=["memory_atention."])


def test_a_keep_write_with_more_slots_keeps_all_the_old_one_kept_and_more(config):
    """The learned initial memory is tiled to the new slot count, so the grown model's memory
    starts as the old one's twice over; after the same writes its first slots equal the old
    model's memory exactly, and the slots the old model had to drop are still there."""
    torch.manual_seed(0)
    keep = config.model_copy(update={"memory_write": "keep", "memory_attention": "simple"})
    old = ReactiveTransformer(keep).eval()
    torch.nn.init.constant_(old.memory_attention.salience.score.bias, 10.0)  # keep every token
    grown = transplant(old, {"stm_slots": 2 * keep.stm_slots}).eval()
    assert torch.equal(grown.stm_init, old.stm_init.repeat(1, 2, 1))
    before, after = old.init_memory(1), grown.init_memory(1)
    for _ in range(2):  # 24 tokens kept: more than the old 16 slots hold, fewer than the new 32
        ids = torch.randint(6, keep.vocab_size, (1, 12))
        mask = torch.ones_like(ids, dtype=torch.bool)
        with torch.no_grad():
            before, after = old.write_memory(before, ids, mask), grown.write_memory(after, ids, mask)
    slots = keep.stm_slots
    assert torch.equal(after[:, :, :slots], before)
    # all 24 kept tokens are still there (slots 16-23: the ones the old memory dropped), then the
    # initial memory's first slots
    assert torch.equal(after[0, :, 24:], grown.stm_init[:, : 2 * slots - 24])
