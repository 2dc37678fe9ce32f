"""One markdown row per `rxt eval` JSON: perplexity, recall 1-8 / 9-16, teacher-forced value
first / later token accuracy, MRL, copied-from-query accuracy. Usage: table.py LABEL=FILE ..."""

import json
import sys
from pathlib import Path

print("| model | PPL | recall 1-8 | 9-16 | value first / later (TF) | MRL | copied from query |")
print("|---|---:|---:|---:|---:|---:|---:|")
for arg in sys.argv[1:]:
    label, path = arg.split("=", 1)
    m = json.loads(Path(path).read_text())["models"][0]
    p = m.get("memory_probe") or {}
    first, later = (
        p.get("own_value_first_token_accuracy", float("nan")),
        p.get("own_value_later_token_accuracy", float("nan")),
    )
    print(
        f"| {label} | {m['perplexity']:.3f} | {m['recall_1_8']:.1%} | {m['recall_9_16']:.1%} | "
        f"{first:.1%} / {later:.1%} | {m['mrl_reward']['mean']:.3f} | {m['copy_overall']:.1%} |"
    )
