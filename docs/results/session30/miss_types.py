"""Recall misses 1-8 turns back by how the asked value was stated, from held.py's PERQ files:
first in its sentence ("Zala is my cousin.": the query holds no space-led token of it, only an
acknowledgement can), a correction of an earlier value, a multi-word value, or none of these.
Session 30: where a bonus for the user's slots (`pointer_source`) helps and where it hurts.

    python docs/results/session30/miss_types.py EVAL.jsonl PERQ.json [EVAL.jsonl PERQ.json ...]
"""

import collections
import json
import sys
from pathlib import Path


def statement(dialogue: list[dict], turn: int, fact: str) -> tuple[int, str, int]:
    """The latest turn before `turn` stating `fact`, its value, and how many turns stated it."""
    stated = [
        (t, s["value"])
        for t, d in enumerate(dialogue[:turn])
        for s in d.get("stated", [])
        if s["fact"] == fact
    ]
    return stated[-1][0], stated[-1][1], len(stated)


def kind_of(dialogue: list[dict], turn: int) -> str:
    where, value, times = statement(dialogue, turn, dialogue[turn]["recall"]["fact"])
    query = dialogue[where]["query"]
    if times > 1:
        return "corrected"
    if query.startswith(value) or any(query[i - 2 : i] in (". ", "! ", "? ") for i in [query.find(value)]):
        return "first in its sentence"
    return "several words" if " " in value else "one word"


args = sys.argv[1:]
for eval_file, perq_file in zip(args[::2], args[1::2], strict=True):
    dialogues = [json.loads(line)["turns"] for line in Path(eval_file).read_text().splitlines()]
    asked, missed = collections.Counter(), collections.Counter()
    for d, turn, distance, hit, *_ in json.loads(Path(perq_file).read_text()):
        if distance <= 8:
            kind = kind_of(dialogues[d], turn)
            asked[kind] += 1
            missed[kind] += not hit
    print(f"{perq_file}: " + ", ".join(f"{k} {missed[k]}/{asked[k]}" for k in sorted(asked)))
