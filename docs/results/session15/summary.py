"""Print one row per eval JSON: PPL, recall 1-8 / 9-16, closed-pool and other recall and copies."""

import json
import sys

from rxt_core.data.open_values import CLOSED_FACTS


def split(by_fact):
    out = {}
    for kind in ("closed", "other"):
        rows = [v for f, v in by_fact.items() if (f in CLOSED_FACTS) == (kind == "closed")]
        hits, total = sum(r["hits"] for r in rows), sum(r["total"] for r in rows)
        out[kind] = f"{hits}/{total} = {100 * hits / max(total, 1):.1f}%"
    return out


for path in sys.argv[1:]:
    with open(path) as f:
        m = json.load(f)["models"][0]
    r, c = split(m["recall_by_fact"]), split(m["copy_by_fact"])
    probe = m.get("memory_probe", {})
    print(
        f"| {path} | {m['perplexity']:.3f} | {100 * m['recall_1_8']:.1f}% | {100 * m['recall_9_16']:.1f}% | "
        f"{r['closed']} | {r['other']} | {100 * m['copy_overall']:.1f}% | {c['closed']} | {m['mrl_reward']['mean']:.2f} | "
        f"{100 * probe.get('copied_value_later_token_accuracy', float('nan')):.1f}% |"
    )
