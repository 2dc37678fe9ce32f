"""Teacher-forced at the value tokens of every recall answer (memory written from the reference
interactions): how often the top token is right for the vocabulary head alone, the pointer alone
and their mixture, the mean copy gate, and how often the pointer was right but the mixture not.
ACK=1 looks at the acknowledgements instead (a statement's answer repeating its value). Session
28: is the pointer or the gate what fails at a value's first token?

    python docs/results/session28/value_tokens.py MODEL EVAL.jsonl [FIELD=JSON ...]
"""

import collections
import json
import os
import sys
from pathlib import Path

import torch

from rxt_core import ReactiveTransformer
from rxt_core.tokenizer import RxTTokenizer

torch.set_num_threads(1)
model_dir, eval_file, *settings = sys.argv[1:]
overrides = {k: json.loads(v) for k, v in (s.split("=", 1) for s in settings)}
model = ReactiveTransformer.from_pretrained(model_dir, overrides=overrides or None).eval()
tok = RxTTokenizer.load(f"{model_dir}/tokenizer.json")
dialogues = [json.loads(line)["turns"] for line in Path(eval_file).read_text().splitlines()]
seen: dict = {}
model.pointer.slots.register_forward_hook(lambda _m, args, out: seen.update(copy=out[0], head=args[1]))
model.pointer.gate.register_forward_hook(lambda _m, _args, out: seen.update(gate=out))


def asked(turn: dict) -> tuple[str, int] | None:
    """The value this turn's answer should say, and its distance in turns (None: not scored)."""
    if os.environ.get("ACK"):
        stated = turn.get("stated")
        if stated and stated[0]["value"].lower() in turn["answer"].lower():
            return stated[0]["value"], 0
        return None
    return (turn["recall"]["value"], turn["recall"]["distance"]) if "recall" in turn else None


def find(row: list[int], run: list[int]) -> int:
    return next((i for i in range(len(row) - len(run) + 1) if row[i : i + len(run)] == run), -1)


stats = collections.Counter()
stm = model.init_memory(len(dialogues))
with torch.no_grad():
    for t in range(max(map(len, dialogues))):
        rows = [b for b, d in enumerate(dialogues) if t < len(d)]
        queries = [tok.encode(dialogues[b][t]["query"]) for b in rows]
        answers = [tok.encode(dialogues[b][t]["answer"]) for b in rows]
        index = torch.tensor(rows)
        before = stm[index]
        for row, b in enumerate(rows):
            turn = dialogues[b][t]
            if (scored := asked(turn)) is None:
                continue
            value, distance = scored
            ids = tok.encode_interaction(turn["query"], turn["answer"])
            start = len(queries[row]) + 2  # after [Q] query [A]
            run = next(
                (r for r in (tok.encode(" " + value), tok.encode(value)) if find(ids[start:], r) >= 0), None
            )
            if run is None:
                continue
            at = start + find(ids[start:], run)
            model(torch.tensor([ids]), before[row : row + 1])
            for k, target in enumerate(run):
                p = at + k - 1  # the position that predicts the value's k-th token
                head, copy = seen["head"][0, p].float().softmax(-1), seen["copy"][0, p]
                gate = float(seen["gate"][0, p].sigmoid())
                mixed = (1 - gate) * head + gate * copy
                key = ("1-8" if distance <= 8 else "9-16", "first" if k == 0 else "later")
                stats[key, "n"] += 1
                stats[key, "head"] += int(head.argmax()) == target
                stats[key, "pointer"] += int(copy.argmax()) == target
                stats[key, "mixed"] += int(mixed.argmax()) == target
                stats[key, "gate"] += gate
                stats[key, "pointer only"] += int(copy.argmax()) == target and int(mixed.argmax()) != target
        stm[index] = model.update_memory(before, queries, answers, precision="fp32")
for band in ("1-8", "9-16"):
    for kind in ("first", "later"):
        key = (band, kind)
        if n := stats[key, "n"]:
            print(
                f"{band} {kind:5} tokens {n}: right head {stats[key, 'head'] / n:.3f} pointer "
                f"{stats[key, 'pointer'] / n:.3f} mixed {stats[key, 'mixed'] / n:.3f}; gate "
                f"{stats[key, 'gate'] / n:.3f}; pointer right, mixture wrong {stats[key, 'pointer only']}"
            )
