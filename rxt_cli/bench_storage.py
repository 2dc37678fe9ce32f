"""`rxt bench storage`: commit and load latency of STM snapshots on SQLite and PostgreSQL.

One round is one turn of every session, driven exactly as the service drives the store: load
the head (`load`: read + checksum + decode), log the turn (`append`), commit the memory update
naming the head it replaces (`commit`: encode + checksum + insert + conditional head move).
`--workers` threads serve disjoint sessions at once, as a service does. Old versions are pruned
every few rounds (keep the last `--keep-last`), as a deployment would, so the database stays at
a few versions per session. Half precision is measured twice: its rounding error against fp32,
and its latency on SQLite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from sqlalchemy import create_engine, text

from rxt_core.config import PRESETS
from storage import RetentionPolicy, SessionStore, StoreConfig

from .code_version import code_version

PG_ENV_VARS = ("RXT_DATABASE_URL", "RXT_TEST_DATABASE_URL")
FINGERPRINT = "bench-storage"


@dataclass(frozen=True, slots=True)
class BenchConfig:
    sessions: int
    versions: int
    shape: tuple[int, ...]
    backends: tuple[str, ...]
    pg_url: str | None
    keep_last: int
    prune_every: int
    workers: int
    half_sessions: int
    half_versions: int
    seed: int


@dataclass(frozen=True, slots=True)
class Stats:
    """Latency summary in milliseconds."""

    n: int
    p50_ms: float
    p99_ms: float
    mean_ms: float

    @classmethod
    def of(cls, seconds: list[float]) -> Stats:
        ms = sorted(s * 1e3 for s in seconds)
        return cls(
            n=len(ms), p50_ms=_quantile(ms, 0.50), p99_ms=_quantile(ms, 0.99), mean_ms=statistics.fmean(ms)
        )


@dataclass(frozen=True, slots=True)
class RunResult:
    backend: str
    storage_dtype: str
    sessions: int
    versions: int
    workers: int
    bytes_per_version: int
    wall_s: float
    create: Stats
    append: Stats
    load: Stats
    commit: Stats
    load_cpu: Stats
    commit_cpu: Stats
    prune_s: float


@dataclass(frozen=True, slots=True)
class PrecisionResult:
    storage_dtype: str
    bytes_per_version: int
    max_abs_error: float
    mean_abs_error: float
    relative_l2_error: float


@dataclass
class Report:
    config: dict[str, object]
    machine: dict[str, object]
    runs: list[RunResult] = field(default_factory=list)
    precision: list[PrecisionResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.full:
        args.sessions, args.versions = 1000, 20
    torch.set_num_threads(args.threads)
    pg_url = args.pg_url or next((os.environ[v] for v in PG_ENV_VARS if os.environ.get(v)), None)
    config = BenchConfig(
        sessions=args.sessions,
        versions=args.versions,
        shape=_shape(args.preset, args.shape),
        backends=tuple(args.backends.split(",")),
        pg_url=pg_url,
        keep_last=args.keep_last,
        prune_every=args.prune_every,
        workers=args.workers,
        half_sessions=args.half_sessions,
        half_versions=args.half_versions,
        seed=args.seed,
    )
    report = Report(config=_jsonable(asdict(config)), machine=_machine())
    pool = _stm_pool(config)

    for backend in config.backends:
        if backend == "postgres" and config.pg_url is None:
            report.skipped.append(f"postgres: no --pg-url and none of {', '.join(PG_ENV_VARS)} is set")
            continue
        with _database(backend, config, args.sqlite_dir) as store_config:
            report.runs.append(_run(backend, store_config, pool, config.sessions, config.versions, config))
        _progress(report.runs[-1])

    report.precision = [_precision(pool, dtype) for dtype in ("float32", "float16", "bfloat16")]
    if config.half_sessions > 0 and "sqlite" in config.backends:
        for dtype in ("float16", "bfloat16"):
            with _database("sqlite", config, args.sqlite_dir, storage_dtype=dtype) as store_config:
                run = _run("sqlite", store_config, pool, config.half_sessions, config.half_versions, config)
            report.runs.append(run)
            _progress(run)

    report.machine["loadavg_1min_at_end"] = round(os.getloadavg()[0], 2)
    print(_table(report))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps({**_jsonable(asdict(report)), "code": code_version()}, indent=2) + "\n"
        )
        print(f"\nwrote {args.out}")
    return 0


def _shape(preset: str, shape: str | None) -> tuple[int, ...]:
    if shape is not None:
        return tuple(int(x) for x in shape.split(","))
    model = PRESETS[preset]
    return (model.layers, model.stm_slots, model.dim)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rxt bench storage", description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", type=int, default=1000, help="sessions per backend (default 1000)")
    p.add_argument("--versions", type=int, default=4, help="committed versions per session (default 4)")
    p.add_argument(
        "--full", action="store_true", help="the issue's scale: 1000 sessions x 20 versions (~15 min here)"
    )
    p.add_argument(
        "--preset",
        default="nano",
        choices=sorted(PRESETS),
        help="model whose STM shape to use (default nano)",
    )
    p.add_argument("--shape", default=None, help="STM shape layers,slots,dim (overrides --preset)")
    p.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite,postgres")
    p.add_argument("--pg-url", default=None, help=f"PostgreSQL URL (default: ${' or $'.join(PG_ENV_VARS)})")
    p.add_argument(
        "--sqlite-dir", type=Path, default=None, help="where the SQLite file goes (default: a temp dir)"
    )
    p.add_argument(
        "--workers", type=int, default=1, help="threads serving the sessions concurrently (default 1)"
    )
    p.add_argument(
        "--keep-last", type=int, default=2, help="versions kept per session by pruning (default 2)"
    )
    p.add_argument("--prune-every", type=int, default=5, help="prune every N rounds (default 5)")
    p.add_argument(
        "--half-sessions", type=int, default=100, help="sessions of the fp16/bf16 SQLite runs (0: skip)"
    )
    p.add_argument("--half-versions", type=int, default=5, help="versions of the fp16/bf16 SQLite runs")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    return p


# ---------------------------------------------------------------------------- one run


def _run(
    backend: str,
    store_config: StoreConfig,
    pool: list[torch.Tensor],
    sessions: int,
    versions: int,
    config: BenchConfig,
) -> RunResult:
    policy = RetentionPolicy(keep_last=config.keep_last)
    prune_s = 0.0
    start = time.perf_counter()
    with SessionStore(store_config) as store, ThreadPoolExecutor(config.workers) as executor:
        create: list[float] = []
        ids = []
        for i in range(sessions):
            t0 = time.perf_counter()
            ids.append(store.create_session(pool[i % len(pool)], fingerprint=FINGERPRINT).session_id)
            create.append(time.perf_counter() - t0)
        shards = [_Shard(ids[w :: config.workers]) for w in range(config.workers)]
        for turn in range(versions):
            for future in [executor.submit(shard.turn, store, pool, turn) for shard in shards]:
                future.result()
            if (turn + 1) % config.prune_every == 0 or turn + 1 == versions:
                t0 = time.perf_counter()
                store.prune(policy)
                prune_s += time.perf_counter() - t0
        bytes_per_version = store.list_versions(ids[0])[-1].nbytes
    return RunResult(
        backend=backend,
        storage_dtype=store_config.storage_dtype or "float32",
        sessions=sessions,
        versions=versions,
        workers=config.workers,
        bytes_per_version=bytes_per_version,
        wall_s=time.perf_counter() - start,
        create=Stats.of(create),
        append=Stats.of([t for s in shards for t in s.append]),
        load=Stats.of([t for s in shards for t in s.load]),
        commit=Stats.of([t for s in shards for t in s.commit]),
        load_cpu=Stats.of([t for s in shards for t in s.load_cpu]),
        commit_cpu=Stats.of([t for s in shards for t in s.commit_cpu]),
        prune_s=prune_s,
    )


@dataclass
class _Shard:
    """The sessions one worker thread serves, and the latencies it measured (seconds)."""

    ids: list[str]
    append: list[float] = field(default_factory=list)
    load: list[float] = field(default_factory=list)
    commit: list[float] = field(default_factory=list)
    load_cpu: list[float] = field(default_factory=list)
    commit_cpu: list[float] = field(default_factory=list)

    def turn(self, store: SessionStore, pool: list[torch.Tensor], turn: int) -> None:
        """One turn of each session, exactly as the service drives the store."""
        for i, sid in enumerate(self.ids):
            with _timed(self.load, self.load_cpu):
                snapshot = store.load_stm(sid, fingerprint=FINGERPRINT)
            with _timed(self.append):
                store.append_interaction(sid, turn, f"query {turn}", f"answer {turn}", snapshot.info.version)
            new_stm = pool[(i + turn + 1) % len(pool)]
            with _timed(self.commit, self.commit_cpu):
                store.commit_update(sid, turn, snapshot.info.version, new_stm, fingerprint=FINGERPRINT)


@contextmanager
def _timed(wall: list[float], cpu: list[float] | None = None) -> Iterator[None]:
    """Append the block's wall time, and this thread's CPU time (what the call costs on an idle
    core, for SQLite, which runs in-process), in seconds."""
    w0, c0 = time.perf_counter(), time.thread_time()
    yield
    wall.append(time.perf_counter() - w0)
    if cpu is not None:
        cpu.append(time.thread_time() - c0)


@contextmanager
def _database(
    backend: str, config: BenchConfig, sqlite_dir: Path | None, storage_dtype: str | None = None
) -> Iterator[StoreConfig]:
    """A fresh, empty database for one run, removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="rxt-bench-", dir=sqlite_dir) as tmp:
            yield StoreConfig(url=Path(tmp) / "bench.db", storage_dtype=storage_dtype)  # type: ignore[arg-type]
        return
    if backend != "postgres":
        raise SystemExit(f"unknown backend {backend!r}: use sqlite or postgres")
    assert config.pg_url is not None
    schema = f"rxt_bench_{uuid.uuid4().hex[:12]}"
    try:
        yield StoreConfig(url=config.pg_url, schema=schema, storage_dtype=storage_dtype)  # type: ignore[arg-type]
    finally:
        engine = create_engine(config.pg_url)
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


# ---------------------------------------------------------------------------- precision


def _stm_pool(config: BenchConfig, size: int = 8) -> list[torch.Tensor]:
    """Distinct STMs to commit; unit-variance values like a freshly initialised memory."""
    generator = torch.Generator().manual_seed(config.seed)
    return [torch.randn(config.shape, generator=generator) for _ in range(size)]


def _precision(pool: list[torch.Tensor], dtype_name: str) -> PrecisionResult:
    from storage.blobs import decode, encode

    errors, rel, nbytes = [], [], 0
    for stm in pool:
        encoded = encode(stm, dtype_name)
        back = decode(
            encoded.data,
            shape=encoded.shape,
            dtype=encoded.dtype,
            expected_checksum=encoded.checksum,
            label="precision",
        ).to(torch.float32)
        diff = (back - stm).abs()
        errors.append((diff.max().item(), diff.mean().item()))
        rel.append((torch.linalg.vector_norm(back - stm) / torch.linalg.vector_norm(stm)).item())
        nbytes = len(encoded.data)
    return PrecisionResult(
        storage_dtype=dtype_name,
        bytes_per_version=nbytes,
        max_abs_error=max(e[0] for e in errors),
        mean_abs_error=statistics.fmean(e[1] for e in errors),
        relative_l2_error=statistics.fmean(rel),
    )


# ---------------------------------------------------------------------------- output


def _table(report: Report) -> str:
    lines = [
        "STM storage benchmark "
        f"(STM shape {list(report.config['shape'])}, keep-last {report.config['keep_last']}, "
        f"{report.machine['cpus']} CPUs, load average {report.machine['loadavg_1min_at_start']} at start "
        f"and {report.machine['loadavg_1min_at_end']} at end)",
        "",
        "| backend | stored as | sessions x versions | workers | bytes/version | commit p50 / p99 ms "
        "| load p50 / p99 ms | commit / load CPU p50 ms | append p50 ms | create p50 ms | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report.runs:
        lines.append(
            f"| {r.backend} | {r.storage_dtype} | {r.sessions} x {r.versions} | {r.workers} | {r.bytes_per_version:,} "
            f"| {r.commit.p50_ms:.2f} / {r.commit.p99_ms:.2f} | {r.load.p50_ms:.2f} / {r.load.p99_ms:.2f} "
            f"| {r.commit_cpu.p50_ms:.2f} / {r.load_cpu.p50_ms:.2f} "
            f"| {r.append.p50_ms:.2f} | {r.create.p50_ms:.2f} | {r.wall_s:.1f} |"
        )
    lines += [
        "",
        "| stored as | bytes/version | max abs error | mean abs error | relative L2 error |",
        "|---|---|---|---|---|",
    ]
    for p in report.precision:
        lines.append(
            f"| {p.storage_dtype} | {p.bytes_per_version:,} | {p.max_abs_error:.3g} | {p.mean_abs_error:.3g} "
            f"| {p.relative_l2_error:.3g} |"
        )
    lines += [f"\nskipped {s}" for s in report.skipped]
    return "\n".join(lines)


def _progress(run: RunResult) -> None:
    print(
        f"[{run.backend} {run.storage_dtype}] {run.sessions}x{run.versions}: commit p50 {run.commit.p50_ms:.2f} ms, "
        f"load p50 {run.load.p50_ms:.2f} ms ({run.wall_s:.1f} s)",
        file=sys.stderr,
        flush=True,
    )


def _machine() -> dict[str, object]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "malloc_env": {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")},
        "loadavg_1min_at_start": round(os.getloadavg()[0], 2),
    }


def _quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
