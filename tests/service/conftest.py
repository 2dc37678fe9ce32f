"""Fixtures of the service tests: a small random-weight model saved with a freshly trained
tokenizer (what `rxt serve --model DIR` loads), and helpers shared by the Ray tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rxt_core import ReactiveTransformer, preset
from rxt_core.tokenizer import RxTTokenizer

CORPUS = [
    "hello there, how are you today?",
    "my name is Ada and I like chess.",
    "what is my name? your name is Ada.",
    "the quick brown fox jumps over the lazy dog",
    "café, naïve, 東京 and emoji 🙂 should stream as whole characters",
] * 20


def make_model_dir(directory: Path, seed: int = 0, **overrides) -> Path:
    tokenizer = RxTTokenizer.train(CORPUS, vocab_size=512, min_frequency=1)
    torch.manual_seed(seed)
    config = preset("tiny", **{"max_seq_len": 512, "vocab_size": tokenizer.vocab_size, **overrides})
    model = ReactiveTransformer(config).eval()
    tokenizer_file = tokenizer.save(directory.parent / f"{directory.name}-tokenizer.json")
    model.save_pretrained(directory, tokenizer_file=tokenizer_file)
    return directory


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    return make_model_dir(tmp_path_factory.mktemp("models") / "tiny-random")


# ---------------------------------------------------------------------- Ray and the running service
def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def ray_cluster():
    """One local Ray for every service test (see ../shared/notes/ray-on-this-machine.md)."""
    import os

    import ray

    from orchestration.local_ray import init_local_ray

    os.environ.setdefault("RAY_metrics_report_interval_ms", "1000")
    metrics_port = free_port()
    init_local_ray(
        num_cpus=2, _metrics_export_port=metrics_port, logging_level="WARNING", log_to_driver=False
    )
    yield {"metrics_port": metrics_port}
    from ray import serve

    serve.shutdown()
    ray.shutdown()


class RunningService:
    """The Serve application on a free port, restartable; `stub` talks to it over gRPC."""

    def __init__(self, config):
        self.config = config
        self.channel = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.config.port}"

    def start(self) -> None:
        import grpc

        from orchestration import app
        from protos.rxt.v1 import reactive_pb2_grpc

        app.start(self.config)
        self.channel = grpc.insecure_channel(self.address)
        grpc.channel_ready_future(self.channel).result(timeout=60)
        self.stub = reactive_pb2_grpc.ReactiveServiceStub(self.channel)

    def stop(self) -> None:
        from ray import serve

        if self.channel is not None:
            self.channel.close()
            self.channel = None
        serve.shutdown()

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="module")
def service(ray_cluster, model_dir, tmp_path_factory):
    from orchestration.config import ReplicaConfig, ServiceConfig

    db = tmp_path_factory.mktemp("db") / "rxt.db"
    config = ServiceConfig(
        model_dir=model_dir,
        database_url=f"sqlite:///{db}",
        port=free_port(),
        decoder=ReplicaConfig(replicas=2),
        max_query_chars=2000,
    )
    running = RunningService(config)
    running.start()
    yield running
    running.stop()
