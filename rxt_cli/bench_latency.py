"""`rxt bench latency`: per-turn latency of RxT vs a stateless LM of the same blocks, RxT tokens/s
by batch size, the matmul floor of a decode step and fp32 vs bf16 weights.

Writes the results as JSON (`--out`) and a plot of latency per turn (`--plot`, default: the JSON
path with a .png suffix), and prints a short summary. The measuring lives in
`rxt_core.benchmark`; this module parses flags, prints and plots.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from rxt_core.benchmark import LatencyBenchConfig, run_benchmark
from rxt_core.precision import WRITE_PRECISIONS

from .code_version import code_version
from .overrides import parse_overrides


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from e
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError("batch sizes must be >= 1")
    return sizes


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def parser() -> argparse.ArgumentParser:
    d = LatencyBenchConfig()
    p = argparse.ArgumentParser(prog="rxt bench latency", description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default=d.preset, help="model preset (random weights)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=JSON",
        help="model config field over the preset, e.g. memory_write=keep (repeatable)",
    )
    p.add_argument("--turns", type=_positive, default=d.turns)
    p.add_argument("--query-len", type=_positive, default=d.query_len)
    p.add_argument("--answer-len", type=_positive, default=d.answer_len, help="tokens generated per turn")
    p.add_argument("--repeats", type=_positive, default=d.repeats, help="median of this many runs")
    p.add_argument(
        "--endpoint-repeats",
        type=_positive,
        default=d.endpoint_repeats,
        help="after the loop, runs of turns 1 and N each, alternated: their ratio is a target",
    )
    p.add_argument("--warmup", type=int, default=d.warmup, help="untimed warm-up runs")
    p.add_argument("--threads", type=_positive, default=d.threads, help="torch.set_num_threads")
    p.add_argument("--batch-sizes", type=_sizes, default=d.batch_sizes, help="e.g. 1,2,4,8")
    p.add_argument("--no-bf16", action="store_true", help="skip the bf16-weights comparison")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", default=d.device, help="cpu, or cuda (bf16 autocast on the GPU)")
    p.add_argument(
        "--write-precision",
        choices=WRITE_PRECISIONS,
        default=d.write_precision,
        help="what memory updates compute in (auto: bf16 where the hardware has it)",
    )
    p.add_argument(
        "--compile-writes",
        action="store_true",
        help="also time the batch-1 memory update through torch.compile (about a minute to compile)",
    )
    p.add_argument("--out", type=Path, default=Path("bench_latency.json"))
    p.add_argument("--plot", type=Path, default=None, help="PNG path (default: --out with .png)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress log")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    bench = LatencyBenchConfig(
        preset=args.preset,
        turns=args.turns,
        query_len=args.query_len,
        answer_len=args.answer_len,
        repeats=args.repeats,
        endpoint_repeats=args.endpoint_repeats,
        warmup=args.warmup,
        threads=args.threads,
        batch_sizes=args.batch_sizes,
        compare_bf16=not args.no_bf16,
        seed=args.seed,
        device=args.device,
        write_precision=args.write_precision,
        compile_writes=args.compile_writes,
        overrides=parse_overrides(args.set),
    )
    result = {**run_benchmark(bench), "code": code_version()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    plot_path = args.plot or args.out.with_suffix(".png")
    plot(result, plot_path)
    print(summary_text(result))
    print(f"wrote {args.out} and {plot_path}")
    return 0


def summary_text(result: dict) -> str:
    s, turns = result["summary"], result["turns"]
    last = turns[-1]
    overrides = result["model"].get("overrides") or {}
    shown = "".join(f" {k}={v}" for k, v in overrides.items())
    lines = [
        f"{result['model']['preset']}{shown}: {len(turns)} turns, threads={result['machine']['threads']}, "
        f"loadavg start={result['loadavg']['start'][0]:.2f} end={result['loadavg']['end'][0]:.2f}",
        f"RxT       turn 1 {s['rxt_first_turn_ms']:.1f} ms, turn {last['turn']} {s['rxt_last_turn_ms']:.1f} ms "
        f"(ratio {s['rxt_turn_ratio']:.3f}, alternated; in the loop {s['rxt_turn_ratio_in_loop']:.3f}); "
        f"TTFT {s['rxt_ttft_ms']:.1f} ms, {s['rxt_per_token_ms']:.2f} ms/token, "
        f"memory update {s['rxt_update_ms']:.1f} ms",
        f"stateless turn 1 {s['stateless_first_turn_ms']:.1f} ms, turn {last['turn']} "
        f"{s['stateless_last_turn_ms']:.1f} ms (ratio {s['stateless_turn_ratio']:.2f}, "
        f"{last['stateless_prompt_tokens']} prompt tokens)",
        f"CPU time: RxT ratio {s['rxt_turn_ratio_cpu']:.3f}, TTFT {s['rxt_cpu_ttft_ms']:.1f} ms, "
        f"{s['rxt_cpu_per_token_ms']:.2f} ms/token, update {s['rxt_cpu_update_ms']:.1f} ms; "
        f"stateless ratio {s['stateless_turn_ratio_cpu']:.2f}",
        f"matmul floor {s['matmul_floor_ms']:.2f} ms/token; decode is {s['per_token_over_floor']:.2f}x the floor",
        f"memory update ({s['write_precision']} writes) {s['update_gflop']:.2f} GFLOP; {s['write_precision']} "
        f"matmuls run at {s['gemm_gflops']:.0f} GFLOP/s here, so it cannot take less than "
        f"{s['update_floor_ms']:.1f} ms",
    ]
    lines += [
        f"{d['dtype']:>9}: {d['per_token_ms']:.2f} ms/token, update {d['update_ms']:.1f} ms, "
        f"floor {d['floor_ms']:.2f} ms"
        for d in result["dtypes"]
    ]
    lines += [
        f"batch {b['batch']:>3}: {b['tokens_per_s']:8.0f} tokens/s ({b['step_ms']:.1f} ms/step), "
        f"{b['updates_per_s']:6.1f} updates/s; CPU time: {b['cpu_tokens_per_s']:8.0f} tokens/s "
        f"({b['cpu_step_ms']:.1f} ms/step)"
        for b in result["batches"]
    ]
    lines += [
        f"update {u['memory_attention']:>21} / {u['gate']:<10} {u['precision']}: {u['update_ms']:6.1f} ms, "
        f"{u['gflop']:.3f} GFLOP"
        for u in result["update_variants"]
    ]
    if c := result.get("compiled_update"):
        lines.append(
            f"memory update ({c['precision']}), eager {c['eager_ms']:.1f} ms vs torch.compile "
            f"{c['compiled_ms']:.1f} ms (compiled once in {c['compile_s']:.0f} s)"
        )
    lines.append(
        "targets: " + ", ".join(f"{k} {'ok' if v else 'MISSED'}" for k, v in s["targets_met"].items())
    )
    return "\n".join(lines)


def plot(result: dict, path: Path) -> None:
    """Latency per turn (user-facing answer, and its prompt phase) of both models, like the
    paper's Fig. 13; RxT's memory update (off the user's path) dashed."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    turns = result["turns"]
    x = [t["turn"] for t in turns]
    fig, (ax_total, ax_prompt, ax_cpu) = plt.subplots(1, 3, figsize=(15, 4), constrained_layout=True)
    ax_total.plot(x, [t["stateless_total_ms"] for t in turns], label="stateless LM", color="tab:red")
    ax_total.plot(x, [t["rxt_total_ms"] for t in turns], label="RxT", color="tab:blue")
    ax_total.plot(
        x, [t["rxt_update_ms"] for t in turns], "--", label="RxT memory update (async)", color="tab:cyan"
    )
    ax_total.set(title="answer latency per turn", xlabel="turn", ylabel="ms")
    ax_prompt.plot(x, [t["stateless_ttft_ms"] for t in turns], label="stateless LM", color="tab:red")
    ax_prompt.plot(x, [t["rxt_ttft_ms"] for t in turns], label="RxT", color="tab:blue")
    ax_prompt.set(title="time to first token (prompt phase)", xlabel="turn", ylabel="ms")
    ax_cpu.plot(x, [t["stateless_cpu_total_ms"] for t in turns], label="stateless LM", color="tab:red")
    ax_cpu.plot(x, [t["rxt_cpu_total_ms"] for t in turns], label="RxT", color="tab:blue")
    ax_cpu.plot(x, [t["rxt_cpu_update_ms"] for t in turns], "--", label="RxT memory update", color="tab:cyan")
    ax_cpu.set(title="CPU time per answer (no waiting for a core)", xlabel="turn", ylabel="ms")
    for ax in (ax_total, ax_prompt, ax_cpu):
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend()
    cfg = result["config"]
    fig.suptitle(
        f"{result['model']['preset']}: {cfg['query_len']}-token queries, {cfg['answer_len']}-token answers, "
        f"{result['machine']['threads']} thread(s)"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
