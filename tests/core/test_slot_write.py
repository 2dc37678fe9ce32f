"""The slot-allocating memory write: tokens compete for slots, and only the slots they are handed
are rewritten."""

import pytest
import torch

from rxt_core import ReactiveTransformer, preset
from rxt_core.precision import write_autocast
from rxt_core.slot_write import NULL_SLOTS, SlotWrite
from rxt_core.training.write_retention import recording_writes

from .conftest import random_stm


def slot_model(variant="simple"):
    return ReactiveTransformer(preset("tiny", memory_write="slot", memory_attention=variant)).eval()


def encoded_batch(model, batch=2, length=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(6, model.config.vocab_size, (batch, length), generator=g)
    return ids, torch.ones_like(ids, dtype=torch.bool)


@pytest.mark.parametrize("variant", ["simple", "interlayer"])
def test_slot_write_builds_what_it_says(variant):
    """`memory_write="slot"` replaces the final attention + residual gate with the slot write; the
    variant's pre-step (and its gate) stays."""
    layer = slot_model(variant).memory_attention.layers[0]
    assert isinstance(layer.slot_write, SlotWrite) and layer.write_gate is layer.slot_write.gate
    assert not hasattr(layer, "gate") and not hasattr(layer, "attention")
    assert hasattr(layer, "pre_gate") == (variant != "simple")
    assert layer.slot_write.null_queries.shape[1] == NULL_SLOTS


def _steer(write: SlotWrite, stm_dim: int) -> None:
    """Queries and keys = the (normed) inputs, scaled so one matching slot wins each token."""
    with torch.no_grad():
        write.query.weight.copy_(torch.eye(stm_dim) * 10)
        write.key_value.weight.zero_()
        write.key_value.weight[:stm_dim].copy_(torch.eye(stm_dim))
        write.key_value.weight[stm_dim:].copy_(torch.eye(stm_dim))
        write.null_queries.zero_()


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_only_the_slot_the_tokens_choose_is_rewritten(precision):
    """Every token matches slot 0 alone: slot 0 is rewritten towards the tokens, every other
    slot keeps its content exactly (to float precision): a turn does not blur the whole memory.
    With the write in bf16 too: untouched slots do not pick up bf16 rounding turn after turn."""
    write = slot_model().memory_attention.layers[0].slot_write
    d, slots = 64, 16
    _steer(write, d)
    direction = torch.randn(d)
    stm = torch.zeros(1, slots, d)
    stm[0, 1:] = torch.randn(slots - 1, d) * 0.01  # small, unrelated contents
    stm[0, 1:] -= (stm[0, 1:] @ direction / direction.dot(direction))[:, None] * direction
    stm[0, 0] = direction
    encoded = direction.repeat(1, 6, 1) + torch.randn(1, 6, d) * 0.01
    mask = torch.ones(1, 6, dtype=torch.bool)
    positions = torch.zeros(1, 6, dtype=torch.long)
    with write_autocast(precision, stm):
        new = write(stm, encoded, positions, mask)
    assert new.dtype == torch.float32
    torch.testing.assert_close(new[0, 1:], stm[0, 1:], atol=1e-5, rtol=0)
    assert (new[0, 0] - stm[0, 0]).norm() > 0.1


def test_tokens_sent_to_the_null_slots_write_nothing():
    write = slot_model().memory_attention.layers[0].slot_write
    d, heads = 64, write.heads
    _steer(write, d)
    direction = torch.randn(d)
    with torch.no_grad():  # every head's null query matches the tokens; no slot does
        write.null_queries.copy_(10 * (direction / direction.pow(2).mean().sqrt()).view(heads, 1, -1))
    stm = torch.randn(1, 16, d)
    stm -= (stm @ direction / direction.dot(direction))[..., None] * direction
    stm *= 0.01
    encoded = direction.repeat(1, 5, 1)
    new = write(stm, encoded, torch.zeros(1, 5, dtype=torch.long), torch.ones(1, 5, dtype=torch.bool))
    torch.testing.assert_close(new, stm, atol=1e-5, rtol=0)


def test_padding_writes_nothing_and_write_weights_are_convex():
    """Padded positions change no slot; each write weight lies in [0, 1) and the weights of one
    head add up to at most 1 - exp(-rate) per real token (each token hands out one unit)."""
    model = slot_model()
    stm = random_stm(model, 1)
    ids, mask = encoded_batch(model, batch=1, length=8)
    padded_ids = torch.cat((ids, torch.full((1, 5), model.config.pad_id)), dim=1)
    padded_mask = torch.cat((mask, torch.zeros(1, 5, dtype=torch.bool)), dim=1)
    with torch.no_grad(), recording_writes(model) as writes:
        plain = model.write_memory(stm, ids, mask)
        padded = model.write_memory(stm, padded_ids, padded_mask)
        nothing = model.write_memory(stm, padded_ids, torch.zeros_like(padded_mask))
    torch.testing.assert_close(padded, plain, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(nothing, stm, atol=0, rtol=0)
    weights = writes[0]  # [B, layers, slots, dim]
    assert weights.min() >= 0 and weights.max() < 1
    heads = model.config.attention.heads
    per_head = weights[0, 0].view(16, heads, -1)[:, :, 0]  # [slots, heads]
    mass = -torch.log1p(-per_head)  # rate * mass, rate = 1 at init
    assert (mass.sum(dim=0) <= 8 + 1e-4).all()


def test_slot_write_trains():
    torch.manual_seed(0)
    model = slot_model().train()
    opt = torch.optim.Adam([*model.memory_attention.parameters(), *model.encoder.parameters()], lr=3e-3)
    ids, mask = encoded_batch(model, batch=4)
    g = torch.Generator().manual_seed(1)
    stm = torch.randn((4, *model.stm_shape), generator=g)
    target = torch.randn((4, *model.stm_shape), generator=g)
    losses = []
    for _ in range(15):
        loss = -torch.nn.functional.cosine_similarity(
            model.write_memory(stm, ids, mask), target, dim=-1
        ).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.02, losses


def test_sharpness_multiplies_the_allocation_logits():
    """`slot_write_sharpness` S is exactly the write's query and null-slot vectors scaled by S: each
    token's attention over slots and nulls is sharper, nothing else changes."""
    config = preset("tiny", memory_write="slot", memory_attention="simple", slot_write_sharpness=2.0)
    sharp = ReactiveTransformer(config).eval()
    scaled = slot_model()
    scaled.load_state_dict(sharp.state_dict())
    with torch.no_grad():
        for layer in scaled.memory_attention.layers:
            layer.slot_write.query.weight.mul_(2.0)
            layer.slot_write.null_queries.mul_(2.0)
    ids, mask = encoded_batch(sharp)
    stm = random_stm(sharp, 2)
    torch.testing.assert_close(sharp.write_memory(stm, ids, mask), scaled.write_memory(stm, ids, mask))
    plain = slot_model()
    plain.load_state_dict(sharp.state_dict())
    assert not torch.allclose(plain.write_memory(stm, ids, mask), sharp.write_memory(stm, ids, mask))
    with pytest.raises(ValueError):
        preset("tiny", slot_write_sharpness=0.0)
