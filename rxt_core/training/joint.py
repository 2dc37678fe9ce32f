"""Stages 1 and 2: joint LM pre-training and joint interaction SFT (paper §3, Eq. 5).

The same algorithm on different rows: stage 1 on plain text (`[BOS] text [EOS]`), stage 2 on
single interactions (`[Q] query [A] answer [EOS]`, unconnected to each other).
- the encoder reads a masked copy of the row; an MLM head (owned here, not saved with the
  model) predicts the masked tokens from `encoder.norm` of its last layer: L_MLM;
- the decoder reads the row autoregressively, its memory cross-attention attending to the
  encoder's per-layer states, *detached* (no decoder gradient reaches the encoder) plus
  Gaussian noise of `noise_std` times their standard deviation (for `swap_prob` of the rows:
  another row's states): L_AR over every next token, the answer tokens that also occur in the
  query weighted `copy_weight` times (1: a plain mean);
- L = alpha * L_AR + beta * L_MLM + moe.aux_loss_weight * L_aux.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..model import ReactiveTransformer
from .batching import TokenBatch, batch_indices, lm_batch
from .config import JointConfig, LoopConfig
from .copy_targets import SPECIAL_IDS, copied_targets
from .loop import StepResult
from .losses import next_token_nll, weighted_next_token_nll


class MLMHead(nn.Module):
    """Masked-token prediction from the encoder's last layer (training only)."""

    def __init__(self, dim: int, vocab_size: int):
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, vocab_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.out(F.gelu(self.proj(hidden)))


class JointStage:
    def __init__(
        self,
        name: str,
        model: ReactiveTransformer,
        rows: list[list[int]],
        loop: LoopConfig,
        cfg: JointConfig,
    ):
        if not rows:
            raise ValueError(f"stage {name}: no training rows")
        self.name, self.model, self.rows, self.loop, self.cfg = name, model, rows, loop, cfg
        self.mlm_head = MLMHead(model.config.dim, model.config.vocab_size).to(model.device)

    def modules(self) -> dict[str, nn.Module]:
        return {"model": self.model, "mlm_head": self.mlm_head}

    def prepare(self, step: int) -> None:
        pass

    def step(self, step: int, rank: int, world: int, generator: torch.Generator) -> StepResult:
        picked = batch_indices(step, self.loop.batch_size, len(self.rows), self.loop.seed, rank, world)
        batch = lm_batch([self.rows[i] for i in picked], self.model.config.pad_id)
        loss, ar, mlm, aux = self.losses(batch, generator)
        loss.backward()
        metrics = {"ar_loss": float(ar), "mlm_loss": float(mlm), "moe_aux": float(aux)}
        return StepResult(float(loss.detach()), 2 * batch.token_count, metrics)

    def losses(self, batch: TokenBatch, generator: torch.Generator):
        config = self.model.config
        masked, chosen = mask_tokens(batch.ids, batch.mask, self.cfg.mask_prob, config, generator)
        device = self.model.device
        batch, masked, chosen = batch.to(device), masked.to(device), chosen.to(device)
        states = self.model.encode(masked, batch.mask)
        mlm_logits = self.mlm_head(self.model.encoder.norm(states[-1][chosen]))
        mlm = F.cross_entropy(mlm_logits.float(), batch.ids[chosen])
        memory = torch.stack([s.detach() for s in states], dim=1)  # [B, L, T, D]
        if self.cfg.noise_std > 0:
            scale = self.cfg.noise_std * memory.std()
            memory = memory + scale * torch.randn(memory.shape, generator=generator).to(device)
        memory, memory_mask = self._swap_rows(memory, batch.mask, generator)
        logits, aux = self.model(batch.ids, memory, memory_mask)
        if self.cfg.copy_weight == 1:
            nll, _ = next_token_nll(logits, batch)
            ar = fitted = nll / max(batch.target_count, 1)
        else:
            weights = 1 + (self.cfg.copy_weight - 1) * copied_targets(batch.ids, batch.mask, config).float()
            nll, weighted, _ = weighted_next_token_nll(logits, batch, weights)
            ar, fitted = nll / max(batch.target_count, 1), weighted / weights[batch.targets].sum()
        loss = self.cfg.alpha * fitted + self.cfg.beta * mlm + config.moe.aux_loss_weight * aux
        return loss, ar.detach(), mlm.detach(), aux.detach()

    def _swap_rows(self, memory: torch.Tensor, mask: torch.Tensor, generator: torch.Generator):
        """Give `swap_prob` of the rows the next row's memory (and its padding mask)."""
        if self.cfg.swap_prob == 0 or len(memory) < 2:
            return memory, mask
        swap = (torch.rand(len(memory), generator=generator) < self.cfg.swap_prob).to(memory.device)
        memory = torch.where(swap[:, None, None, None], memory.roll(1, 0), memory)
        return memory, torch.where(swap[:, None], mask.roll(1, 0), mask)


def mask_tokens(ids: torch.Tensor, mask: torch.Tensor, prob: float, config, generator: torch.Generator):
    """BERT-style masking of real, non-special tokens: of the chosen, 80% become [MASK], 10% a
    random token, 10% stay. At least one token per batch is chosen."""
    eligible = mask & (ids >= SPECIAL_IDS)
    draw = torch.rand(ids.shape, generator=generator)
    chosen = eligible & (draw < prob)
    if not chosen.any():
        first = eligible.nonzero()[:1]
        if len(first) == 0:  # rows made of special tokens only: pick any real token
            first = mask.nonzero()[:1]
        chosen[first[:, 0], first[:, 1]] = True
    action = torch.rand(ids.shape, generator=generator)
    random_ids = torch.randint(SPECIAL_IDS, config.vocab_size, ids.shape, generator=generator)
    masked = torch.where(chosen & (action < 0.8), torch.full_like(ids, config.mask_id), ids)
    masked = torch.where(chosen & (action >= 0.8) & (action < 0.9), random_ids, masked)
    return masked, chosen


def interaction_rows(dialogues, config) -> list[list[int]]:
    """Stage 2 rows: every turn of every dialogue as its own interaction."""
    from ..interaction import interaction_ids

    return [interaction_ids(t.query, t.answer, config) for d in dialogues for t in d]


def text_rows(texts, tokenizer, config) -> list[list[int]]:
    """Stage 1 rows: `[BOS] text [EOS]`, texts longer than the positions cut into chunks."""
    rows = []
    width = config.max_seq_len - 2
    for text in texts:
        ids = tokenizer.encode(text)
        for start in range(0, max(len(ids), 1), width):
            chunk = ids[start : start + width]
            if chunk:
                rows.append([config.bos_id, *chunk, config.eos_id])
    return rows
