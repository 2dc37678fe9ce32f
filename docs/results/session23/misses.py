"""What the missed recalls of an `rxt eval` run answered instead, by cause.

.venv/bin/python docs/results/session23/misses.py DIALOGUES.jsonl NAME=EVAL.json ...

Each miss (the JSON's `misses`) falls in the first of:
- another fact: the answer holds a value of another fact stated earlier in the same dialogue
  (the memory was read, at the wrong place);
- "not told": the answer says the fact was never given (the words every `unknown` answer of
  rxt_core.data.facts uses: "haven't told me" or "don't know");
- garbled value: some run of the answer's words spells the value approximately (character
  similarity >= 0.5): found, then mis-copied;
- other: none of these.

A second table: recall (every distance) by the value's length in tokens of the bundled tokenizer
(models 4l-4o share it), from the dialogues' recall questions less the misses.
"""

from __future__ import annotations

import difflib
import json
import sys
from collections import Counter

from rxt_core.bundled import bundled_model_dir
from rxt_core.data.entities import words
from rxt_core.data.open_values import CLOSED_FACTS
from rxt_core.metrics import recalled
from rxt_core.tokenizer import RxTTokenizer

NOT_TOLD = ("haven't told me", "don't know")
CAUSES = ("another fact", '"not told"', "garbled value", "other")
LENGTHS = ("1-3", "4-5", "6+")


def cause(miss: dict, dialogue: dict) -> str:
    earlier = {s["value"] for turn in dialogue["turns"][: miss["turn"]] for s in turn.get("stated", ())}
    if any(recalled(miss["generated"], v) for v in earlier - {miss["value"]}):
        return CAUSES[0]
    if any(marker in miss["generated"] for marker in NOT_TOLD):
        return CAUSES[1]
    if _similarity(miss["generated"], miss["value"]) >= 0.5:
        return CAUSES[2]
    return CAUSES[3]


def _similarity(answer: str, value: str) -> float:
    """The best character similarity of `value` to a run of the answer's words as long as it."""
    answer_words, n = words(answer), len(words(value))
    runs = [" ".join(answer_words[i : i + n]) for i in range(max(1, len(answer_words) - n + 1))]
    return max(difflib.SequenceMatcher(None, " ".join(words(value)), run).ratio() for run in runs)


def length_band(value: str, tokenizer: RxTTokenizer) -> str:
    n = len(tokenizer.encode(" " + value))
    return LENGTHS[0] if n <= 3 else LENGTHS[1] if n <= 5 else LENGTHS[2]


def main() -> None:
    with open(sys.argv[1]) as f:
        dialogues = [json.loads(line) for line in f]
    runs = []
    for arg in sys.argv[2:]:
        name, path = arg.split("=", 1)
        with open(path) as f:
            runs.append((name, json.load(f)["models"][0]["misses"]))

    print("| model | kinds | misses | " + " | ".join(CAUSES) + " |")
    print("|---|---|---:|" + "---:|" * len(CAUSES))
    for name, misses in runs:
        for kinds, keep in (
            ("closed", CLOSED_FACTS.__contains__),
            ("others", lambda k: k not in CLOSED_FACTS),
        ):
            chosen = [m for m in misses if keep(m["fact"])]
            counts = Counter(cause(m, dialogues[m["dialogue"]]) for m in chosen)
            print(
                f"| {name} | {kinds} | {len(chosen)} | " + " | ".join(str(counts[c]) for c in CAUSES) + " |"
            )

    tokenizer = RxTTokenizer.load(bundled_model_dir())
    asked = [
        (i, j, length_band(turn["recall"]["value"], tokenizer))
        for i, dialogue in enumerate(dialogues)
        for j, turn in enumerate(dialogue["turns"])
        if "recall" in turn
    ]
    print("\n| model | " + " | ".join(f"recall, {band} tokens" for band in LENGTHS) + " |")
    print("|---|" + "---:|" * len(LENGTHS))
    for name, misses in runs:
        missed = {(m["dialogue"], m["turn"]) for m in misses}
        cells = []
        for band in LENGTHS:
            questions = [(i, j) for i, j, b in asked if b == band]
            hits = sum(q not in missed for q in questions)
            cells.append(f"{hits / len(questions):.0%} ({hits} / {len(questions)})")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
