"""Attention head layouts (MHA/GQA/SQA), MoE routing paths and sampling."""

import pytest
import torch

from rxt_core import AttentionConfig, MoEConfig, ReactiveTransformer, SamplingParams, preset
from rxt_core.attention import SelfAttention
from rxt_core.moe import MoEFeedForward
from rxt_core.rope import RotaryEmbedding
from rxt_core.sampling import sample


@pytest.mark.parametrize(
    ("heads", "kind", "q_cols", "kv_cols"),
    [
        (AttentionConfig(heads=8, query_heads=8, kv_heads=8), "mha", 256, 256),
        (AttentionConfig(heads=8, query_heads=8, kv_heads=2), "gqa", 256, 64),
        (AttentionConfig(heads=8, query_heads=4, kv_heads=2), "sqa", 128, 64),
    ],
)
def test_head_layout_sets_projection_shapes(heads, kind, q_cols, kv_cols):
    assert heads.kind == kind
    attn = SelfAttention(256, heads, 32, RotaryEmbedding(32, 16))
    assert attn.qkv.weight.shape == (q_cols + 2 * kv_cols, 256)
    assert attn.out.weight.shape == (256, q_cols)
    x = torch.randn(2, 5, 256)
    q, k, v = attn._project(x, torch.arange(5).expand(2, 5))
    assert q.shape == (2, heads.query_heads, 5, 32) and k.shape == v.shape == (2, heads.kv_heads, 5, 32)
    assert attn(x, torch.arange(5).expand(2, 5), causal=True).shape == x.shape


def test_bench_22m_parameter_counts():
    """SQA 8/4/2 at dim 256: Q 256x128, K and V 256x64 each, O 128x256 per attention layer."""
    model = ReactiveTransformer(preset("bench-22m"))
    block = model.decoder.blocks[0]
    assert sum(p.numel() for p in block.self_attention.parameters()) == 256 * (128 + 64 + 64) + 128 * 256
    total = sum(p.numel() for p in model.parameters())
    assert 20e6 < total < 24e6, total


@pytest.mark.parametrize(
    "bad",
    [
        dict(heads=8, query_heads=2, kv_heads=4),
        dict(heads=4, query_heads=8, kv_heads=2),
        dict(heads=8, query_heads=6, kv_heads=4),
    ],
)
def test_invalid_head_layouts_are_refused(bad):
    with pytest.raises(ValueError):
        AttentionConfig(**bad)


def test_moe_grouped_and_dense_paths_agree():
    """Few tokens run every expert densely, many tokens are grouped by expert: same numbers."""
    moe = MoEFeedForward(32, MoEConfig(experts=4, top_k=2, shared_experts=1, expert_hidden=48))
    x = torch.randn(40, 32)
    with torch.no_grad():
        probs = torch.softmax(moe.router(x), -1)
        w, i = probs.topk(2, -1)
        w = w / w.sum(-1, keepdim=True)
        torch.testing.assert_close(
            moe._all_experts(x, w, i), moe._grouped_experts(x, w, i), atol=1e-5, rtol=1e-5
        )


def test_moe_uses_only_top_k_experts():
    moe = MoEFeedForward(16, MoEConfig(experts=4, top_k=1, shared_experts=0, expert_hidden=8))
    x = torch.randn(1, 16)
    with torch.no_grad():
        expert = moe.router(x).argmax(-1).item()
        out, _ = moe(x)
        manual = moe._expert_mlp(x, moe.gate_up[expert], moe.down[expert])
    torch.testing.assert_close(out, manual)


def test_moe_balance_loss_is_one_when_uniform_and_has_gradient():
    moe = MoEFeedForward(16, MoEConfig(experts=4, top_k=2, shared_experts=0, expert_hidden=8))
    torch.nn.init.zeros_(moe.router.weight)  # uniform router probabilities
    _, aux = moe(torch.randn(64, 16))
    assert aux.item() == pytest.approx(1.0, abs=1e-5)
    moe.router.weight.data.normal_()
    _, aux = moe(torch.randn(64, 16))
    aux.backward()
    assert moe.router.weight.grad.abs().sum() > 0


def test_sampling_filters():
    logits = torch.tensor([[0.0, 3.0, 2.9, -1.0], [5.0, 0.0, 0.0, 0.0]])
    gen = torch.Generator().manual_seed(0)
    greedy = sample(logits, [SamplingParams()] * 2)
    assert greedy.tolist() == [1, 0]
    top1 = SamplingParams(temperature=5.0, top_k=1)
    assert sample(logits, [top1, top1], gen).tolist() == [1, 0]
    tiny_p = SamplingParams(temperature=5.0, top_p=0.01)
    assert sample(logits, [tiny_p, tiny_p], gen).tolist() == [1, 0]
    # top-k 2 at high temperature: only tokens 1 and 2 ever appear in row 0
    seen = {
        sample(logits, [SamplingParams(temperature=10.0, top_k=2)] * 2, gen)[0].item() for _ in range(200)
    }
    assert seen == {1, 2}
    # per-row settings: row 1 greedy while row 0 samples
    mixed = [
        sample(logits, [SamplingParams(temperature=10.0), SamplingParams()], gen)[1].item() for _ in range(20)
    ]
    assert set(mixed) == {0}


def test_sampling_is_reproducible_with_a_generator(model):
    stm = model.init_memory(1)
    params = SamplingParams(temperature=1.5, max_new_tokens=8)
    a = model.generate([[7, 8]], stm, params, torch.Generator().manual_seed(3))
    b = model.generate([[7, 8]], stm, params, torch.Generator().manual_seed(3))
    assert a == b


def test_invalid_sampling_params_are_refused():
    for bad in (
        dict(temperature=-1),
        dict(top_p=0.0),
        dict(top_p=1.5),
        dict(max_new_tokens=0),
        dict(top_k=-2),
    ):
        with pytest.raises(ValueError):
            SamplingParams(**bad)
