"""The stateless baseline: a decoder-only `StatelessLM` trained on the same dialogues, each seen
whole (`[Q] q1 [A] a1 [EOS] [Q] q2 ...`), so every answer is predicted with the full history in
context — what a stateless chat model re-reads every turn. The loss is on the same tokens as
stage 4's (every answer and its [EOS]), so perplexities compare one to one.
"""

from __future__ import annotations

import torch
from torch import nn

from ..config import RxTConfig
from ..model import ReactiveTransformer
from ..stateless import StatelessLM
from .batching import TokenDialogue, batch_indices, dialogue_row, history_batch
from .config import LoopConfig
from .loop import StepResult
from .losses import next_token_nll

MIN_PARAM_RATIO = 1.5  # the paper's comparison: a stateless LM with more parameters than RxT


def baseline_config(rxt: RxTConfig, layers: int | None, max_seq_len: int) -> RxTConfig:
    """The RxT config (same width, attention, MoE) with room for whole dialogues and a deeper
    decoder: `layers`, or by default the fewest layers giving >= 1.5x RxT's parameters."""
    update = {"max_seq_len": max_seq_len}
    if layers:
        return rxt.model_copy(update={**update, "layers": layers})
    target = MIN_PARAM_RATIO * _count(ReactiveTransformer(rxt))
    depth = rxt.layers
    while _count(StatelessLM(rxt.model_copy(update={**update, "layers": depth}))) < target:
        depth += 1
    return rxt.model_copy(update={**update, "layers": depth})


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def check_fits(dialogues: list[TokenDialogue], config: RxTConfig, source: str) -> None:
    for n, d in enumerate(dialogues, 1):
        length = len(dialogue_row(d, config)[0])
        if length > config.max_seq_len:
            raise ValueError(
                f"{source}: dialogue {n} is {length} tokens in full; the baseline has "
                f"{config.max_seq_len} positions (raise --baseline-max-seq-len)"
            )


class BaselineStage:
    name = "baseline"

    def __init__(self, model: StatelessLM, dialogues: list[TokenDialogue], loop: LoopConfig):
        self.model, self.dialogues, self.loop = model, dialogues, loop
        self.lengths = [len(d) for d in dialogues]

    def modules(self) -> dict[str, nn.Module]:
        return {"model": self.model}

    def prepare(self, step: int) -> None:
        pass

    def step(self, step: int, rank: int, world: int, generator: torch.Generator) -> StepResult:
        picked = batch_indices(
            step, self.loop.batch_size, len(self.dialogues), self.loop.seed, rank, world, self.lengths
        )
        batch = history_batch([self.dialogues[i] for i in picked], self.model.config).to(self.model.device)
        logits, aux = self.model(batch.ids)
        nll, right = next_token_nll(logits, batch)
        targets = max(1, batch.target_count)
        loss = nll / targets + self.model.config.moe.aux_loss_weight * aux
        loss.backward()
        return StepResult(
            float(nll.detach()) / targets, batch.token_count, {"answer_accuracy": int(right) / targets}
        )
