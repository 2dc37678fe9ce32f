"""Decoder correctness: causality, KV-cache decoding, pre-cached memory K/V, batch isolation."""

import pytest
import torch

from rxt_core import SamplingParams
from rxt_core.generation import decode_step, prefill

from .conftest import random_stm


def full_logits(model, ids, stm):
    with torch.no_grad():
        logits, _ = model(torch.tensor([ids], device=stm.device), stm)
    return logits[0]


def test_decoder_is_causal(model):
    stm = random_stm(model, 1)
    ids = [3, 10, 11, 12, 13, 4, 20, 21]
    changed = ids[:5] + [99] + ids[6:]
    a, b = full_logits(model, ids, stm), full_logits(model, changed, stm)
    assert torch.allclose(a[:5], b[:5], atol=1e-6), "a later token changed earlier logits"
    assert not torch.allclose(a[5:], b[5:], atol=1e-4), "the changed token had no effect at all"


def test_incremental_decoding_matches_full_forward(model):
    assert_incremental_decoding_matches_full_forward(model, random_stm(model, 3))


def assert_incremental_decoding_matches_full_forward(model, stm):
    """Prefill + per-token decode with the KV cache gives the logits of one full forward pass, for
    a batch whose rows have different prompt lengths (right padding must not leak). Shared with
    the CUDA tests: `stm` (3 rows) sits on the model's device."""
    prompts = [[3, 10, 11, 4], [3, 12, 13, 14, 15, 16, 17, 4], [3, 9, 4]]
    with torch.no_grad():
        logits, state = prefill(model, prompts, model.memory_kv(stm, prompts))
        steps = [logits]
        tokens = [[] for _ in prompts]
        for _ in range(6):
            nxt = logits.argmax(-1)
            for row, t in enumerate(nxt.tolist()):
                tokens[row].append(t)
            logits = decode_step(model, nxt, state)
            steps.append(logits)
    for row, prompt in enumerate(prompts):
        seq = prompt + tokens[row]
        reference = full_logits(model, seq, stm[row : row + 1])
        for step, got in enumerate(steps):
            expected = reference[len(prompt) - 1 + step]
            torch.testing.assert_close(got[row], expected, atol=2e-4, rtol=1e-4)


def test_memory_kv_is_projected_once_per_turn(model):
    """Memory cross-attention K/V come from the STM once, before the prompt — not per token."""
    calls = []
    hooks = [
        b.memory_attention.kv.register_forward_hook(lambda *a: calls.append(1)) for b in model.decoder.blocks
    ]
    stm = random_stm(model, 1)
    answer = model.generate([[7, 8, 9]], stm, SamplingParams(max_new_tokens=10, temperature=1.0))
    for h in hooks:
        h.remove()
    assert len(answer[0]) > 1
    assert len(calls) == model.config.layers


def test_cached_memory_kv_equal_recomputed(model):
    stm = random_stm(model, 2)
    cached = model.memory_kv(stm)
    for i, block in enumerate(model.decoder.blocks):
        k, v = block.memory_attention.project_source(block.memory_source_norm(stm[:, i]))
        torch.testing.assert_close(cached[i][0], k)
        torch.testing.assert_close(cached[i][1], v)
        assert k.shape == (2, model.config.attention.kv_heads, model.config.stm_slots, model.config.head_dim)


def test_batch_isolation(model):
    """Changing session j's STM or query never changes session i's tokens."""
    params = SamplingParams(max_new_tokens=8)
    stm = random_stm(model, 3)
    queries = [[10, 11, 12], [20, 21], [30, 31, 32, 33, 34]]
    batch = model.generate(queries, stm, params)
    solo = [model.generate([q], stm[i : i + 1], params)[0] for i, q in enumerate(queries)]
    assert batch == solo
    stm2 = stm.clone()
    stm2[2] = random_stm(model, 1, seed=7)[0]
    changed = model.generate(queries[:2] + [[40, 41, 42, 43, 44, 45, 46]], stm2, params)
    assert changed[:2] == batch[:2]


def test_memory_is_really_read(model):
    query = torch.tensor([[3, 10, 11, 12, 4]])
    with torch.no_grad():
        a, _ = model(query, random_stm(model, 1, seed=1))
        b, _ = model(query, random_stm(model, 1, seed=2))
    assert (a - b).abs().max() > 1e-3


def test_update_memory_batch_isolation(model):
    stm = random_stm(model, 2)
    both = model.update_memory(stm, [[10, 11], [12]], [[13, 14, 15], [16]])
    first = model.update_memory(stm[:1], [10, 11], [13, 14, 15])
    torch.testing.assert_close(both[:1], first, atol=1e-5, rtol=1e-5)
    assert not torch.equal(both, stm), "memory update changed nothing"
    assert both.shape == stm.shape


def test_interact_streams_the_generate_answer(model):
    stm = random_stm(model, 1)
    streamed = list(model.interact([5, 6, 7], stm, max_new_tokens=6))
    assert streamed == model.generate([[5, 6, 7]], stm, SamplingParams(max_new_tokens=6))[0]
    assert 1 <= len(streamed) <= 6


def test_generation_stops_at_eos(model):
    """From the third forward pass on, EOS wins: the answer is the first two tokens only."""
    calls = []

    def force_eos_later(module, inputs, logits):
        calls.append(1)
        if len(calls) >= 3:
            return logits.index_fill(-1, torch.tensor([model.config.eos_id]), 1e4)

    hook = model.lm_head.register_forward_hook(force_eos_later)
    answer = model.generate([[5, 6]], random_stm(model, 1), SamplingParams(max_new_tokens=20))[0]
    hook.remove()
    assert len(answer) == 2 and model.config.eos_id not in answer


def test_min_new_tokens_rules_out_eos_until_reached(model):
    """EOS always wins here; with min_new_tokens a row still answers that many tokens (then
    stops at EOS), and in a batch only the rows that asked for it (the others end at once)."""
    always_eos = lambda m, i, logits: logits.index_fill(-1, torch.tensor([model.config.eos_id]), 1e4)
    hook = model.lm_head.register_forward_hook(always_eos)
    try:
        params = [SamplingParams(max_new_tokens=10, min_new_tokens=4), SamplingParams(max_new_tokens=10)]
        answers = model.generate([[5, 6], [7, 8, 9]], random_stm(model, 2), params)
    finally:
        hook.remove()
    assert [len(a) for a in answers] == [4, 0]
    assert model.config.eos_id not in answers[0]


def test_min_new_tokens_above_max_new_tokens_is_refused():
    with pytest.raises(ValueError, match="min_new_tokens"):
        SamplingParams(max_new_tokens=4, min_new_tokens=5)


def test_generation_stops_at_token_limit(model):
    never_eos = lambda m, i, logits: logits.index_fill(-1, torch.tensor([model.config.eos_id]), -1e4)
    hook = model.lm_head.register_forward_hook(never_eos)
    answer = model.generate([[5, 6]], random_stm(model, 1), SamplingParams(max_new_tokens=3))[0]
    hook.remove()
    assert len(answer) == 3


def test_answers_never_contain_control_tokens(model):
    """Even when the model prefers [PAD]/[BOS]/[Q]/[A]/[MASK] above everything, sampled or greedy
    answers hold only real tokens (and still end at [EOS] or the limit)."""
    config = model.config
    control = [config.pad_id, config.bos_id, config.query_id, config.answer_id, config.mask_id]
    prefer_control = lambda m, i, logits: logits.index_fill(-1, torch.tensor(control), 1e4)
    hook = model.lm_head.register_forward_hook(prefer_control)
    params = [SamplingParams(max_new_tokens=8), SamplingParams(max_new_tokens=8, temperature=1.0)]
    answers = model.generate([[7, 8], [9, 10]], random_stm(model, 2), params)
    hook.remove()
    assert all(answers) and not set(control) & {t for a in answers for t in a}


def test_generation_respects_position_limit(model):
    limit = model.config.max_seq_len
    query = list(range(10, 10 + limit - 5))
    answer = model.generate([query], random_stm(model, 1), SamplingParams(max_new_tokens=50))[0]
    assert len(query) + 2 + len(answer) <= limit - 1


def test_stateless_incremental_decoding_matches_full_forward(stateless):
    history = [([10, 11], [12, 13, 14]), ([15], [16, 17])]
    prompt = stateless.history_prompt(history, [18, 19])
    answer = list(stateless.interact([18, 19], history, SamplingParams(max_new_tokens=5)))
    with torch.no_grad():
        logits, _ = stateless(torch.tensor([prompt + answer]))
    assert answer == logits[0, len(prompt) - 1 : -1].argmax(-1).tolist()[: len(answer)]


def test_batched_generation_under_bf16_autocast(model):
    """On a GPU generation runs under bf16 autocast: the KV cache must take the bf16 K/V of a
    batched decode step (an index put refuses mixed dtypes), and rows must stay apart."""
    params = SamplingParams(max_new_tokens=8)
    stm = random_stm(model, 3)
    queries = [[10, 11, 12], [20, 21], [30, 31, 32, 33, 34]]
    other = stm.clone()
    other[1] = random_stm(model, 1, seed=7)[0]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        first = model.generate(queries, stm, params)
        second = model.generate([queries[0], [40, 41, 42], queries[2]], other, params)
    assert all(len(answer) == 8 for answer in first)
    assert [first[0], first[2]] == [second[0], second[2]]
