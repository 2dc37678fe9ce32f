"""Typed configuration of the service: one object that `rxt serve`, `serve deploy` (the `args` of
`deploy/serve_config.yaml`) and the tests all build the application from.

Every field has a default that runs on one CPU machine (local Ray, SQLite, the bundled model);
a cluster changes `database_url`, the replica counts and `num_gpus` only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agents.spec import DEFAULT_AGENT, AgentSpec
from rxt_core.bundled import bundled_model_dir
from rxt_core.precision import WritePrecision

DEFAULT_PORT = 50051
DEFAULT_DATA_DIR = Path.home() / ".rxt"


class ReplicaConfig(BaseModel):
    """How many replicas of one deployment, and what each reserves from Ray.

    `num_cpus` defaults to 0 so the service fits beside other Ray work on a small machine
    (replicas still use CPU; Ray just does not reserve it); `torch_threads` bounds what a replica
    actually uses."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    replicas: int = Field(1, ge=1)
    num_cpus: float = Field(0.0, ge=0)
    num_gpus: float = Field(0.0, ge=0)
    max_ongoing_requests: int = Field(256, ge=1)


class ServiceConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    model_dir: Path = Field(default_factory=bundled_model_dir)
    """A folder saved by `ReactiveTransformer.save_pretrained`, with `tokenizer.json`."""
    database_url: str = f"sqlite:///{DEFAULT_DATA_DIR / 'rxt.db'}"
    """SQLAlchemy URL of the session store (the truth; replica STMs are caches)."""
    port: int = Field(DEFAULT_PORT, ge=1, le=65535)
    """Where each ingress replica's gRPC server listens (all interfaces)."""
    app_name: str = "rxt"
    device: str = "auto"
    """'auto' = CUDA when the replica got a GPU, else CPU."""
    torch_threads: int = Field(1, ge=1)
    """Intra-op threads per model replica (decoder and updater)."""
    write_precision: WritePrecision = "auto"
    """What the memory updater computes in: 'auto' = bf16 on GPUs and on CPUs with bf16 hardware
    (avx512_bf16 / AMX), else fp32; the STM is stored in fp32 either way (`rxt_core.precision`)."""

    compile_writes: bool = False
    """Compile the memory updater's writes with torch.compile (`ReactiveTransformer.compile_writes`):
    faster writes for about a minute of start-up per updater replica; falls back to eager writes
    (with a warning) where compiling fails."""

    access_log: bool = False
    """Serve's per-request access log lines in every replica (off: they cost CPU on each turn)."""

    ingress: ReplicaConfig = ReplicaConfig(max_ongoing_requests=1024)
    decoder: ReplicaConfig = ReplicaConfig()
    updater: ReplicaConfig = ReplicaConfig()

    decode_engine: Literal["process", "thread"] = "process"
    """Where a decoder replica runs its decode steps: 'process' = a child process of its own (steps
    never wait for the GIL the replica's request handling holds; the replica keeps a copy of the
    weights on the CPU), 'thread' = a worker thread of the replica (`orchestration.decode_process`)."""
    decode_niceness: int = Field(5, ge=0, le=19)
    """The decode process's `nice` value: above 0 the memory updater, whose work each session's
    next turn waits for, is not starved by a decode loop that always has work (docs/service.md)."""
    max_batch_size: int = Field(64, ge=1)
    """Rows (concurrent turns) one decoder replica decodes in one step."""
    stm_cache_size: int = Field(4096, ge=1)
    """Session STMs kept per decoder replica (LRU)."""
    update_batch_size: int = Field(32, ge=1)
    """Memory updates the updater applies in one batched forward pass."""
    update_batch_wait_s: float = Field(0.02, ge=0)
    """The longest the updater waits to fill a batch: only while updates arrive closer together than
    this (under load); an update arriving alone starts at once (`orchestration.batch_wait`)."""

    stream_interval_s: float = Field(0.02, ge=0)
    """Text deltas of one answer are sent at most this often (the first token at once): fewer,
    larger messages cost less per token through Serve's streaming. 0 sends every token."""
    stream_messages_per_s: float = Field(500.0, gt=0)
    """What a decoder replica streams in all, in text messages per second: with many answers at
    once each one's interval grows past `stream_interval_s` to its share (64 answers: 128 ms).
    Every message costs the replica, the ingress and the client about the same CPU whatever it
    carries, so under load fewer, larger messages leave that CPU to the model (docs/service.md)."""
    max_query_chars: int = Field(16_384, ge=1)
    max_new_tokens_limit: int = Field(1024, ge=1)
    """The largest max_new_tokens a request may ask for (the model's position limit also applies)."""
    memory_wait_timeout_s: float = Field(60.0, gt=0)
    """How long a turn waits for the previous turn's memory update before failing UNAVAILABLE."""

    agents: tuple[AgentSpec, ...] = (DEFAULT_AGENT,)
    default_agent: str | None = None
    session_idle_ttl_s: float | None = Field(None, gt=0)
    """Close sessions idle this long (an agent's own `idle_ttl_s` wins). None: never."""
    reap_interval_s: float = Field(60.0, gt=0)

    @property
    def address(self) -> str:
        return f"localhost:{self.port}"
