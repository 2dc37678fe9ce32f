"""`rxt bench serve`: N concurrent sessions x M turns through the gRPC service.

For each concurrency level in --sessions it opens that many sessions, runs M turns in each (a
session's turns in order, sessions in parallel) and measures, on the client:

- time to first token (request sent -> first streamed text) and per-turn latency (-> last
  message), overall and by turn index: RxT's cost per turn should not grow with the turn;
- aggregate answer tokens per second over the level's wall time;
- memory-update lag: a turn's last message -> its memory version committed (the snapshot's
  `created_at`; client and server must share a clock, i.e. run on one host), and the time the
  server reports each turn waited for the previous turn's update;
- CPU per turn by process role (each Serve deployment's replicas, this client, the Serve
  controller, the rest of Ray, other processes) and the cores busy, from /proc on this host:
  with few cores, throughput is bounded by their sum (rxt_cli/process_cpu.py).

With --model (or --start) it also measures the service's overhead per turn, side by side: one
session's turns through the service alternate with the same turns on the model called directly
in this process (same queries, same token limit, greedy, its own memory updated after each
answer, off the clock), --overhead-turns of each; overhead = service p50 - direct p50 (also
without the time a service turn waited for its previous memory update, and as the median of
the per-turn differences). Alternating keeps a VM's drifting speed out of the difference.

Turn M against turn 1 side by side (--ratio-runs, the target "turn M within 10% of turn 1"): one
session is taken through M-1 turns, then a turn on a fresh session (turn 1) alternates with turn
M on a fork of that session's head (the same memory turn M reads), each on a new session so both
start from the store, not a replica's cache. At one session each turn index of a level is a
single sample, too noisy for a 10% question.

--start runs the service in this process (local Ray) with --model; otherwise --address must
point at a running `rxt serve`. Writes JSON (with the machine, and a started service's settings:
replicas, threads, --set overrides) and a PNG plot.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import grpc
import torch

from orchestration.config import DEFAULT_PORT
from protos.rxt.v1 import reactive_pb2 as pb
from protos.rxt.v1 import reactive_pb2_grpc
from rxt_core import ReactiveTransformer, SamplingParams
from rxt_core.benchmark import machine_info
from rxt_core.tokenizer import RxTTokenizer

from . import process_cpu
from .code_version import code_version
from .overrides import parse_overrides


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="rxt bench serve", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--address", default=f"localhost:{DEFAULT_PORT}")
    p.add_argument("--start", action="store_true", help="start the service in this process (needs --model)")
    p.add_argument("--model", type=Path, default=None, help="model folder: direct baseline, and for --start")
    p.add_argument("--sessions", type=int, nargs="+", default=[1, 8, 64], help="concurrency levels")
    p.add_argument("--turns", type=int, default=8, help="turns per session")
    p.add_argument("--max-new-tokens", type=int, default=32)
    p.add_argument(
        "--min-new-tokens",
        type=int,
        default=0,
        help="answers do not end before this many tokens (= --max-new-tokens: equal work every turn)",
    )
    p.add_argument("--decoders", type=int, default=1, help="decoder replicas (with --start)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per replica and for the baseline")
    p.add_argument(
        "--overhead-turns",
        type=int,
        default=24,
        help="with --model: service turns alternated with as many direct-model turns (0: skip)",
    )
    p.add_argument(
        "--ratio-runs",
        type=int,
        default=15,
        help="turn 1 (fresh sessions) alternated with turn --turns (forks) this many times each (0: skip)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=JSON",
        help="with --start: override a ServiceConfig field, e.g. --set stream_interval_s=0.05",
    )
    p.add_argument("--out", type=Path, default=Path("bench-serve.json"), help="JSON report (PNG beside it)")
    return p.parse_args(argv)


def query(session: int, turn: int) -> str:
    return f"session {session} turn {turn}: what did I tell you about my plans for today?"


@dataclass
class Turn:
    session: int
    turn: int
    ttft_s: float
    latency_s: float
    tokens: int
    memory_wait_ms: float
    done_wall: float  # time.time() when the last message arrived
    next_version: int
    lag_s: float | None = None


@dataclass
class Level:
    sessions: int
    turns: int
    wall_s: float
    tokens_per_s: float
    ttft_ms: dict[str, float]
    latency_ms: dict[str, float]
    latency_excluding_memory_wait_ms: dict[str, float]
    latency_p50_ms_by_turn: list[float]
    memory_wait_ms: dict[str, float]
    update_lag_ms: dict[str, float]
    errors: int
    cpu_ms_per_turn: dict[str, float]  # by process role, on this host (empty without /proc)
    cores_busy: float  # CPU seconds of every process on this host / wall seconds
    raw: list[Turn] = field(default_factory=list, repr=False)


def percentiles(values: list[float], scale: float = 1e3) -> dict[str, float]:
    if not values:
        return {"p50": float("nan"), "p99": float("nan"), "mean": float("nan")}
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * scale

    return {"p50": at(0.5), "p99": at(0.99), "mean": statistics.fmean(ordered) * scale}


@dataclass(frozen=True)
class AnswerLength:
    """Every benchmark turn is greedy, at most `max_new_tokens` long and not ending before
    `min_new_tokens` (0: where the model ends it; equal to the max: equal work every turn)."""

    max_new_tokens: int
    min_new_tokens: int = 0

    def request(self, session_id: str, text: str) -> pb.InteractRequest:
        return pb.InteractRequest(
            session_id=session_id,
            query=text,
            max_new_tokens=self.max_new_tokens,
            min_new_tokens=self.min_new_tokens,
            temperature=0.0,
        )

    def sampling(self) -> SamplingParams:
        """The same settings for the model called directly."""
        return SamplingParams(
            max_new_tokens=self.max_new_tokens, min_new_tokens=self.min_new_tokens, temperature=0.0
        )


@dataclass(frozen=True)
class TimedTurn:
    seconds: float  # to the last message
    ttft_s: float  # to the first
    tokens: int  # answer tokens
    memory_wait_s: float  # what the server says the turn waited for the previous memory update
    next_version: int  # the version that will hold this turn
    done_wall: float  # time.time() when the last message arrived

    @property
    def per_token_s(self) -> float:
        """Time per answer token after the first: decoding speed, whatever the answer's length."""
        return (self.seconds - self.ttft_s) / max(self.tokens - 1, 1)


async def timed_turn(stub, session_id: str, text: str, length: AnswerLength) -> TimedTurn:
    request = length.request(session_id, text)
    start, first, last = time.perf_counter(), None, None
    async for message in stub.Interact(request):
        first = first or time.perf_counter()
        last = message
    end = time.perf_counter()
    return TimedTurn(
        end - start,
        (first or end) - start,
        last.usage.answer_tokens,
        last.memory_wait_ms / 1e3,
        last.next_version,
        time.time(),
    )


async def run_level(address: str, sessions: int, turns: int, length: AnswerLength) -> Level:
    errors = 0
    results: list[Turn] = []
    async with grpc.aio.insecure_channel(address) as channel:
        stub = reactive_pb2_grpc.ReactiveServiceStub(channel)
        ids = [
            s.session_id
            for s in await asyncio.gather(
                *(stub.CreateSession(pb.CreateSessionRequest()) for _ in range(sessions))
            )
        ]

        async def conversation(index: int, session_id: str) -> None:
            nonlocal errors
            for t in range(turns):
                try:
                    timed = await timed_turn(stub, session_id, query(index, t), length)
                except grpc.RpcError:
                    errors += 1
                    continue
                results.append(
                    Turn(
                        index,
                        t,
                        timed.ttft_s,
                        timed.seconds,
                        timed.tokens,
                        timed.memory_wait_s * 1e3,
                        timed.done_wall,
                        timed.next_version,
                    )
                )

        cpu_before, start = process_cpu.snapshot(), time.perf_counter()
        await asyncio.gather(*(conversation(i, sid) for i, sid in enumerate(ids)))
        wall = time.perf_counter() - start
        cpu = process_cpu.cpu_seconds_by_role(cpu_before, process_cpu.snapshot())
        await asyncio.sleep(0.5)  # let the last updates land
        committed: dict[tuple[int, int], float] = {}
        for i, sid in enumerate(ids):
            listing = await stub.ListSnapshots(pb.ListSnapshotsRequest(session_id=sid))
            for s in listing.snapshots:
                committed[(i, s.version)] = s.created_at.seconds + s.created_at.nanos / 1e9
        for r in results:
            at = committed.get((r.session, r.next_version))
            r.lag_s = None if at is None else max(0.0, at - r.done_wall)
        for sid in ids:
            await stub.DeleteSession(pb.DeleteSessionRequest(session_id=sid))
    by_turn = [percentiles([r.latency_s for r in results if r.turn == t])["p50"] for t in range(turns)]
    return Level(
        sessions=sessions,
        turns=turns,
        wall_s=wall,
        tokens_per_s=sum(r.tokens for r in results) / wall,
        ttft_ms=percentiles([r.ttft_s for r in results]),
        latency_ms=percentiles([r.latency_s for r in results]),
        latency_excluding_memory_wait_ms=percentiles([r.latency_s - r.memory_wait_ms / 1e3 for r in results]),
        latency_p50_ms_by_turn=by_turn,
        memory_wait_ms=percentiles([r.memory_wait_ms for r in results], scale=1.0),
        update_lag_ms=percentiles([r.lag_s for r in results if r.lag_s is not None]),
        errors=errors,
        cpu_ms_per_turn={role: s / max(1, len(results)) * 1e3 for role, s in cpu.most_common()},
        cores_busy=sum(cpu.values()) / wall,
        raw=results,
    )


async def measure_turn_ratio(address: str, turns: int, runs: int, length: AnswerLength) -> dict[str, float]:
    """Turn `turns` vs turn 1 of one conversation, alternated `runs` times (see the module doc).
    The model ends its answers itself, so the two turns' answers can differ in length: their
    token counts, times to first token and times per token are reported beside the latencies."""
    first: list[TimedTurn] = []
    last: list[TimedTurn] = []
    async with grpc.aio.insecure_channel(address) as channel:
        stub = reactive_pb2_grpc.ReactiveServiceStub(channel)
        head = (await stub.CreateSession(pb.CreateSessionRequest())).session_id
        for t in range(turns - 1):
            await timed_turn(stub, head, query(0, t), length)

        async def turn_one() -> None:
            sid = (await stub.CreateSession(pb.CreateSessionRequest())).session_id
            first.append(await timed_turn(stub, sid, query(0, 0), length))
            await stub.DeleteSession(pb.DeleteSessionRequest(session_id=sid))

        async def turn_last() -> None:  # a fork of the head: waits for its pending update
            sid = (await stub.ForkSession(pb.ForkSessionRequest(session_id=head))).session_id
            last.append(await timed_turn(stub, sid, query(0, turns - 1), length))
            await stub.DeleteSession(pb.DeleteSessionRequest(session_id=sid))

        for r in range(runs + 1):  # run 0 warms up
            for step in (turn_one, turn_last) if r % 2 == 0 else (turn_last, turn_one):
                await step()
        await stub.DeleteSession(pb.DeleteSessionRequest(session_id=head))

    def p50_ms(runs: list[TimedTurn], attribute: str) -> float:
        return statistics.median(getattr(t, attribute) for t in runs[1:]) * 1e3

    report: dict[str, float] = {"turn": turns, "runs": runs}
    for name, attribute in (("", "seconds"), ("ttft_", "ttft_s"), ("per_token_", "per_token_s")):
        report[f"turn_1_{name}p50_ms"] = one = p50_ms(first, attribute)
        report[f"turn_n_{name}p50_ms"] = n = p50_ms(last, attribute)
        report[f"{name}ratio"] = n / one
    report["turn_1_tokens"] = statistics.median(t.tokens for t in first[1:])
    report["turn_n_tokens"] = statistics.median(t.tokens for t in last[1:])
    return report


class DirectModel:
    """The model called directly in this process, the way an application without the service
    would: tokenise, generate (greedy), detokenise; the memory update after each answer is off
    the clock, as the service runs it after the answer has streamed."""

    def __init__(self, model_dir: Path, threads: int):
        torch.set_num_threads(threads)
        self.model = ReactiveTransformer.from_pretrained(model_dir)
        self.tokenizer = RxTTokenizer.load(model_dir)
        self.stm = self.model.init_memory(1)

    def turn(self, text: str, length: AnswerLength) -> tuple[float, float]:
        """(seconds to the last token, seconds to the first)."""
        params = length.sampling()
        start = time.perf_counter()
        ids = self.tokenizer.encode(text)
        decoder, answer, first = self.tokenizer.stream_decoder(), [], None
        for token in self.model.interact(ids, self.stm, params):
            first = first or time.perf_counter()
            decoder.push([token])
            answer.append(token)
        decoder.finish()
        end = time.perf_counter()
        self.stm = self.model.update_memory(self.stm, ids, answer)
        return end - start, (first or end) - start


async def measure_overhead(
    address: str, direct: DirectModel, turns: int, length: AnswerLength
) -> dict[str, float]:
    """One session's turns through the service alternated with the same turns called directly
    (service first on even turns, direct first on odd ones); turn 0 of each warms up."""
    service_s, service_no_wait_s, direct_s, direct_ttft_s = [], [], [], []
    async with grpc.aio.insecure_channel(address) as channel:
        stub = reactive_pb2_grpc.ReactiveServiceStub(channel)
        session_id = (await stub.CreateSession(pb.CreateSessionRequest())).session_id

        async def service_turn(t: int) -> None:
            turn = await timed_turn(stub, session_id, query(0, t), length)
            if t:
                service_s.append(turn.seconds)
                service_no_wait_s.append(turn.seconds - turn.memory_wait_s)

        def direct_turn(t: int) -> None:
            seconds, ttft = direct.turn(query(0, t), length)
            if t:
                direct_s.append(seconds)
                direct_ttft_s.append(ttft)

        for t in range(turns + 1):
            if t % 2 == 0:
                await service_turn(t)
                direct_turn(t)
            else:
                direct_turn(t)
                await service_turn(t)
        await stub.DeleteSession(pb.DeleteSessionRequest(session_id=session_id))
    direct_p50, service_p50 = statistics.median(direct_s) * 1e3, statistics.median(service_s) * 1e3
    no_wait_p50 = statistics.median(service_no_wait_s) * 1e3
    return {
        "turns": turns,
        "direct_latency_p50_ms": direct_p50,
        "direct_ttft_p50_ms": statistics.median(direct_ttft_s) * 1e3,
        "service_latency_p50_ms": service_p50,
        "service_latency_excluding_memory_wait_p50_ms": no_wait_p50,
        "overhead_p50_ms": service_p50 - direct_p50,
        "overhead_excluding_memory_wait_p50_ms": no_wait_p50 - direct_p50,
        # the same from each turn's own pair: the median of (service - direct) per turn
        "overhead_excluding_memory_wait_paired_p50_ms": statistics.median(
            (s - d) * 1e3 for s, d in zip(service_no_wait_s, direct_s, strict=True)
        ),
    }


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = report["levels"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for level in levels:
        by_turn = level["latency_p50_ms_by_turn"]
        n = level["sessions"]
        left.plot(range(1, len(by_turn) + 1), by_turn, marker="o", label=f"{n} session{'s' if n > 1 else ''}")
    left.set(xlabel="turn", ylabel="p50 turn latency (ms)", title="Latency by turn index")
    left.set_ylim(bottom=0)
    left.legend()
    sessions = [lv["sessions"] for lv in levels]
    right.plot(sessions, [lv["tokens_per_s"] for lv in levels], marker="o")
    right.set(xlabel="concurrent sessions", ylabel="answer tokens / s", title="Throughput")
    right.set_xscale("log", base=2)
    right.set_ylim(bottom=0)
    fig.suptitle(f"rxt bench serve — {report['model'] or report['address']}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str]) -> int:
    args = parse(argv)
    if args.start and args.model is None:
        print("rxt bench serve: --start needs --model", file=sys.stderr)
        return 2
    try:
        overrides = parse_overrides(args.set)  # before anything starts: a typo fails at once
    except ValueError as exc:
        print(f"rxt bench serve: {exc}", file=sys.stderr)
        return 2
    if not 0 <= args.min_new_tokens <= args.max_new_tokens:
        print("rxt bench serve: --min-new-tokens must be in [0, --max-new-tokens]", file=sys.stderr)
        return 2
    length = AnswerLength(args.max_new_tokens, args.min_new_tokens)
    direct = DirectModel(args.model, args.threads) if args.model and args.overhead_turns > 0 else None
    stop, service_config = _start_service(args, overrides) if args.start else (None, None)
    try:
        overhead = None
        if direct is not None:
            overhead = asyncio.run(measure_overhead(args.address, direct, args.overhead_turns, length))
            print(
                f"one session, {args.overhead_turns} turns alternated with the model called directly: "
                f"service p50 {overhead['service_latency_p50_ms']:.1f} ms "
                f"({overhead['service_latency_excluding_memory_wait_p50_ms']:.1f} without the memory wait), "
                f"direct p50 {overhead['direct_latency_p50_ms']:.1f} ms: overhead "
                f"{overhead['overhead_p50_ms']:.1f} ms, {overhead['overhead_excluding_memory_wait_p50_ms']:.1f} ms "
                f"without the memory wait (paired {overhead['overhead_excluding_memory_wait_paired_p50_ms']:.1f})",
                flush=True,
            )
        ratio = None
        if args.ratio_runs > 0 and args.turns > 1:
            ratio = asyncio.run(measure_turn_ratio(args.address, args.turns, args.ratio_runs, length))
            print(
                f"turn {args.turns} vs turn 1, alternated {args.ratio_runs} times: p50 "
                f"{ratio['turn_n_p50_ms']:.1f} vs {ratio['turn_1_p50_ms']:.1f} ms = {ratio['ratio']:.3f} "
                f"({ratio['turn_n_tokens']:.0f} vs {ratio['turn_1_tokens']:.0f} answer tokens; "
                f"TTFT ratio {ratio['ttft_ratio']:.3f}, per-token ratio {ratio['per_token_ratio']:.3f})",
                flush=True,
            )
        levels = []
        for n in args.sessions:
            level = asyncio.run(run_level(args.address, n, args.turns, length))
            levels.append(level)
            print(
                f"{n:>4} sessions x {args.turns} turns: {level.tokens_per_s:7.1f} tok/s, "
                f"TTFT p50 {level.ttft_ms['p50']:6.1f} ms p99 {level.ttft_ms['p99']:6.1f} ms, "
                f"turn p50 {level.latency_ms['p50']:6.1f} ms p99 {level.latency_ms['p99']:6.1f} ms, "
                f"update lag p50 {level.update_lag_ms['p50']:6.1f} ms, "
                f"memory wait p50 {level.memory_wait_ms['p50']:5.1f} ms, errors {level.errors}",
                flush=True,
            )
            if level.cpu_ms_per_turn:
                shares = ", ".join(
                    f"{role} {ms:.1f}" for role, ms in level.cpu_ms_per_turn.items() if ms >= 0.05
                )
                print(f"      CPU ms per turn: {shares} ({level.cores_busy:.2f} cores busy)", flush=True)
    finally:
        if stop is not None:
            stop()
    report = {
        "address": args.address,
        "model": str(args.model) if args.model else None,
        "turns": args.turns,
        "max_new_tokens": args.max_new_tokens,
        "min_new_tokens": args.min_new_tokens,
        # what was measured on what: the machine, and the settings of a service started here
        "machine": machine_info(torch.device("cpu")),
        "code": code_version(),
        "started_service": (
            {
                "decoders": args.decoders,
                "threads": args.threads,
                "overrides": overrides,
                "config": service_config.model_dump(mode="json"),
            }
            if service_config is not None
            else None
        ),
        "levels": [{k: v for k, v in asdict(lv).items() if k != "raw"} for lv in levels],
    }
    one = next((lv for lv in levels if lv.sessions == 1), None)
    if one is not None and len(levels) > 1:
        report["throughput_vs_one_session"] = {
            lv.sessions: lv.tokens_per_s / one.tokens_per_s for lv in levels
        }
    if overhead is not None:
        report["overhead"] = overhead
    if ratio is not None:
        report["turn_ratio"] = ratio
    for lv in levels:
        first, last = lv.latency_p50_ms_by_turn[0], lv.latency_p50_ms_by_turn[-1]
        print(f"{lv.sessions:>4} sessions: p50 latency turn 1 {first:.1f} ms, turn {lv.turns} {last:.1f} ms")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    plot(report, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")
    return 0


def _start_service(args: argparse.Namespace, overrides: dict):
    import tempfile

    from orchestration.config import ReplicaConfig, ServiceConfig
    from orchestration.local_ray import init_local_ray

    data = Path(tempfile.mkdtemp(prefix="rxt-bench-"))
    port = int(args.address.rsplit(":", 1)[1])
    config = ServiceConfig(
        model_dir=args.model.resolve(),
        database_url=f"sqlite:///{data / 'rxt.db'}",
        port=port,
        decoder=ReplicaConfig(replicas=args.decoders),
        torch_threads=args.threads,
        **overrides,
    )
    init_local_ray(logging_level="WARNING", log_to_driver=False)  # as `rxt serve`
    import ray
    from ray import serve

    from orchestration.app import start

    start(config)

    def stop() -> None:
        serve.shutdown()
        ray.shutdown()

    return stop, config
