"""Memory attention variants, residual gates and STM initialisation."""

import itertools

import pytest
import torch

from rxt_core import GateConfig, ReactiveTransformer, preset
from rxt_core.gates import ResidualGate

from .conftest import random_stm

VARIANTS = ["simple", "self", "interlayer", "gated-self-interlayer"]
GATE_KINDS = ["static", "per-slot", "per-feature", "linear"]


def build(variant="interlayer", **gate):
    return ReactiveTransformer(preset("tiny", memory_attention=variant, gate=GateConfig(**gate))).eval()


def write(model, stm, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(6, model.config.vocab_size, (stm.shape[0], 12), generator=g)
    mask = torch.ones_like(ids, dtype=torch.bool)
    with torch.no_grad():
        return model.write_memory(stm, ids, mask)


@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_builds_what_its_name_says(variant):
    layer = build(variant).memory_attention.layers[0]
    assert layer.variant == variant
    has_pre = hasattr(layer, "pre_attention")
    assert has_pre == (variant != "simple")
    assert hasattr(layer, "source_gate") == (variant == "gated-self-interlayer")
    assert hasattr(layer, "pre_gate") == (variant != "simple")


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("kind", ["per-slot", "linear"])
def test_closed_gates_keep_the_memory(variant, kind):
    """Every write into the STM passes a residual gate, pre-steps included: with the gates shut
    the memory does not move, so nothing can pile up in it turn after turn."""
    model = build(variant, kind=kind, init_bias=-40.0)
    stm = random_stm(model, 2)
    torch.testing.assert_close(write(model, stm), stm, atol=1e-6, rtol=0)


@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_reads_other_layers_only_when_it_should(variant):
    """simple/self update each STM layer from that layer alone; interlayer variants also read
    the other layers."""
    model = build(variant)
    stm = random_stm(model, 1)
    base = write(model, stm)
    other = stm.clone()
    other[:, 1] = random_stm(model, 1, seed=5)[:, 1]
    layer0_changed = not torch.allclose(write(model, other)[:, 0], base[:, 0], atol=1e-6)
    assert layer0_changed == (variant in ("interlayer", "gated-self-interlayer"))


def test_self_variant_mixes_slots_and_simple_does_not():
    """In `simple`, a slot's update depends on that slot and ED only; in `self`, on the other
    slots too."""
    for variant, expect_mixing in (("simple", False), ("self", True)):
        model = build(variant)
        stm = random_stm(model, 1)
        changed = stm.clone()
        changed[:, :, 1:] = random_stm(model, 1, seed=9)[:, :, 1:]
        slot0_changed = not torch.allclose(
            write(model, stm)[:, :, 0], write(model, changed)[:, :, 0], atol=1e-6
        )
        assert slot0_changed == expect_mixing, variant


@pytest.mark.parametrize("kind", GATE_KINDS)
def test_sigmoid_gate_is_a_convex_mix(kind):
    gate = ResidualGate(16, 8, GateConfig(activation="sigmoid", kind=kind, init_bias=0.3))
    old, update = torch.randn(2, 8, 16), torch.randn(2, 8, 16)
    with torch.no_grad():
        out, g = gate(old, update), gate.gate(old, update)
    assert ((g > 0) & (g < 1)).all()
    torch.testing.assert_close(out, (1 - g) * old + g * update)
    lo, hi = torch.minimum(old, update), torch.maximum(old, update)
    assert ((out >= lo - 1e-6) & (out <= hi + 1e-6)).all()


@pytest.mark.parametrize("kind", GATE_KINDS)
def test_tanh_gate_formula(kind):
    gate = ResidualGate(16, 8, GateConfig(activation="tanh", kind=kind, init_bias=0.3))
    old, update = torch.randn(2, 8, 16), torch.randn(2, 8, 16)
    with torch.no_grad():
        g = gate.gate(old, update)
        torch.testing.assert_close(gate(old, update), (1 - g) * old + (1 + g) * update)
    assert ((g > -1) & (g < 1)).all()


def test_gate_kinds_have_the_named_shape():
    shapes = {"static": (1,), "per-slot": (8, 1), "per-feature": (16,)}
    for kind, shape in shapes.items():
        assert ResidualGate(16, 8, GateConfig(kind=kind)).logit.shape == shape
    linear = ResidualGate(16, 8, GateConfig(kind="linear"))
    old, update = torch.randn(1, 8, 16), torch.randn(1, 8, 16)
    g1, g2 = linear.gate(old, update), linear.gate(old * 3, update)
    assert g1.shape == (1, 8, 16) and not torch.allclose(g1, g2), "linear gate must depend on its inputs"


@pytest.mark.parametrize(
    ("variant", "kind", "activation"),
    [(v, "linear", "sigmoid") for v in VARIANTS]
    + [
        ("simple", k, a)
        for k, a in itertools.product(GATE_KINDS, ["sigmoid", "tanh"])
        if (k, a) != ("linear", "sigmoid")
    ],
)
def test_every_variant_and_gate_trains(variant, kind, activation):
    """Stage-3-style objective: the memory should move toward a target built from STM and ED."""
    torch.manual_seed(0)
    model = build(variant, kind=kind, activation=activation).train()
    params = list(model.memory_attention.parameters()) + list(model.encoder.parameters())
    opt = torch.optim.Adam(params, lr=3e-3)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(6, model.config.vocab_size, (4, 10), generator=g)
    mask = torch.ones_like(ids, dtype=torch.bool)
    stm = torch.randn((4, *model.stm_shape), generator=g)
    target = torch.randn((4, *model.stm_shape), generator=g)
    losses = []
    for _ in range(15):
        new = model.write_memory(stm, ids, mask)
        loss = -torch.nn.functional.cosine_similarity(new, target, dim=-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.02, losses


def test_memory_layer_pre_step_sources():
    sources = {v: build(v).memory_attention.layers[0].pre_source for v in VARIANTS}
    assert sources == {
        "simple": None,
        "self": "self",
        "interlayer": "other-layers",
        "gated-self-interlayer": "gated-mix",
    }


@pytest.mark.parametrize("kind", ["zeros", "normal", "learned"])
def test_init_memory(kind):
    model = ReactiveTransformer(preset("tiny", stm_init=kind))
    stm = model.init_memory(3, generator=torch.Generator().manual_seed(0))
    assert stm.shape == (3, *model.stm_shape) and stm.dtype == torch.float32
    if kind == "zeros":
        assert not stm.any()
    elif kind == "normal":
        again = model.init_memory(3, generator=torch.Generator().manual_seed(0))
        assert torch.equal(stm, again) and not torch.equal(stm[0], stm[1])
        assert abs(stm.std().item() - model.config.stm_init_std) < 0.2 * model.config.stm_init_std
    else:
        assert torch.equal(stm[0], model.stm_init.detach()) and torch.equal(stm[0], stm[2])
