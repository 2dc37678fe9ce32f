"""Recall 1-8 turns back by fact kind, from held.py's PERQ files: which kinds the misses are.
Session 29: plans (multi-word phrases) and colours hold a third of the bundled 4v's misses, and set
2 asks more plans than sets 0 and 1.

    python docs/results/session29/by_kind.py EVAL.jsonl PERQ.json [EVAL.jsonl PERQ.json ...]
"""

import collections
import json
import sys
from pathlib import Path

args = sys.argv[1:]
for eval_file, perq_file in zip(args[::2], args[1::2], strict=True):
    dialogues = [json.loads(line)["turns"] for line in Path(eval_file).read_text().splitlines()]
    asked, missed = collections.Counter(), collections.Counter()
    for dialogue, turn, distance, hit, *_ in json.loads(Path(perq_file).read_text()):
        if distance <= 8:
            kind = dialogues[dialogue][turn]["recall"]["fact"]
            asked[kind] += 1
            missed[kind] += not hit
    total, misses = sum(asked.values()), sum(missed.values())
    print(f"{perq_file}: {total} questions, recall {1 - misses / total:.3f}, {misses} misses")
    for kind, count in missed.most_common(8):
        print(f"  {kind:16} {count:3} of {asked[kind]:3} missed ({count / asked[kind]:.0%})")
