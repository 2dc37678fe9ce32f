"""The token-keeping memory write: the salient tokens themselves, one per slot, newest first."""

import pytest
import torch

from rxt_core import ReactiveTransformer, preset
from rxt_core.keep_write import keep_order
from rxt_core.training.transplant import transplant
from rxt_core.training.write_retention import recording_writes, writes_are_convex

from .conftest import random_stm


def keep_model():
    return ReactiveTransformer(preset("tiny", memory_write="keep", memory_attention="simple")).eval()


def force_salience(model, keep: torch.Tensor) -> None:
    """Make the salience head score token t above zero exactly where `keep` [B, T] is True."""
    model.memory_attention.salience.register_forward_hook(lambda _m, _a, _out: torch.where(keep, 1.0, -1.0))


def test_keep_order_puts_the_kept_tokens_first_in_order_then_the_old_slots():
    salience = torch.tensor([[1.0, -1.0, 2.0, 0.5], [-1.0, -2.0, -1.0, -1.0]])
    mask = torch.tensor([[True, True, True, False], [True, True, True, True]])
    order = keep_order(salience, mask, slots=5)
    # row 0: tokens 0 and 2 (token 3 is padding), then old slots 0, 1, 2 (= 4, 5, 6 in the concat)
    assert order[0].tolist() == [0, 2, 4, 5, 6]
    assert order[1].tolist() == [4, 5, 6, 7, 8]  # nothing kept: the old memory, in its order


def test_more_kept_tokens_than_slots_fills_the_memory_with_the_first_ones():
    order = keep_order(torch.ones(1, 6), torch.ones(1, 6, dtype=torch.bool), slots=4)
    assert order[0].tolist() == [0, 1, 2, 3]


def test_a_turn_that_keeps_nothing_leaves_the_memory_exactly_as_it_was():
    model = keep_model()
    ids = torch.randint(6, model.config.vocab_size, (2, 9))
    force_salience(model, torch.zeros(2, 9, dtype=torch.bool))
    stm = random_stm(model, 2)
    assert torch.equal(model.write_memory(stm, ids, torch.ones_like(ids, dtype=torch.bool)), stm)


def test_kept_tokens_take_the_front_slots_and_the_rest_shift_back():
    """Slot 0 and 1 hold each layer's value projection of the two kept tokens; old slot i is now
    slot i + 2 in every layer, bit for bit, and the last two old slots are gone."""
    model = keep_model()
    ids = torch.randint(6, model.config.vocab_size, (1, 7))
    mask = torch.ones_like(ids, dtype=torch.bool)
    keep = torch.zeros(1, 7, dtype=torch.bool)
    keep[0, [2, 5]] = True
    force_salience(model, keep)
    stm = random_stm(model, 1)
    new = model.write_memory(stm, ids, mask)
    encoded = model.encode(ids, mask)
    for layer, states in enumerate(encoded):
        write = model.memory_attention.layers[layer].keep_write
        expected = write.value(write.encoded_norm(states[0, [2, 5]]))
        torch.testing.assert_close(new[0, layer, :2], expected)
        assert torch.equal(new[0, layer, 2:], stm[0, layer, :-2])


def test_the_keep_write_needs_the_simple_variant():
    with pytest.raises(ValueError, match="simple"):
        preset("tiny", memory_write="keep", memory_attention="interlayer")


def test_a_keep_write_started_from_a_slot_write_takes_over_its_value_projection():
    """The decoder has learned to read mixes of the slot write's values, so the keep write starts
    from that projection (and its norm); the salience head starts fresh."""
    slot = ReactiveTransformer(preset("tiny", memory_write="slot", memory_attention="simple"))
    keep = transplant(slot, {"memory_write": "keep"})
    d = slot.config.dim
    for old, new in zip(slot.memory_attention.layers, keep.memory_attention.layers, strict=True):
        assert torch.equal(new.keep_write.value.weight, old.slot_write.key_value.weight[d:])
        assert torch.equal(new.keep_write.encoded_norm.weight, old.slot_write.encoded_norm.weight)
    assert torch.equal(
        keep.decoder.blocks[0].memory_attention.q.weight, slot.decoder.blocks[0].memory_attention.q.weight
    )


def test_a_saved_keep_model_loads_and_writes_the_same(tmp_path):
    model = keep_model()
    ids = torch.randint(6, model.config.vocab_size, (2, 9))
    mask = torch.ones_like(ids, dtype=torch.bool)
    stm = random_stm(model, 2)
    model.save_pretrained(tmp_path)
    loaded = ReactiveTransformer.from_pretrained(tmp_path).eval()
    assert loaded.config.memory_write == "keep"
    assert torch.equal(loaded.write_memory(stm, ids, mask), model.write_memory(stm, ids, mask))


def test_write_weights_are_not_defined_for_the_keep_write():
    """`rxt eval` reports the share of a write left d turns later only for writes that mix; the
    keep write moves slots, and asking for its write weights is a clear error."""
    model = keep_model()
    assert not writes_are_convex(model.config)
    with pytest.raises(ValueError, match="moves slots"), recording_writes(model):
        pass


def test_keep_threshold_keeps_only_the_tokens_above_it():
    """RxTConfig.keep_threshold is the write's decision threshold: with τ = 1 only the token scored
    1.5 is kept, the one scored 0.5 (kept at the default τ = 0) is not."""
    salience = torch.tensor([[0.5, 1.5, -1.0]])
    mask = torch.ones(1, 3, dtype=torch.bool)
    assert keep_order(salience, mask, slots=4, threshold=1.0)[0].tolist() == [1, 3, 4, 5]
    for threshold, kept in ((0.0, 2), (1.0, 1)):
        model = ReactiveTransformer(
            preset("tiny", memory_write="keep", memory_attention="simple", keep_threshold=threshold)
        ).eval()
        model.memory_attention.salience.register_forward_hook(lambda _m, _a, _out: salience)
        stm = random_stm(model, 1)
        new = model.write_memory(stm, torch.randint(6, 512, (1, 3)), mask)
        assert torch.equal(new[0, :, kept:], stm[0, :, :-kept])  # the old memory moved back by `kept`


def test_a_saved_model_loads_with_a_new_threshold_but_not_with_new_weights(tmp_path):
    model = keep_model()
    model.save_pretrained(tmp_path)
    loaded = ReactiveTransformer.from_pretrained(tmp_path, overrides={"keep_threshold": 0.5})
    assert loaded.config.keep_threshold == 0.5
    for key, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], tensor)
    with pytest.raises(ValueError, match="would change .* weights"):
        ReactiveTransformer.from_pretrained(tmp_path, overrides={"stm_slots": 8})
