"""`rxt train --workers 2`: the stage loop under Ray Train's TorchTrainer with 2 CPU workers
(gloo), reporting checkpoints and resuming from them."""

from __future__ import annotations

import json
import os
import tempfile
import uuid

import pytest

from rxt_core import ReactiveTransformer
from rxt_core.data.dialogue import write_jsonl
from rxt_core.data.synth import SynthConfig, generate
from rxt_core.tokenizer import RxTTokenizer
from rxt_core.training.config import LoopConfig, TrainJob

pytestmark = [pytest.mark.slow, pytest.mark.ray]


@pytest.fixture(scope="module")
def ray_local():
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.2")
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(
            address="local",
            num_cpus=2,
            include_dashboard=False,
            _temp_dir=tempfile.mkdtemp(prefix="rxt", dir="/tmp"),
            logging_level="WARNING",
            log_to_driver=False,
        )
    yield
    if started:
        ray.shutdown()


def test_two_workers_train_report_checkpoints_and_resume(ray_local, tmp_path):
    from orchestration.train import run_distributed

    short = SynthConfig(min_turns=3, max_turns=4)
    write_jsonl(tmp_path / "train.jsonl", generate("train", 16, 0, short))
    texts = [
        t for d in generate("train", 16, 0, short) for turn in d.turns for t in (turn.query, turn.answer)
    ]
    RxTTokenizer.train(texts, vocab_size=400).save(tmp_path / "tokenizer.json")
    job = TrainJob(
        stage="4",
        data=[str(tmp_path / "train.jsonl")],
        tokenizer=str(tmp_path / "tokenizer.json"),
        out=str(tmp_path / "run"),
        preset="tiny",
        config_overrides={"max_seq_len": 192},
        init=None,
        loop=LoopConfig(steps=3, batch_size=4, warmup_steps=1, checkpoint_every=2),
    )
    # stage 4 from a fresh model: give it one
    ReactiveTransformer(_config(job)).save_pretrained(tmp_path / "init", tokenizer_file=job.tokenizer)
    job = job.model_copy(update={"init": str(tmp_path / "init")})
    name, storage = f"t-{uuid.uuid4().hex[:8]}", str(tmp_path / "ray")

    folder = run_distributed(job, workers=2, storage_path=storage, name=name)
    first = json.loads((folder.parent / "history.json").read_text())
    assert first["steps"] == 3 and len(first["history"]) == 3
    assert ReactiveTransformer.from_pretrained(folder).config.layers == 2
    checkpoints = list((tmp_path / "ray" / name).glob("checkpoint_*"))
    assert checkpoints, "ray.train.report registered no checkpoint"

    # Same run name and storage: the workers resume from Ray's latest checkpoint (step 3).
    longer = job.model_copy(update={"loop": job.loop.model_copy(update={"steps": 5})})
    run_distributed(longer, workers=2, storage_path=storage, name=name)
    resumed = json.loads((folder.parent / "history.json").read_text())
    assert [r["step"] for r in resumed["history"]] == [1, 2, 3, 4, 5]
    assert resumed["history"][:3] == first["history"]


def _config(job: TrainJob):
    from rxt_core.config import preset

    tok = RxTTokenizer.load(job.tokenizer)
    return preset("tiny", vocab_size=tok.vocab_size, max_seq_len=192)
