"""The loop every stage shares: seeded per step, resumable, data-parallel, with a progress bar
and loss/throughput logs.

A stage supplies its modules and a `step` that runs forward + backward on its share of global
batch `step`. The loop owns the optimizer, learning-rate schedule, gradient clipping,
checkpoints and reporting. Everything random in a step draws from a generator seeded by
(seed, step, rank), so a resumed run repeats exactly the steps an uninterrupted one would.

Data parallelism: with torch.distributed initialised (Ray Train's TorchTrainer does that, gloo
on CPU, NCCL on GPU) each rank computes gradients on its slice of the global batch and the loop
averages them with one all-reduce before the optimizer step: DDP's maths without its wrapper,
because stage 4 calls several model methods per step, which DDP's forward hooks do not cover.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch
import torch.distributed as dist
from torch import nn
from tqdm.auto import tqdm

from .config import LoopConfig
from .optim import build_optimizer, set_lr
from .state import TrainState, has_checkpoint, load_checkpoint, save_checkpoint

log = logging.getLogger(__name__)

# (metrics, checkpoint folder or None) -> None; called on every rank at every checkpoint.
Reporter = Callable[[dict, Path | None], None]


@dataclass
class StepResult:
    loss: float  # this rank's mean loss of the step
    tokens: int  # tokens this rank processed (input tokens of every forward pass)
    metrics: dict[str, float] = field(default_factory=dict)


class Stage(Protocol):
    name: str

    def modules(self) -> dict[str, nn.Module]:
        """Everything with trainable weights: "model" plus stage-only heads."""
        ...

    def prepare(self, step: int) -> None:
        """Set requires_grad for `step` (freezing schedules)."""
        ...

    def step(self, step: int, rank: int, world: int, generator: torch.Generator) -> StepResult: ...


@dataclass
class Runtime:
    checkpoint_dir: Path
    resume_from: Path | None = None  # a checkpoint folder to continue from
    reporter: Reporter | None = None
    progress: bool = True

    @property
    def rank(self) -> int:
        return dist.get_rank() if dist.is_initialized() else 0

    @property
    def world(self) -> int:
        return dist.get_world_size() if dist.is_initialized() else 1


def train(stage: Stage, cfg: LoopConfig, runtime: Runtime) -> TrainState:
    """Run `stage` to `cfg.steps` steps (from a checkpoint when `runtime.resume_from` has one)."""
    modules = stage.modules()
    named = [(f"{m}.{n}", p) for m, mod in modules.items() for n, p in mod.named_parameters()]
    params = _unique(named)
    optimizer = build_optimizer(params, cfg)
    state = TrainState()
    if runtime.resume_from is not None and has_checkpoint(runtime.resume_from):
        state = load_checkpoint(runtime.resume_from, modules, optimizer)
        log.info("%s: resumed at step %d from %s", stage.name, state.step, runtime.resume_from)
    rank, world = runtime.rank, runtime.world
    bar = tqdm(
        total=cfg.steps,
        initial=state.step,
        desc=f"stage {stage.name}",
        disable=not runtime.progress or rank != 0,
        dynamic_ncols=True,
    )
    started, tokens_seen, seconds_before = time.perf_counter(), 0, state.seconds
    for mod in modules.values():
        mod.train()
    while state.step < cfg.steps:
        step = state.step
        stage.prepare(step)
        device = params[0][1].device
        budget_used = _agreed_seconds(state.seconds, world, device) if cfg.max_seconds is not None else 0.0
        lr = set_lr(optimizer, step, cfg, budget_used)
        generator = torch.Generator().manual_seed((cfg.seed * 1_000_003 + step) * 64 + rank)
        with _autocast(cfg.precision, device):
            result = stage.step(step, rank, world, generator)
        loss, tokens = _average_gradients_and_stats([p for _, p in params], result, world)
        grad_norm = torch.nn.utils.clip_grad_norm_(
            [p for _, p in params if p.grad is not None], cfg.grad_clip
        )
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        state.step += 1
        tokens_seen += tokens
        elapsed = time.perf_counter() - started
        state.seconds = seconds_before + elapsed
        record = {
            "step": state.step,
            "loss": loss,
            "lr": lr,
            "grad_norm": float(grad_norm),
            "tokens": tokens,
            "tokens_per_s": tokens_seen / max(elapsed, 1e-9),
            "seconds": state.seconds,
            **result.metrics,
        }
        state.history.append(record)
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{record['tokens_per_s']:.0f}")
        if state.step % cfg.log_every == 0 or state.step == cfg.steps:
            log.info(
                "stage %s step %d/%d loss %.4f lr %.2e %.0f tokens/s",
                stage.name,
                state.step,
                cfg.steps,
                loss,
                lr,
                record["tokens_per_s"],
            )
        out_of_time = (
            cfg.max_seconds is not None and _agreed_seconds(state.seconds, world, device) >= cfg.max_seconds
        )
        if state.step % cfg.checkpoint_every == 0 or state.step == cfg.steps or out_of_time:
            _checkpoint(runtime, modules, optimizer, state, record)
        if out_of_time:
            log.warning(
                "stage %s: stopping at step %d: time budget of %.0f s used",
                stage.name,
                state.step,
                cfg.max_seconds,
            )
            break
    bar.close()
    return state


def _autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast for a step's forward and backward, or none (fp32)."""
    bf16 = precision == "bf16" or (precision == "auto" and device.type == "cuda")
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def _agreed_seconds(seconds: float, world: int, device: torch.device) -> float:
    """Training seconds as rank 0 counts them: every rank must take the same decisions."""
    if world == 1:
        return seconds
    value = torch.tensor([seconds], dtype=torch.float64, device=device)
    dist.broadcast(value, src=0)
    return float(value.item())


def _checkpoint(runtime: Runtime, modules, optimizer, state: TrainState, record: dict) -> None:
    saved = None
    if runtime.rank == 0:
        saved = save_checkpoint(runtime.checkpoint_dir, modules, optimizer, state)
    if runtime.reporter is not None:
        runtime.reporter(record, saved)


def _average_gradients_and_stats(
    params: list[nn.Parameter], result: StepResult, world: int
) -> tuple[float, int]:
    """All-reduce the gradients (mean over ranks) and the step's loss/token statistics."""
    if world == 1:
        return result.loss, result.tokens
    trainable = [p for p in params if p.requires_grad]
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in trainable]
    stats = torch.tensor([result.loss, float(result.tokens)], device=grads[0].device)
    flat = torch.cat([g.reshape(-1) for g in grads] + [stats])
    dist.all_reduce(flat)
    offset = 0
    for p, g in zip(trainable, grads, strict=True):
        n = g.numel()
        p.grad = flat[offset : offset + n].view_as(g) / world
        offset += n
    return float(flat[-2]) / world, int(flat[-1])


def _unique(named: list[tuple[str, nn.Parameter]]) -> list[tuple[str, nn.Parameter]]:
    """Tied weights appear once (the shared embedding / LM head)."""
    seen, out = set(), []
    for name, p in named:
        if id(p) not in seen:
            seen.add(id(p))
            out.append((name, p))
    return out
