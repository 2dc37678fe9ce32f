"""Stage 3: self-supervised memory-attention pre-training (paper §3, Eq. 6-7).

Over the turns of a dialogue, starting from STM_0 = the model's initial memory plus N(0, 0.02)
noise:
    ED_t     = encoder(I_t)                      (no gradient: the encoder is frozen here)
    STM_t    = MemAttn(STM_{t-1}, ED_t)
    target_t = (1 - w_t) * STM_{t-1} + w_t * mean_tokens(ED_t)   (the masked token mean of each
               encoder layer, broadcast to every slot of that STM layer)
    L        = mean_t (1 - cosine(STM_t, target_t))  (per slot; = -cosine up to a constant)
w_t follows `MemoryPretrainConfig` (0.9 at the first turn, then falling). STM_t is detached
before the next turn: this stage only gives memory attention a sensible starting point
(a "cold start" fix); stage 4 trains it through whole dialogues.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..model import ReactiveTransformer
from .batching import TokenDialogue, batch_indices, turn_batch
from .config import LoopConfig, MemoryPretrainConfig
from .loop import StepResult


class MemoryPretrainStage:
    name = "3"

    def __init__(
        self,
        model: ReactiveTransformer,
        dialogues: list[TokenDialogue],
        loop: LoopConfig,
        cfg: MemoryPretrainConfig,
    ):
        self.model, self.dialogues, self.loop, self.cfg = model, dialogues, loop, cfg
        self.lengths = [len(d) for d in dialogues]

    def modules(self) -> dict[str, nn.Module]:
        return {"model": self.model}

    def prepare(self, step: int) -> None:
        for name, p in self.model.named_parameters():
            p.requires_grad_(name.startswith("memory_attention."))

    def weight(self, t: int, generator: torch.Generator) -> float:
        c = self.cfg
        w = c.first_weight if t == 0 else max(c.min_weight, c.second_weight - c.decay * (t - 1))
        jitter = (torch.rand((), generator=generator).item() * 2 - 1) * c.jitter
        return min(1.0, max(0.0, w + jitter))

    def step(self, step: int, rank: int, world: int, generator: torch.Generator) -> StepResult:
        picked = batch_indices(
            step, self.loop.batch_size, len(self.dialogues), self.loop.seed, rank, world, self.lengths
        )
        dialogues = [self.dialogues[i] for i in picked]
        model, config = self.model, self.model.config
        stm = model.init_memory(len(dialogues))
        stm = stm + 0.02 * torch.randn(stm.shape, generator=generator).to(model.device)
        turns = max(len(d) for d in dialogues)
        total, counted, tokens = 0.0, 0, 0
        for t in range(turns):
            batch = turn_batch(dialogues, t, config)
            batch = batch.to(model.device)
            positions = torch.arange(batch.ids.shape[1], device=model.device).expand_as(batch.ids)
            with torch.no_grad():
                encoded = model.encode(batch.ids, batch.mask)
            new = model.memory_attention(stm, encoded, positions, batch.mask)
            weights = batch.mask.unsqueeze(-1).float()
            pooled = torch.stack([(e * weights).sum(1) / weights.sum(1) for e in encoded], dim=1)  # [B, L, D]
            w = self.weight(t, generator)
            target = (1 - w) * stm + w * pooled.unsqueeze(2)
            cos = F.cosine_similarity(new, target, dim=-1).mean(dim=(1, 2))  # [B]
            present = batch.present.float()
            loss = ((1 - cos) * present).sum() / present.sum() / turns
            loss.backward()
            total += float(loss.detach()) * turns
            counted += 1
            tokens += 2 * batch.token_count
            stm = batch.written(new.detach(), stm)
        return StepResult(total / counted, tokens)
