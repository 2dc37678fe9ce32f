"""Recall misses of one fact kind with their context: replay an eval set as held.py does, keep
every generated answer, then for each miss of KIND print the statement turn (query, the model's
own acknowledgement) and both the acknowledgement and the missed answer generated again at batch
1, per token:
token[gate, the pointer's pick and its probability, the head's pick and its probability].
Session 29: why held-out plans (multi-word phrases) are missed half the time.

    python docs/results/session29/miss_context.py MODEL EVAL.jsonl KIND [MAX]
"""

import json
import sys
from pathlib import Path

import torch

from rxt_core import ReactiveTransformer
from rxt_core.metrics import recalled
from rxt_core.tokenizer import RxTTokenizer

torch.set_num_threads(1)
model_dir, eval_file, kind, *rest = sys.argv[1:]
limit = int(rest[0]) if rest else 20
model = ReactiveTransformer.from_pretrained(model_dir).eval()
tok = RxTTokenizer.load(f"{model_dir}/tokenizer.json")
dialogues = [json.loads(line)["turns"] for line in Path(eval_file).read_text().splitlines()]
seen = {}
model.pointer.slots.register_forward_hook(lambda _m, a, o: seen.update(copy=o[0], head=a[1]))
model.pointer.gate.register_forward_hook(lambda _m, a, o: seen.update(gate=o))
said, misses, memory_before = {}, [], {}
stm = model.init_memory(len(dialogues))
with torch.no_grad():
    for t in range(max(map(len, dialogues))):
        rows = [b for b, d in enumerate(dialogues) if t < len(d)]
        queries = [tok.encode(dialogues[b][t]["query"]) for b in rows]
        index = torch.tensor(rows)
        before = stm[index].clone()
        produced = model.generate(queries, before)
        stm[index] = model.update_memory(before, queries, produced, precision="fp32")
        for row, b in enumerate(rows):
            turn, answer = dialogues[b][t], tok.decode(produced[row])
            said[b, t] = answer
            if any(f["fact"] == kind for f in turn.get("stated", [])):
                memory_before[b, t] = (queries[row], before[row : row + 1])
            if turn.get("recall", {}).get("fact") == kind and not recalled(answer, turn["recall"]["value"]):
                misses.append((b, t, turn, queries[row], before[row : row + 1]))


def trace(query: list[int], row_stm: torch.Tensor) -> str:
    steps = []
    with torch.no_grad():
        for token in model.interact(query, row_stm):
            g = float(seen["gate"][0, -1].sigmoid())
            c, h = seen["copy"][0, -1], seen["head"][0, -1].float().softmax(-1)
            steps.append(
                f"{tok.token_of(token)}[{g:.2f} {tok.token_of(int(c.argmax()))}{float(c.max()):.2f}"
                f" {tok.token_of(int(h.argmax()))}{float(h.max()):.2f}]"
            )
    return " ".join(steps)


for b, t, turn, q, row_stm in misses[:limit]:
    value = turn["recall"]["value"]
    stated = [s for s in range(t) if any(f["value"] == value for f in dialogues[b][s].get("stated", []))]
    print(f"{b}:{t} d{turn['recall']['distance']} want {value!r}")
    for s in stated[-1:]:
        print(f"   stated {s}: {dialogues[b][s]['query']!r} -> model {said[b, s]!r}")
    print(f"   value tokens: {[tok.token_of(i) for i in tok.encode(' ' + value)]}")
    if stated:
        print("   ack: " + trace(*memory_before[b, stated[-1]]))
    print("   recall: " + trace(q, row_stm))
