"""Classify an `rxt eval` JSON's recall misses by simple rules over the generated answer:
"not told" (says it was never told), "past end" (the value inside a longer word, in practice the
value then more letters or digits: "enchiladasas", "853"), "misspelt/cut" (the first three
letters of the value's first word appear: "Eston", "learn to play the kayums"), "other" (the rest:
mostly another value). Case-insensitive substring tests, so the kinds are approximate. Session 27:
which misses the copy gate's follow feature could fix.

    python docs/results/session27/misses.py LABEL=EVAL.json ...
"""

import collections
import json
import sys
from pathlib import Path


def kind(value: str, generated: str) -> str:
    value, generated = value.lower(), generated.lower()
    if "haven't told" in generated:
        return "not told"
    if value in generated:
        return "past end"
    if value.split()[0][:3] in generated:
        return "misspelt/cut"
    return "other"


for arg in sys.argv[1:]:
    label, path = arg.split("=", 1)
    result = json.loads(Path(path).read_text())["models"][0]
    counts = collections.Counter(kind(m["value"], m["generated"]) for m in result["misses"])
    near = sum(1 for m in result["misses"] if m["distance"] <= 8)
    print(
        f"{label}: {len(result['misses'])} misses ({near} at 1-8 turns back):", dict(sorted(counts.items()))
    )
