"""Run one stage of a `TrainJob` from files: load data and tokenizer, build or load the model,
train, save the model folder. `rxt train` calls it in-process; Ray Train workers call the same
function, so both paths share every line of training code.

Layout under `job.out`:
    stage1-joint-lm/ ... stage4-memory-aware/, baseline/
        checkpoint/train_state.pt   (resumable training state, rewritten every checkpoint)
        model/                      (config.json, model.safetensors, tokenizer.json)
        history.json                (one record per step: loss, lr, tokens/s, ...)
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import torch
import torch.distributed as dist

from ..config import RxTConfig, preset
from ..data.sources import load_dialogues, load_texts
from ..model import ReactiveTransformer
from ..stateless import StatelessLM
from ..tokenizer import RxTTokenizer
from .baseline import BaselineStage, baseline_config, check_fits
from .batching import TokenDialogue, tokenize_dialogues
from .config import STAGE_DIRS, TrainJob
from .joint import JointStage, interaction_rows, text_rows
from .loop import Reporter, Runtime, train
from .memory_aware import MemoryAwareStage
from .memory_pretrain import MemoryPretrainStage
from .transplant import transplant

log = logging.getLogger(__name__)

PREVIOUS = {"2": "1", "3": "2", "4": "3"}


def stage_dir(job: TrainJob, stage: str | None = None) -> Path:
    return Path(job.out) / STAGE_DIRS[stage or job.stage]


def run_job(
    job: TrainJob, reporter: Reporter | None = None, resume_from: Path | None = None, progress: bool = True
) -> Path:
    """Train `job.stage`; returns the saved model folder. `resume_from` (a checkpoint folder)
    overrides the stage's own checkpoint, which is used when `job.resume` is set."""
    torch.set_num_threads(job.threads)
    torch.set_flush_denormal(True)
    out = stage_dir(job)
    tokenizer = load_tokenizer(job.tokenizer)
    model = build_model(job, tokenizer).to(pick_device(job.device))
    stage = make_stage(job, model, tokenizer)
    if resume_from is None and job.resume:
        resume_from = out / "checkpoint"
    started = time.perf_counter()
    runtime = Runtime(
        checkpoint_dir=out / "checkpoint", resume_from=resume_from, reporter=reporter, progress=progress
    )
    state = train(stage, job.loop, runtime)
    folder = out / "model"
    if not dist.is_initialized() or dist.get_rank() == 0:
        model.save_pretrained(folder, tokenizer_file=job.tokenizer)
        summary = {
            "stage": job.stage,
            "steps": state.step,
            "seconds_this_run": time.perf_counter() - started,
            "parameters": sum(p.numel() for p in model.parameters()),
            "job": job.model_dump(mode="json"),
            "history": state.history,
        }
        (out / "history.json").write_text(json.dumps(summary) + "\n")
    return folder


def pick_device(name: str) -> torch.device:
    if name != "auto":
        return torch.device(name)
    if not torch.cuda.is_available():
        return torch.device("cpu")
    if dist.is_initialized():  # one GPU per data-parallel worker
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cuda")


def build_model(job: TrainJob, tokenizer) -> ReactiveTransformer | StatelessLM:
    torch.manual_seed(job.loop.seed)
    if job.stage == "baseline":
        rxt = model_config(job, tokenizer)
        if job.init:
            rxt = ReactiveTransformer.from_pretrained(job.init).config
        return StatelessLM(baseline_config(rxt, job.baseline_layers, job.baseline_max_seq_len))
    init = job.init
    if init is None and job.stage in PREVIOUS:
        init = str(stage_dir(job, PREVIOUS[job.stage]) / "model")
    if init is None:
        return with_word_tables(ReactiveTransformer(model_config(job, tokenizer)), tokenizer)
    if not Path(init, "config.json").is_file():
        raise FileNotFoundError(
            f"stage {job.stage} starts from {init}, which is not a model folder: "
            f"train stage {PREVIOUS.get(job.stage)} first or pass --init"
        )
    model = transplant(ReactiveTransformer.from_pretrained(init), job.config_overrides, job.reinit)
    if model.config.vocab_size != tokenizer.vocab_size:
        raise ValueError(f"{init} has vocab {model.config.vocab_size}, the tokenizer {tokenizer.vocab_size}")
    return with_word_tables(model, tokenizer)


def with_word_tables(model: ReactiveTransformer, tokenizer) -> ReactiveTransformer:
    """`model` with its word tables (keep_whole_words, pointer_space_twins) filled from the
    tokenizer it trains with: unfilled, both rules would do nothing, silently."""
    if model.word_pieces is not None:
        model.word_pieces.fill(tokenizer.pieces(), tokenizer.mask_id + 1)
    return model


def model_config(job: TrainJob, tokenizer) -> RxTConfig:
    return preset(job.preset, **{"vocab_size": tokenizer.vocab_size, **job.config_overrides})


def make_stage(job: TrainJob, model, tokenizer):
    config = model.config
    if job.stage == "1":
        rows = text_rows(load_texts(job.data), tokenizer, config)
        rows = rows[: job.max_dialogues * 20] if job.max_dialogues else rows
        return JointStage("1", model, rows, job.loop, job.joint)
    dialogues = load_token_dialogues(job.data, tokenizer, config, job.max_dialogues)
    if job.stage == "2":
        return JointStage("2", model, interaction_rows(dialogues, config), job.loop, job.joint)
    if job.stage == "3":
        return MemoryPretrainStage(model, dialogues, job.loop, job.memory_pretrain)
    if job.stage == "4":
        return MemoryAwareStage(model, dialogues, job.loop, job.memory_aware)
    check_fits(dialogues, config, ", ".join(job.data))
    return BaselineStage(model, dialogues, job.loop)


def load_token_dialogues(
    paths: list[str], tokenizer, config: RxTConfig, limit: int | None = None
) -> list[TokenDialogue]:
    """Dialogues from every path, validated (bad records and over-long turns raise a
    `ValueError` naming FILE:LINE), as token ids."""
    out: list[TokenDialogue] = []
    for path in paths:
        dialogues = load_dialogues(path, tokenizer=tokenizer, max_tokens=config.max_seq_len)
        out += tokenize_dialogues(dialogues, tokenizer, config, str(path))
    return out[:limit] if limit else out


def load_tokenizer(path: str) -> RxTTokenizer:
    return RxTTokenizer.load(path)
