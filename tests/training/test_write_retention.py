"""Write retention: with gates of known value the share of a write left d turns later is exact."""

import math

import pytest

from rxt_core import ReactiveTransformer
from rxt_core.config import GateConfig
from rxt_core.training.write_retention import write_retention


def model_with_static_gates(config, variant: str, logit: float, activation: str = "sigmoid"):
    gate = GateConfig(kind="static", init_bias=logit, activation=activation)
    return ReactiveTransformer(config.model_copy(update={"gate": gate, "memory_attention": variant})).eval()


def test_a_fixed_gate_keeps_one_minus_g_per_turn(config, token_dialogues):
    g = 1 / (1 + math.exp(-0.5))  # sigmoid(0.5): every update overwrites 62% of every entry
    model = model_with_static_gates(config, "simple", 0.5)
    retention = write_retention(model, token_dialogues)
    assert retention.mean_write == pytest.approx(g, rel=1e-5)
    assert sorted(retention.share_left) == [1, 2, 3, 4]  # five-turn dialogues
    for d, share in retention.share_left.items():
        assert share == pytest.approx((1 - g) ** d, rel=1e-5)


def test_the_pre_step_gate_counts_as_a_write(config, token_dialogues):
    """In the self variant the pre-step mixes slots through its own gate before the update."""
    g = 1 / (1 + math.exp(1.0))
    model = model_with_static_gates(config, "self", -1.0)
    retention = write_retention(model, token_dialogues)
    assert retention.mean_write == pytest.approx(1 - (1 - g) ** 2, rel=1e-5)
    for d, share in retention.share_left.items():
        assert share == pytest.approx((1 - g) ** (2 * d), rel=1e-5)


def test_tanh_gates_are_refused(config, token_dialogues):
    with pytest.raises(ValueError, match="sigmoid"):
        write_retention(model_with_static_gates(config, "simple", 0.0, "tanh"), token_dialogues)


def test_the_slot_write_is_measured(config, token_dialogues):
    """The slot write's allocated weights are what it keeps and replaces; tanh residual gates,
    which the slot write does not use, do not stop the measurement."""
    gate = GateConfig(activation="tanh")
    model = ReactiveTransformer(
        config.model_copy(update={"memory_write": "slot", "memory_attention": "simple", "gate": gate})
    ).eval()
    retention = write_retention(model, token_dialogues)
    assert 0 < retention.mean_write < 1
    shares = [retention.share_left[d] for d in sorted(retention.share_left)]
    assert all(0 < s <= 1 for s in shares) and shares == sorted(shares, reverse=True)
