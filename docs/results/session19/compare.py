"""The A/B's table: `rxt eval` JSONs of each arm (and the starting model) side by side.

.venv/bin/python docs/results/session19/compare.py NAME=EVAL_HELDOUT.json[,EVAL_VALID.json] ...
"""

from __future__ import annotations

import json
import sys

from rxt_core.data.open_values import CLOSED_FACTS


def closed_share(by_fact: dict) -> str:
    """Hits over totals of the closed kinds."""
    hits = sum(v["hits"] for k, v in by_fact.items() if k in CLOSED_FACTS)
    total = sum(v["total"] for k, v in by_fact.items() if k in CLOSED_FACTS)
    return f"{hits / total:.1%}" if total else "-"


def row(path: str) -> dict:
    with open(path) as f:
        rxt = json.load(f)["models"][0]
    d = rxt["recall_by_distance"]
    probe = rxt.get("memory_probe", {})
    return {
        "PPL": f"{rxt['perplexity']:.3f}",
        "recall 1-8": f"{rxt['recall_1_8']:.1%}",
        "9-16": f"{rxt['recall_9_16']:.1%}",
        "d=1/2/4/8": " / ".join(f"{d[k]['accuracy']:.1%}" if k in d else "-" for k in ("1", "2", "4", "8")),
        "value tf own": f"{probe['own_value_accuracy']:.1%}" if probe else "-",
        "MRL": f"{rxt['mrl_reward']['mean']:.2f}",
        "copied from query": f"{rxt['copy_overall']:.1%}" if "copy_overall" in rxt else "-",
        "closed recall / copied": f"{closed_share(rxt['recall_by_fact'])} / {closed_share(rxt.get('copy_by_fact', {}))}",
    }


def main() -> None:
    rows = []
    for arg in sys.argv[1:]:
        name, paths = arg.split("=", 1)
        for split, path in zip(("held-out", "training entities"), paths.split(","), strict=False):
            rows.append({"model": name, "split": split, **row(path)})
    columns = list(rows[0])
    print("| " + " | ".join(columns) + " |")
    print("|" + "|".join("---" for _ in columns) + "|")
    for r in rows:
        print("| " + " | ".join(r[c] for c in columns) + " |")


if __name__ == "__main__":
    main()
