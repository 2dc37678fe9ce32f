"""Pointer supervision: the memory pointer learns, for itself, to point at the slot that holds a
recalled value."""

from __future__ import annotations

import math

import pytest
import torch

from rxt_core import ReactiveTransformer
from rxt_core.training.batching import TokenBatch, turn_batch
from rxt_core.training.config import LoopConfig, MemoryAwareConfig
from rxt_core.training.copy_targets import recall_sources
from rxt_core.training.loop import Runtime, train
from rxt_core.training.memory_aware import MemoryAwareStage
from rxt_core.training.pointer_targets import (
    better_than_head,
    gate_loss,
    held_values,
    pointed_values,
    pointer_loss,
    query_values,
    recording_pointer,
)


def test_the_loss_counts_only_recalled_targets_that_a_slot_holds():
    """Targets 7, 8, 9 are recalled; 9 is in no slot (nothing to point at), the target 6 is not
    recalled: the loss is -log p(7) - log p(8), and the pointer's top token is right once."""
    ids = torch.tensor([[3, 7, 8, 9, 6]])
    batch = TokenBatch(ids, torch.ones_like(ids, dtype=torch.bool), torch.ones(1, 4, dtype=torch.bool), None)
    recalled = torch.tensor([[True, True, True, False]])
    copy = torch.zeros(1, 5, 12)
    copy[0, 0, [7, 8]] = torch.tensor([0.6, 0.4])  # predicting 7: right
    copy[0, 1, [7, 8]] = torch.tensor([0.75, 0.25])  # predicting 8: wrong
    copy[0, 2, [7, 8]] = 0.5
    copy[0, 3, 6] = 1.0
    slot_ids = torch.tensor([[7, 8, 0, 6]])
    summed, count, top = pointer_loss(copy, batch, held_values(slot_ids, batch, recalled))
    assert count == 2 and top == 1
    assert math.isclose(float(summed), -math.log(0.6) - math.log(0.25), rel_tol=1e-6)


def test_the_gate_is_told_to_copy_exactly_at_the_held_values():
    ids = torch.tensor([[3, 7, 8, 9]])
    batch = TokenBatch(ids, torch.ones_like(ids, dtype=torch.bool), torch.tensor([[False, True, True]]), None)
    gate = torch.tensor([[0.0, 2.0, -1.0, 5.0]])  # position i decides about ids[i + 1]
    copyable = torch.tensor([[True, True, False]])  # the first is no answer target: not scored
    expected = math.log1p(math.exp(-2.0)) + math.log1p(math.exp(-1.0))  # -log g(2), -log (1 - g(-1))
    assert math.isclose(float(gate_loss(gate, copyable, batch.targets)), expected, rel_tol=1e-6)


def _pointer_finds_values(model, dialogues) -> dict[str, float]:
    """Teacher-forced over whole dialogues, at the value tokens the pointer is taught to copy
    (`pointed_values`) that a slot holds: how often the pointer's most likely token is the right
    one, its mean -log probability of it, the mean gate there and at the other answer tokens, and
    how many such tokens there were."""
    batches = [turn_batch(dialogues, t, model.config) for t in range(max(len(d) for d in dialogues))]
    right = total = others = 0
    nll = gate_there = gate_elsewhere = 0.0
    stm = model.init_memory(len(dialogues))
    taught = pointed_values(recall_sources(batches, model.config), batches, model.config)
    with torch.no_grad(), recording_pointer(model) as pointed:
        for batch, values in zip(batches, taught, strict=True):
            model(batch.ids, stm)
            copyable = held_values(pointed["ids"], batch, values)
            summed, count, top = pointer_loss(pointed["copy"], batch, copyable)
            right, total, nll = right + top, total + count, nll + float(summed)
            gate = torch.sigmoid(pointed["gate"][:, :-1])
            elsewhere = batch.targets & ~copyable
            gate_there, gate_elsewhere = (
                gate_there + float(gate[copyable].sum()),
                gate_elsewhere + float(gate[elsewhere].sum()),
            )
            others += int(elsewhere.sum())
            stm = batch.written(model.write_memory(stm, batch.ids, batch.mask), stm)
    assert total > 0
    return {
        "top": right / total,
        "nll": nll / total,
        "gate_there": gate_there / total,
        "gate_elsewhere": gate_elsewhere / others,
        "tokens": total,
    }


def _trained(pointer_config, token_dialogues, out, memory_cfg, steps, lr=1e-2, batch_size=8):
    """A seeded tiny pointer model after `steps` stage-4 steps with `memory_cfg`; and its state."""
    torch.manual_seed(0)
    model = ReactiveTransformer(pointer_config)
    cfg = LoopConfig(steps=steps, batch_size=batch_size, lr=lr, warmup_steps=1, log_every=100)
    state = train(
        MemoryAwareStage(model, token_dialogues, cfg, memory_cfg), cfg, Runtime(out, progress=False)
    )
    return model, state


def test_pointer_weight_teaches_the_pointer_where_the_values_are(pointer_config, token_dialogues, tmp_path):
    """Trained the same (keep supervision on, so the values are kept), the supervised pointer
    points at the recalled names and pets, is sure of it, and its gate opens there and stays shut
    elsewhere; the one trained through the mixed output alone gets there by its vocabulary-logit
    prior, far less sure."""
    found = {}
    for weight in (0.0, 1.0):
        memory_cfg = MemoryAwareConfig(keep_weight=1.0, pointer_weight=weight)
        model, state = _trained(pointer_config, token_dialogues, tmp_path / str(weight), memory_cfg, steps=40)
        assert all(("pointer_top" in h) == bool(weight) for h in state.history)
        found[weight] = _pointer_finds_values(model.eval(), token_dialogues)
    told, untold = found[1.0], found[0.0]
    assert told["top"] >= 0.95 and told["top"] > untold["top"] and told["nll"] < untold["nll"] / 2, found
    assert told["gate_there"] > 0.9 and told["gate_elsewhere"] < 0.02, found


def test_a_pointer_reading_the_query_learns_to_copy_what_the_query_just_said(
    pointer_config, token_dialogues, tmp_path
):
    """The same training with `pointer_reads_query`: the acknowledgements ("I am Ann ." -> "Hi Ann
    .") join the recalled values as tokens a slot holds (more than one a dialogue), and the pointer is as sure of them all,
    with its gate open there and shut elsewhere. (64 slots, room for a whole dialogue: with the
    tiny preset's 16, writing the query into the pointer's copy drops the oldest slots, the ones
    the turn's own write is about to drop.)"""
    plain = pointer_config.model_copy(update={"stm_slots": 64})
    reading = plain.model_copy(update={"pointer_reads_query": True})
    memory_cfg = MemoryAwareConfig(keep_weight=1.0, pointer_weight=1.0)
    found = {}
    for name, config in (("plain", plain), ("reading", reading)):
        model, _ = _trained(config, token_dialogues, tmp_path / name, memory_cfg, steps=40)
        found[name] = _pointer_finds_values(model.eval(), token_dialogues)
    assert found["reading"]["tokens"] > found["plain"]["tokens"] + len(token_dialogues), found
    assert found["reading"]["top"] >= 0.95 and found["reading"]["gate_there"] > 0.9, found
    assert found["reading"]["gate_elsewhere"] < 0.05, found


def test_pointer_supervision_needs_the_memory_pointer(config, token_dialogues):
    model = ReactiveTransformer(config)
    with pytest.raises(ValueError, match="memory_pointer=true"):
        MemoryAwareStage(model, token_dialogues, LoopConfig(steps=1), MemoryAwareConfig(pointer_weight=1.0))


def test_the_query_gate_target_needs_a_pointer_that_reads_the_query(pointer_config, token_dialogues):
    """Without the query in the pointer's slots there is nothing for that target to teach."""
    model = ReactiveTransformer(pointer_config)
    memory_cfg = MemoryAwareConfig(pointer_weight=1.0, gate_target="query")
    with pytest.raises(ValueError, match="pointer_reads_query=true"):
        MemoryAwareStage(model, token_dialogues, LoopConfig(steps=1), memory_cfg)


def test_the_better_gate_target_is_the_pointers_share_of_the_target_token():
    """c / (c + h) per target: the pointer says 7 with 0.8 where the head says it with 1/8; the
    head alone can say 5 (target 0); both say 6 alike (target 1/2)."""
    ids = torch.tensor([[3, 7, 5, 6]])
    batch = TokenBatch(ids, torch.ones_like(ids, dtype=torch.bool), torch.ones(1, 3, dtype=torch.bool), None)
    copy = torch.zeros(1, 4, 8)
    copy[0, 0, [7, 2]] = torch.tensor([0.8, 0.2])
    copy[0, 1, 7] = 1.0
    copy[0, 2, 6] = 0.125
    head = torch.zeros(1, 4, 8)  # uniform: h = 1/8 for every token
    wanted = better_than_head(copy, head, batch)
    assert torch.allclose(wanted, torch.tensor([[0.8 / (0.8 + 0.125), 0.0, 0.5]]))


def test_train_only_leaves_every_other_parameter_as_it_was(pointer_config, token_dialogues, tmp_path):
    """--train-only pointer.gate.: the gate's two parameters move, not one weight elsewhere."""
    torch.manual_seed(0)
    before = {name: p.detach().clone() for name, p in ReactiveTransformer(pointer_config).named_parameters()}
    memory_cfg = MemoryAwareConfig(pointer_weight=1.0, gate_target="better", train_only=("pointer.gate.",))
    model, _ = _trained(pointer_config, token_dialogues, tmp_path, memory_cfg, steps=3, batch_size=4)
    moved = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert moved == {"pointer.gate.weight", "pointer.gate.bias"}


def test_train_only_refuses_a_prefix_that_names_no_parameter(pointer_config, token_dialogues):
    model = ReactiveTransformer(pointer_config)
    with pytest.raises(ValueError, match="pointr.gate."):
        MemoryAwareStage(
            model, token_dialogues, LoopConfig(steps=1), MemoryAwareConfig(train_only=("pointr.gate.",))
        )


def test_gate_target_reaches_the_gate_loss(pointer_config, token_dialogues, tmp_path):
    """The same model and batch, the gate told "held values", c/(c+h) or "the query's copies": the
    first step's gate loss (measured before any update) differs only because the target does. The
    query target scores a subset of the values target's positions, wanting the same 1 there, so its
    loss is smaller but not zero (the dialogues' acknowledgements repeat their query's name)."""
    reading = pointer_config.model_copy(update={"stm_slots": 64, "pointer_reads_query": True})
    losses = {}
    for target in ("values", "better", "query"):
        memory_cfg = MemoryAwareConfig(pointer_weight=1.0, gate_target=target)
        _, state = _trained(reading, token_dialogues, tmp_path / target, memory_cfg, steps=1)
        losses[target] = state.history[0]["gate_loss"]
    assert losses["better"] != pytest.approx(losses["values"], rel=1e-3), losses
    assert 0 < losses["query"] < losses["values"], losses


def test_a_pointer_reading_the_query_is_also_taught_the_values_its_query_just_stated(pointer_config):
    """Turn 0 states 20 and 25 and its answer repeats 20; turn 1 states 21 and repeats 25 again,
    and its answer says 21, 25 and the recalled 20. A plain pointer is taught only the recalled 20;
    one that reads the query also the 20 and 21 copied from their own query — not the 25, which an
    earlier turn already held (a word the dialogue keeps using, not a value just stated)."""

    def turn(ids: list[int]) -> TokenBatch:
        row = torch.tensor([ids])
        answer_start = ids.index(pointer_config.answer_id)
        targets = (torch.arange(len(ids) - 1) >= answer_start)[None]
        return TokenBatch(
            row, torch.ones_like(row, dtype=torch.bool), targets, torch.ones(1, dtype=torch.bool)
        )

    batches = [turn([3, 20, 25, 4, 20, 2]), turn([3, 21, 25, 4, 21, 25, 20, 2])]
    sources = recall_sources(batches, pointer_config)
    taught = lambda config: [v[0].tolist() for v in pointed_values(sources, batches, config)]  # noqa: E721
    assert taught(pointer_config) == [[False] * 5, [False, False, False, False, False, True, False]]
    reading = pointer_config.model_copy(update={"pointer_reads_query": True})
    assert taught(reading) == [
        [False, False, False, True, False],
        [False, False, False, True, False, True, False],
    ]
    acknowledged = [v[0].tolist() for v in query_values(sources, batches, reading)]
    assert acknowledged == [
        [False, False, False, True, False],
        [False, False, False, True, False, False, False],
    ]
