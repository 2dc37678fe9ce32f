"""Figures and numbers for the training report, from a run folder's `history.json` files.

    python -m rxt_core.training.report runs/bundled/run docs [--eval results.json]

Writes `training_loss.png` (loss per step of every stage, baseline included) and, with an eval
JSON, `recall_by_distance.png`; prints a markdown table of steps, time, tokens and throughput.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from .config import STAGE_DIRS

TITLES = {
    "1": "Stage 1: joint LM (AR + MLM)",
    "2": "Stage 2: interaction SFT (AR + MLM)",
    "3": "Stage 3: memory attention (1 - cos)",
    "4": "Stage 4: memory-aware (answer NLL)",
    "baseline": "Stateless baseline (answer NLL)",
}


def load_histories(run: Path) -> dict[str, dict]:
    out = {}
    for stage, folder in STAGE_DIRS.items():
        path = run / folder / "history.json"
        if path.is_file():
            out[stage] = json.loads(path.read_text())
    return out


def summary_table(histories: dict[str, dict]) -> str:
    lines = [
        "| stage | steps | training time | tokens | tokens/s | final loss (mean of last 10 steps) |",
        "|---|---|---|---|---|---|",
    ]
    for stage, h in histories.items():
        records = h["history"]
        tokens = sum(r["tokens"] for r in records)
        seconds = _seconds(records)
        last = [r["loss"] for r in records[-10:]]
        lines.append(
            f"| {stage} | {h['steps']} | {seconds / 60:.1f} min | {tokens:,} | "
            f"{tokens / max(seconds, 1e-9):,.0f} | {sum(last) / max(len(last), 1):.3f} |"
        )
    return "\n".join(lines)


def _seconds(records: list[dict]) -> float:
    """Training time of the stage (resumes included)."""
    if "seconds" in records[-1]:
        return records[-1]["seconds"]
    total, run_tokens = 0.0, 0  # older histories: from the logged throughput of each run
    for i, r in enumerate(records):
        run_tokens += r["tokens"]
        last_of_run = i + 1 == len(records) or records[i + 1]["tokens_per_s"] > 5 * r["tokens_per_s"]
        if last_of_run:
            total += run_tokens / max(r["tokens_per_s"], 1e-9)
            run_tokens = 0
    return total


def plot_losses(histories: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(histories)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.4 * rows), squeeze=False)
    for ax, (stage, h) in zip(axes.flat, histories.items(), strict=False):
        steps = [r["step"] for r in h["history"]]
        losses = [r["loss"] for r in h["history"]]
        ax.plot(steps, losses, lw=0.8, alpha=0.5)
        ax.plot(steps, _smooth(losses), lw=1.6)
        ax.set_title(TITLES.get(stage, stage), fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_recall(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6))
    for model in results["models"]:
        by = model["recall_by_distance"]
        distances = sorted(int(d) for d in by)
        ax.plot(distances, [100 * by[str(d)]["accuracy"] for d in distances], marker="o", label=model["name"])
    ax.set_xlabel("distance (turns since the fact was last mentioned)")
    ax.set_ylabel("fact recall (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _smooth(values: list[float], window: int = 15) -> list[float]:
    out, acc = [], []
    for v in values:
        acc.append(v)
        if len(acc) > window:
            acc.pop(0)
        out.append(sum(acc) / len(acc))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rxt_core.training.report")
    p.add_argument("run", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--eval", type=Path, help="rxt eval --out JSON")
    args = p.parse_args(argv)
    histories = load_histories(args.run)
    if not histories:
        raise SystemExit(f"{args.run}: no history.json under any stage folder")
    args.out.mkdir(parents=True, exist_ok=True)
    plot_losses(histories, args.out / "training_loss.png")
    if args.eval:
        plot_recall(json.loads(args.eval.read_text()), args.out / "recall_by_distance.png")
    print(summary_table(histories))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
