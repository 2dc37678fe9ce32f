"""`rxt train`: run a curriculum stage (or all four, or the stateless baseline) from files.

    rxt train --stage all --data train.jsonl --tokenizer tok.json --out runs/nano \
              --stage-steps 1=150,2=150,3=60,4=900 --bptt-turns 0
    rxt train --stage 4 --data train.jsonl --tokenizer tok.json --out runs/nano --resume
    rxt train --stage 2 ... --workers 2          # the same loop under Ray Train (2 DDP workers)

Each stage writes OUT/<stage>/{checkpoint,model,history.json}; stage N starts from stage N-1's
model unless --init names another. With --resume a stage continues from its last checkpoint,
and `--stage all` skips stages whose model is already saved.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path
from typing import get_args

from rxt_core.training.config import TrainPrecision

from .overrides import parse_overrides

STAGES = ["1", "2", "3", "4"]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rxt train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--stage", required=True, choices=[*STAGES, "all", "baseline"])
    p.add_argument("--data", required=True, nargs="+", help="dialogue JSONL / HF folders (stage 1 also .txt)")
    p.add_argument("--text", nargs="*", default=[], help="extra plain-text corpora for stage 1")
    p.add_argument("--tokenizer", required=True, help="tokenizer.json")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--preset", default="nano")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=JSON", help="model config override")
    p.add_argument(
        "--init",
        help="model folder to start from (--set then changes its config: weights that no longer fit start fresh)",
    )
    p.add_argument(
        "--reinit",
        action="append",
        default=[],
        metavar="PREFIX",
        help="with --init: parameters whose names start with PREFIX start fresh (e.g. memory_attention.)",
    )
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup-steps", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--checkpoint-every", type=int, default=50)
    p.add_argument(
        "--stage-steps", default="", help="per-stage steps for --stage all, e.g. 1=150,2=150,3=60,4=900"
    )
    p.add_argument("--stage-lr", default="", help="per-stage learning rates, e.g. 4=2e-3")
    p.add_argument("--stage-batch-size", default="", help="per-stage batch sizes, e.g. 4=24")
    p.add_argument("--max-seconds", type=float, help="time budget of a stage (resumes included)")
    p.add_argument(
        "--precision",
        choices=get_args(TrainPrecision),
        default="fp32",
        help="forward/backward in fp32 or under bf16 autocast (auto: bf16 on CUDA; on a CPU bf16 trained slower)",
    )
    p.add_argument("--stage-max-seconds", default="", help="per-stage time budgets, e.g. 4=2100")
    p.add_argument(
        "--bptt-turns",
        type=int,
        default=0,
        help="stage 4: losses back-propagate through at most the last K memory updates (0: all)",
    )
    p.add_argument("--unfreeze-memory-attention-step", type=int, default=0)
    p.add_argument("--unfreeze-encoder-step", type=int, default=0)
    p.add_argument(
        "--replay-weight",
        type=float,
        default=0.0,
        help="stage 4: weight of the replay loss (re-read each interaction from the STM just written)",
    )
    p.add_argument(
        "--replay-depth",
        type=int,
        default=1,
        help="stage 4: replay re-reads the interaction k turns back, k random in 0..depth-1",
    )
    p.add_argument(
        "--overlap-weight",
        type=float,
        default=0.0,
        help="stage 4: weight of the penalty on writing where the previous turn just wrote",
    )
    p.add_argument(
        "--sparsity-weight",
        type=float,
        default=0.0,
        help="stage 4: weight of the penalty on write weights between 0 and 1 (mean w(1-w))",
    )
    p.add_argument("--noise-std", type=float, default=0.5, help="stages 1-2: noise on encoder states")
    p.add_argument(
        "--swap-prob",
        type=float,
        default=0.0,
        help="stages 1-2: share of rows that read another row's states",
    )
    p.add_argument(
        "--copy-weight",
        type=float,
        default=1.0,
        help="stage 2: loss weight of answer tokens that also occur in the query (default 1: none)",
    )
    p.add_argument(
        "--recall-weight",
        type=float,
        default=1.0,
        help="stage 4: loss weight of answer tokens that occur in an earlier turn and not in the "
        "query: what only memory supplies (default 1: none)",
    )
    p.add_argument(
        "--read-weight",
        type=float,
        default=0.0,
        help="stage 4: weight of read supervision, the memory read of a recalled token pushed "
        "towards the slots its earlier turn wrote (slot or keep write; default 0: off)",
    )
    p.add_argument(
        "--keep-weight",
        type=float,
        default=0.0,
        help="stage 4: weight of the keep write's salience loss, which learns to keep the tokens "
        "a later answer repeats (memory_write=keep only; default 0: off)",
    )
    p.add_argument(
        "--pointer-weight",
        type=float,
        default=0.0,
        help="stage 4: weight of pointer supervision, the memory pointer's own loss on recalled "
        "value tokens a slot holds (memory_pointer=true only; default 0: off)",
    )
    p.add_argument(
        "--gate-target",
        choices=["values", "better", "query"],
        default="values",
        help="stage 4, with --pointer-weight: what the copy gate learns; values: open at recalled "
        "value tokens a slot holds (session 25); better: c/(c+h), where the pointer says the token "
        "more surely than the vocabulary head; query: open at values copied from the turn's own "
        "query (pointer_reads_query), untold elsewhere (default values)",
    )
    p.add_argument(
        "--ack-noise",
        type=float,
        default=0.0,
        metavar="P",
        help="stage 4: write each answer token that repeats its own query's token to memory as a "
        "random token with probability P, the targets unchanged: acknowledgements as fallible as "
        "the model's own, for the pointer's source bonus to learn from (default 0: off)",
    )
    p.add_argument(
        "--train-only",
        nargs="+",
        default=[],
        metavar="PREFIX",
        help="stage 4: train only the parameters whose names start with these prefixes (e.g. "
        "pointer.gate.), the rest frozen (default: all, on the unfreeze schedule)",
    )
    p.add_argument(
        "--keep-positive-weight",
        type=float,
        default=8.0,
        help="stage 4: weight of a positive in that loss; a token is kept when P(repeated later) > "
        "1/(1 + this) (default 8)",
    )
    p.add_argument(
        "--baseline-layers",
        type=int,
        help="baseline decoder layers (default: the fewest with >= 1.5x RxT's parameters)",
    )
    p.add_argument("--baseline-max-seq-len", type=int, default=1024)
    p.add_argument("--max-dialogues", type=int)
    p.add_argument("--workers", type=int, default=1, help=">1: data-parallel workers under Ray Train")
    p.add_argument("--ray", action="store_true", help="run under Ray Train even with one worker")
    p.add_argument("--use-gpu", action="store_true", help="with --workers: one GPU per worker (NCCL)")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda")
    p.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        jobs = build_jobs(args)
        for job in jobs:
            folder = stage_folder(job)
            if args.stage == "all" and args.resume and (folder / "model" / "config.json").is_file():
                print(f"stage {job.stage}: already trained ({folder / 'model'}), skipping")
                continue
            model = run(job, args.workers, not args.no_progress, args.use_gpu, args.ray)
            print(f"stage {job.stage}: model saved to {model}")
        if args.stage == "all":
            final = Path(args.out) / "model"
            shutil.copytree(stage_folder(jobs[-1]) / "model", final, dirs_exist_ok=True)
            print(f"final model: {final}")
    except (ValueError, FileNotFoundError) as e:
        print(f"rxt train: error: {e}", file=sys.stderr)
        return 2
    return 0


def run(job, workers: int, progress: bool, use_gpu: bool = False, ray: bool = False) -> Path:
    if workers > 1 or ray:
        from orchestration.train import run_distributed

        return run_distributed(job, workers, use_gpu=use_gpu)
    from rxt_core.training.pipeline import run_job

    return run_job(job, progress=progress)


def stage_folder(job) -> Path:
    from rxt_core.training.pipeline import stage_dir

    return stage_dir(job)


def build_jobs(args) -> list:
    from rxt_core.training.config import JointConfig, LoopConfig, MemoryAwareConfig, TrainJob

    stages = STAGES if args.stage == "all" else [args.stage]
    steps, lrs, batches, budgets = (
        _per_stage(spec, cast)
        for spec, cast in (
            (args.stage_steps, int),
            (args.stage_lr, float),
            (args.stage_batch_size, int),
            (args.stage_max_seconds, float),
        )
    )
    if args.reinit and not args.init:
        raise ValueError("--reinit restarts modules of the --init model: pass --init")
    overrides = parse_overrides(args.set)
    jobs = []
    for stage in stages:
        loop = LoopConfig(
            steps=steps.get(stage, args.steps),
            batch_size=batches.get(stage, args.batch_size),
            lr=lrs.get(stage, args.lr),
            warmup_steps=args.warmup_steps,
            seed=args.seed,
            log_every=args.log_every,
            checkpoint_every=args.checkpoint_every,
            max_seconds=budgets.get(stage, args.max_seconds),
            precision=args.precision,
        )
        data = [*args.data, *args.text] if stage == "1" else args.data
        jobs.append(
            TrainJob(
                stage=stage,
                data=[str(Path(d).resolve()) for d in data],
                tokenizer=str(Path(args.tokenizer).resolve()),
                out=str(Path(args.out).resolve()),
                preset=args.preset,
                config_overrides=overrides,
                init=str(Path(args.init).resolve()) if args.init and stage == stages[0] else None,
                reinit=args.reinit if args.init and stage == stages[0] else [],
                baseline_layers=args.baseline_layers,
                baseline_max_seq_len=args.baseline_max_seq_len,
                loop=loop,
                joint=JointConfig(
                    noise_std=args.noise_std, swap_prob=args.swap_prob, copy_weight=args.copy_weight
                ),
                memory_aware=MemoryAwareConfig(
                    bptt_turns=args.bptt_turns,
                    unfreeze_memory_attention_step=args.unfreeze_memory_attention_step,
                    unfreeze_encoder_step=args.unfreeze_encoder_step,
                    replay_weight=args.replay_weight,
                    replay_depth=args.replay_depth,
                    recall_weight=args.recall_weight,
                    read_weight=args.read_weight,
                    keep_weight=args.keep_weight,
                    keep_positive_weight=args.keep_positive_weight,
                    pointer_weight=args.pointer_weight,
                    gate_target=args.gate_target,
                    ack_noise=args.ack_noise,
                    train_only=tuple(args.train_only),
                    overlap_weight=args.overlap_weight,
                    sparsity_weight=args.sparsity_weight,
                ),
                resume=args.resume,
                threads=args.threads,
                device=args.device,
                max_dialogues=args.max_dialogues,
            )
        )
    return jobs


def _per_stage(spec: str, cast) -> dict[str, object]:
    out = {}
    for item in filter(None, spec.split(",")):
        stage, _, value = item.partition("=")
        if stage not in STAGES + ["baseline"] or not value:
            raise ValueError(
                f"per-stage setting {item!r}: expected STAGE=VALUE with STAGE in 1-4 or baseline"
            )
        out[stage] = cast(value)
    return out
