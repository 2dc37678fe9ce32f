"""Incremental decoding shared by `ReactiveTransformer` and `StatelessLM`.

Small pure functions in the gpt-fast style: `prefill` runs the prompt of every row at once and
fills a pre-allocated KV cache, `decode_step` feeds one token per row. A `DecodeState` is the
whole per-batch state; `select`/`concat` let a scheduler drop finished rows and add new ones
between steps (continuous batching) without touching the other rows.

Rows are independent: each has its own prompt length, cache length, positions and (for RxT)
memory K/V, so padding never leaks between sessions.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from .attention import KVCache
from .interaction import pad_batch
from .sampling import SamplingParams, forbid_early_eos, sample


@dataclass
class DecodeState:
    caches: list[KVCache]
    memory_kv: list[tuple[torch.Tensor, ...]] | None  # per layer K, V; the pointer's slots last
    lengths: torch.Tensor  # [B] tokens held in each row's cache
    host_lengths: list[int]  # the same on the host: no device sync to size the attention span

    @property
    def batch_size(self) -> int:
        return len(self.host_lengths)


def autocast_for(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA; plain fp32 elsewhere."""
    if device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def kv_cache_dtype(model) -> torch.dtype:
    """What the KV cache holds: autocast's dtype when it is on (bf16 on CUDA: half the memory;
    decoding casts K and V to it, they can come out in different dtypes), else the weights'."""
    device_type = model.device.type
    if torch.is_autocast_enabled(device_type):
        return torch.get_autocast_dtype(device_type)
    return model.embedding.weight.dtype


def answer_limit(config, prompt_length: int, max_new_tokens: int) -> int:
    """How many tokens a row may generate: its own limit, capped so that prompt + answer + [EOS]
    still fit the model's positions (the memory encoder reads the whole interaction)."""
    return min(max_new_tokens, config.max_seq_len - 1 - prompt_length)


def without_control_tokens(logits: torch.Tensor, config) -> torch.Tensor:
    """Next-token logits with [PAD], [BOS], [Q], [A] and [MASK] ruled out: an answer may only end
    with [EOS]; a control token inside it would corrupt the interaction the memory encoder reads
    (and decodes to no text, so a client would see an empty stream)."""
    control = (config.pad_id, config.bos_id, config.query_id, config.answer_id, config.mask_id)
    return logits.index_fill(-1, _id_tensor(control, logits.device), float("-inf"))


@functools.cache
def _id_tensor(ids: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """Token ids as a tensor on `device`, built once (not on every decode step)."""
    return torch.tensor(ids, device=device)


def prefill(model, prompts: list[list[int]], memory_kv=None) -> tuple[torch.Tensor, DecodeState]:
    """Run right-padded prompts through the decoder; returns each row's next-token logits [B, V]
    and the decode state. `model` is a ReactiveTransformer or StatelessLM."""
    config, device = model.config, model.device
    ids, mask = pad_batch(prompts, config.pad_id, device)
    batch, width = ids.shape
    dtype = kv_cache_dtype(model)
    caches = [
        KVCache.empty(batch, config.attention.kv_heads, config.max_seq_len, config.head_dim, device, dtype)
        for _ in model.decoder.blocks
    ]
    positions = torch.arange(width, device=device).expand(batch, width)
    hidden, _ = model.decoder(model.embedding(ids), positions, memory_kv=memory_kv, caches=caches)
    lengths = mask.sum(dim=1)
    rows = torch.arange(batch, device=device)
    last = hidden[rows, lengths - 1]
    state = DecodeState(caches, memory_kv, lengths, [len(p) for p in prompts])
    return model.next_token_logits(last, memory_kv, ids[rows, lengths - 1]), state


def decode_step(model, tokens: torch.Tensor, state: DecodeState) -> torch.Tensor:
    """Feed one token per row (at each row's own position); returns logits [B, V] and advances
    the state in place."""
    span = max(state.host_lengths) + 1
    x = model.embedding(tokens.unsqueeze(1))
    hidden, _ = model.decoder(
        x, state.lengths.unsqueeze(1), memory_kv=state.memory_kv, caches=state.caches, decode_span=span
    )
    state.lengths = state.lengths + 1
    state.host_lengths = [n + 1 for n in state.host_lengths]
    return model.next_token_logits(hidden[:, 0], state.memory_kv, tokens)


def stream(
    model,
    prompts: list[list[int]],
    params: list[SamplingParams],
    memory_kv=None,
    generator: torch.Generator | None = None,
) -> Iterator[list[int | None]]:
    """Batched generation as a stream: yields one list per step with the new token of each row,
    or None for rows that have finished (EOS, their token limit, or the position limit). The
    EOS token itself is not yielded."""
    config = model.config
    limits = [
        answer_limit(config, len(prompt), p.max_new_tokens) for p, prompt in zip(params, prompts, strict=True)
    ]
    done = [limit <= 0 for limit in limits]
    produced = [0] * len(prompts)
    with torch.inference_mode(), autocast_for(model.device):
        logits, state = prefill(model, prompts, memory_kv)
        while True:
            logits = forbid_early_eos(without_control_tokens(logits, config), params, produced, config.eos_id)
            tokens = sample(logits, params, generator)
            step: list[int | None] = []
            for row, token in enumerate(tokens.tolist()):
                if done[row] or token == config.eos_id:
                    done[row] = True
                    step.append(None)
                    continue
                step.append(token)
                produced[row] += 1
                done[row] = produced[row] >= limits[row]
            if any(t is not None for t in step):
                yield step
            if all(done):
                return
            logits = decode_step(model, tokens, state)
