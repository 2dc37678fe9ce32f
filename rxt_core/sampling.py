"""Token sampling: greedy, temperature, top-k and top-p, with per-row settings so one batch
can serve sessions that asked for different sampling."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator


class SamplingParams(BaseModel):
    """temperature 0 means greedy. top_k 0 and top_p 1.0 disable those filters. The answer may
    not end (EOS) before `min_new_tokens` tokens: benchmarks use it to compare equal work, as
    serving systems' `min_tokens` (the position limit still ends an answer early)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_new_tokens: int = Field(64, ge=1)
    min_new_tokens: int = Field(0, ge=0)
    temperature: float = Field(0.0, ge=0.0)
    top_k: int = Field(0, ge=0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)

    @model_validator(mode="after")
    def _min_within_max(self) -> SamplingParams:
        if self.min_new_tokens > self.max_new_tokens:
            raise ValueError(
                f"min_new_tokens ({self.min_new_tokens}) must not exceed max_new_tokens ({self.max_new_tokens})"
            )
        return self


def forbid_early_eos(
    logits: torch.Tensor, params: Sequence[SamplingParams], produced: Sequence[int], eos_id: int
) -> torch.Tensor:
    """logits [B, V] with EOS ruled out in the rows that have produced fewer than their
    `min_new_tokens` tokens."""
    early = [n < p.min_new_tokens for p, n in zip(params, produced, strict=True)]
    if not any(early):
        return logits
    rows = torch.tensor(early, device=logits.device)
    eos = torch.zeros(logits.shape[-1], dtype=torch.bool, device=logits.device)
    eos[eos_id] = True
    return logits.masked_fill(rows[:, None] & eos, float("-inf"))


def sample(
    logits: torch.Tensor, params: Sequence[SamplingParams], generator: torch.Generator | None = None
) -> torch.Tensor:
    """logits [B, V] -> token ids [B], row b drawn with params[b]."""
    greedy = logits.argmax(dim=-1)
    if all(p.temperature == 0 for p in params):
        return greedy
    logits = logits.float()
    device = logits.device
    temperature = torch.tensor([max(p.temperature, 1e-6) for p in params], device=device)
    logits = logits / temperature.unsqueeze(1)
    if any(p.top_k > 0 or p.top_p < 1.0 for p in params):
        logits = _filter_top_k_top_p(logits, params)
    probs = torch.softmax(logits, dim=-1)
    drawn = torch.multinomial(probs, 1, generator=generator).squeeze(1)
    is_greedy = torch.tensor([p.temperature == 0 for p in params], device=device)
    return torch.where(is_greedy, greedy, drawn)


def _filter_top_k_top_p(logits: torch.Tensor, params: Sequence[SamplingParams]) -> torch.Tensor:
    vocab = logits.shape[-1]
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    ranks = torch.arange(vocab, device=logits.device).unsqueeze(0)
    top_k = torch.tensor([p.top_k if p.top_k > 0 else vocab for p in params], device=logits.device)
    drop = ranks >= top_k.unsqueeze(1)
    top_p = torch.tensor([p.top_p for p in params], device=logits.device)
    probs = torch.softmax(sorted_logits.masked_fill(drop, float("-inf")), dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs  # keep the smallest prefix reaching top_p
    drop |= mass_before >= top_p.unsqueeze(1)
    sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
    return torch.full_like(logits, float("-inf")).scatter(1, order, sorted_logits)
