"""`rxt eval`: score an RxT model (and optionally the stateless baseline) on dialogues.

    rxt eval --model models/rxt-nano --data heldout.jsonl --baseline runs/nano/baseline/model \
             --out results.json

Prints one table, RxT and baseline side by side: answer perplexity and next-token accuracy
(teacher-forced), MRL reward (0-10; mean/max/min over dialogues) and fact recall by distance
and by fact kind, and how often a value the query states is copied into the answer (greedy
generation, memory/history built from the model's own answers), and for RxT the memory
probe (rxt_core.training.memory_probe): next-token accuracy on the recalled values with the
dialogue's own memory vs another dialogue's — equal numbers mean the decoder ignores memory;
the value's first token apart from its later ones: the wrong value vs a misspelled one —
and the share of a turn's memory write left 1-16 turns later (rxt_core.training.write_retention:
what recall at that distance has to read from). `--replay-probe` adds
rxt_core.training.replay_probe: each stated value re-read from memory k turns after its write,
beside recall from a question at distance k + 1 (a lost write vs a failed read). Writes
everything, with a few sample transcripts and every missed recall (kind, value, distance,
question, answer), as JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from pathlib import Path

from .overrides import parse_overrides

REPLAY_LAGS = (0, 1, 3, 7)  # turns after the stating write; recall at distance lag + 1 (7: 8 and beyond)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rxt eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--model", required=True, help="RxT model folder (with tokenizer.json)")
    p.add_argument("--data", required=True, help="dialogue JSONL")
    p.add_argument("--baseline", help="stateless baseline model folder")
    p.add_argument("--out", help="write results JSON here")
    p.add_argument("--tokenizer", help="tokenizer.json (default: the model folder's)")
    p.add_argument("--max-dialogues", type=int)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-new-tokens", type=int, default=32)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=JSON",
        help="RxT config field that keeps every weight, e.g. keep_threshold=1.5 (repeatable)",
    )
    p.add_argument(
        "--replay-probe",
        action="store_true",
        help="also re-read each stated value from memory 0/1/3/7 turns after its write, beside recall at "
        "distance 1/2/4/8+ (write vs read; docs/training.md; ~2 min per 200 dialogues on a CPU)",
    )
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        results = run(args)
    except (ValueError, FileNotFoundError) as e:
        print(f"rxt eval: error: {e}", file=sys.stderr)
        return 2
    print(format_table(results))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nresults written to {args.out}")
    return 0


def run(args) -> dict:
    import torch

    from rxt_core import ReactiveTransformer, StatelessLM
    from rxt_core.training.evaluate import evaluate
    from rxt_core.training.memory_probe import probe_memory
    from rxt_core.training.pipeline import load_token_dialogues, load_tokenizer, pick_device
    from rxt_core.training.replay_probe import probe_replay
    from rxt_core.training.write_retention import write_retention, writes_are_convex

    torch.set_num_threads(args.threads)
    tokenizer = load_tokenizer(args.tokenizer or str(Path(args.model) / "tokenizer.json"))
    device = pick_device(args.device)
    overrides = parse_overrides(args.set)
    rxt = ReactiveTransformer.from_pretrained(args.model, device=device, overrides=overrides)
    dialogues = load_token_dialogues([args.data], tokenizer, rxt.config, args.max_dialogues)
    common = {"batch_size": args.batch_size, "max_new_tokens": args.max_new_tokens}
    results = {"data": args.data, "models": [evaluate(rxt, tokenizer, dialogues, "RxT", **common).as_dict()]}
    results["models"][0]["path"] = args.model
    results["models"][0]["overrides"] = overrides
    probe = probe_memory(rxt, dialogues, tokenizer, batch_size=max(2, args.batch_size))
    results["models"][0]["memory_probe"] = probe.as_dict()
    if args.replay_probe:
        results["models"][0]["replay_probe"] = probe_replay(
            rxt, dialogues, tokenizer, REPLAY_LAGS, args.batch_size
        )
    if writes_are_convex(rxt.config):
        retention = write_retention(rxt, dialogues, batch_size=args.batch_size)
        results["models"][0]["write_retention"] = retention.as_dict()
    if args.baseline:
        base = StatelessLM.from_pretrained(args.baseline, device=device)
        scored = evaluate(base, tokenizer, dialogues, "Stateless baseline", **common).as_dict()
        scored["path"] = args.baseline
        results["models"].append(scored)
    return results


def format_table(results: dict) -> str:
    models = results["models"]
    distances = sorted({int(d) for m in models for d in m["recall_by_distance"]})
    rows: list[tuple[str, list[str]]] = [
        ("parameters", [f"{m['parameters'] / 1e6:.2f}M" for m in models]),
        ("answer perplexity", [f"{m['perplexity']:.3f}" for m in models]),
        ("answer next-token accuracy", [f"{100 * m['answer_accuracy']:.1f}%" for m in models]),
        ("MRL reward mean / max / min", [_reward(m["mrl_reward"]) for m in models]),
        ("fact recall, all distances", [_pct(m["recall_overall"]) for m in models]),
        ("fact recall, 1-8 turns back", [_pct(m["recall_1_8"]) for m in models]),
        ("fact recall, 9-16 turns back", [_pct(m["recall_9_16"]) for m in models]),
        ("stated values copied into the answer", [_pct(m["copy_overall"]) for m in models]),
        ("recalled-value accuracy, own memory", [_probe(m, "own_value_accuracy") for m in models]),
        ("  ... with another dialogue's memory", [_probe(m, "other_value_accuracy") for m in models]),
        (
            "  ... its first tokens, own memory",
            [_probe(m, "own_value_first_token_accuracy", "own_value_first_tokens") for m in models],
        ),
        (
            "  ... its later tokens, own memory",
            [_probe(m, "own_value_later_token_accuracy", "own_value_later_tokens") for m in models],
        ),
        (
            "copied-value accuracy (stated in the query)",
            [_probe(m, "copied_value_accuracy", "copied_value_tokens") for m in models],
        ),
        (
            "  ... its first tokens",
            [_probe(m, "copied_value_first_token_accuracy", "copied_value_first_tokens") for m in models],
        ),
        (
            "  ... its later tokens",
            [_probe(m, "copied_value_later_token_accuracy", "copied_value_later_tokens") for m in models],
        ),
        ("memory rewritten per turn (mean write weight)", [_mean_write(m) for m in models]),
        ("share of a write left after 1 / 2 / 4 / 8 turns", [_retention(m) for m in models]),
    ]
    if any("replay_probe" in m for m in models):
        rows.append(
            (
                "stated value replayed from memory, first tokens, 0 / 1 / 3 / 7 turns after",
                [_replay(m, "lag{}_own_first") for m in models],
            )
        )
        rows.append(
            (
                "  ... recalled from a question, distance 1 / 2 / 4 / 8+",
                [_replay(m, "recall{}_own_first") for m in models],
            )
        )
    for d in distances:
        rows.append(
            (f"  recall at distance {d}", [_rate(m["recall_by_distance"].get(str(d))) for m in models])
        )
    facts = sorted({f for m in models for key in ("recall_by_fact", "copy_by_fact") for f in m[key]})
    for f in facts:
        cells = [
            f"{_rate(m['recall_by_fact'].get(f))}, copy {_rate(m['copy_by_fact'].get(f))}" for m in models
        ]
        rows.append((f"  recall, copy: {f}", cells))
    width = max(len(name) for name, _ in rows)
    cols = [max(len(m["name"]), *(len(cells[i]) for _, cells in rows)) for i, m in enumerate(models)]
    header = " " * width + " | " + " | ".join(m["name"].ljust(c) for m, c in zip(models, cols, strict=True))
    lines = [
        f"{len(models) and models[0]['dialogues']} dialogues from {results['data']}",
        header,
        "-" * len(header),
    ]
    for name, cells in rows:
        lines.append(
            name.ljust(width) + " | " + " | ".join(c.ljust(w) for c, w in zip(cells, cols, strict=True))
        )
    return "\n".join(lines)


def _rate(r: dict | None) -> str:
    return f"{_pct(r['accuracy'])} ({r['hits']}/{r['total']})" if r else "-"


def _pct(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


def _probe(model: dict, key: str, count: str = "value_tokens") -> str:
    probe = model.get("memory_probe")
    return _pct(probe[key]) if probe and probe.get(count) else "-"


def _replay(model: dict, key: str) -> str:
    probe = model.get("replay_probe")
    if not probe:
        return "-"
    return " / ".join(
        _pct(probe[k]["accuracy"]) if (k := key.format(lag)) in probe else "-" for lag in REPLAY_LAGS
    )


def _mean_write(model: dict) -> str:
    retention = model.get("write_retention")
    return _pct(retention["mean_write"]) if retention else "-"


def _retention(model: dict) -> str:
    retention = model.get("write_retention")
    if not retention:
        return "-"
    shares = retention["share_left"]
    return " / ".join(_pct(shares.get(d, shares.get(str(d)))) for d in (1, 2, 4, 8))


def _reward(r: dict) -> str:
    return f"{r['mean']:.2f} / {r['max']:.2f} / {r['min']:.2f}"
