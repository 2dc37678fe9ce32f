"""The missed recalls of corrected values (1-8 turns back), from held.py's PERQ files: every value
the dialogue stated for the fact, the model's answer, and whether it said an older value. Session
30: corrections are the largest bucket of the bundled 4x's misses, and mostly the old value.

    python docs/results/session30/corrections.py EVAL.jsonl PERQ.json
"""

import json
import sys
from pathlib import Path

eval_file, perq_file = sys.argv[1:]
dialogues = [json.loads(line)["turns"] for line in Path(eval_file).read_text().splitlines()]
older = total = 0
for d, turn, distance, hit, answer in json.loads(Path(perq_file).read_text()):
    fact = dialogues[d][turn]["recall"]["fact"]
    stated = [s["value"] for t in dialogues[d][:turn] for s in t.get("stated", []) if s["fact"] == fact]
    if distance > 8 or hit or len(stated) < 2:
        continue
    said_older = any(value.lower() in answer.lower() for value in stated[:-1])
    older, total = older + said_older, total + 1
    print(f"{'OLD  ' if said_older else 'other'} {' -> '.join(stated)} | {answer}")
print(f"{perq_file}: {total} missed corrections, {older} of them said an older value")
