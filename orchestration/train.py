"""`rxt train --workers N`: the curriculum stages under Ray Train's `TorchTrainer`.

The workers run `rxt_core.training.pipeline.run_job`, the very function the single-process path
runs; TorchTrainer sets up the process group (gloo on CPU, NCCL on GPU) and the shared loop
averages gradients across ranks (see rxt_core/training/loop.py), each rank taking its slice of
every global batch. At every checkpoint all ranks call `ray.train.report` (a barrier); rank 0
attaches the checkpoint folder, which Ray copies to `storage_path/name`. Running again with the
same name and storage path resumes: each worker loads `ray.train.get_checkpoint()`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import ray
import ray.train
from ray.train import Checkpoint, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer

from rxt_core.training.config import TrainJob
from rxt_core.training.pipeline import run_job, stage_dir

log = logging.getLogger(__name__)


def train_loop_per_worker(config: dict) -> None:
    """What every Ray Train worker runs: one stage of the job, resuming from Ray's checkpoint."""
    job = TrainJob(**config["job"])
    checkpoint = ray.train.get_checkpoint()
    resume_from = Path(checkpoint.to_directory()) if checkpoint is not None else None
    run_job(job, reporter=_report, resume_from=resume_from, progress=False)


def _report(metrics: dict, folder: Path | None) -> None:
    checkpoint = Checkpoint.from_directory(str(folder)) if folder is not None else None
    ray.train.report(metrics, checkpoint=checkpoint)


def run_distributed(
    job: TrainJob,
    workers: int,
    storage_path: str | None = None,
    name: str | None = None,
    use_gpu: bool = False,
) -> Path:
    """Train `job` on `workers` data-parallel Ray Train workers; returns the saved model folder.
    Starts a local Ray (no dashboard) unless one is already initialised in this process."""
    if not ray.is_initialized():
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        ray.init(address="local", num_cpus=max(workers, os.cpu_count() or 1), include_dashboard=False)
    storage = storage_path or str(Path(job.out) / "ray")
    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config={"job": job.model_dump(mode="json")},
        scaling_config=ScalingConfig(num_workers=workers, use_gpu=use_gpu),
        run_config=RunConfig(
            name=name or f"rxt-{Path(job.out).name}-stage-{job.stage}", storage_path=storage
        ),
    )
    result = trainer.fit()
    log.info("ray train finished: %s", result.metrics)
    return stage_dir(job) / "model"
