"""Free-running traces of recall misses: replay an eval set as held.py does, then generate each
missed answer again at batch 1 and print per generated token: token[gate, the pointer's pick and
its probability, the head's pick and its probability]. Session 28: the kinds of 4t's misses.

    python docs/results/session28/trace.py MODEL EVAL.jsonl
"""

import json
import sys
from pathlib import Path

import torch

from rxt_core import ReactiveTransformer
from rxt_core.metrics import recalled
from rxt_core.tokenizer import RxTTokenizer

torch.set_num_threads(1)
model_dir, eval_file = sys.argv[1:3]
model = ReactiveTransformer.from_pretrained(model_dir).eval()
tok = RxTTokenizer.load(f"{model_dir}/tokenizer.json")
dialogues = [json.loads(line)["turns"] for line in Path(eval_file).read_text().splitlines()]
seen = {}
model.pointer.slots.register_forward_hook(lambda _m, a, o: seen.update(copy=o[0], head=a[1]))
model.pointer.gate.register_forward_hook(lambda _m, a, o: seen.update(gate=o))
misses = []
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
            turn = dialogues[b][t]
            if "recall" in turn and not recalled(tok.decode(produced[row]), turn["recall"]["value"]):
                misses.append((b, t, turn, queries[row], before[row : row + 1]))
for b, t, turn, q, row_stm in misses:
    steps = []
    for token in model.interact(q, row_stm):
        g = float(seen["gate"][0, -1].sigmoid())
        c = seen["copy"][0, -1]
        h = seen["head"][0, -1].float().softmax(-1)
        steps.append(
            f"{tok.token_of(token)}[{g:.2f} {tok.token_of(int(c.argmax()))}{float(c.max()):.2f} {tok.token_of(int(h.argmax()))}{float(h.max()):.2f}]"
        )
    print(f"{b}:{t} d{turn['recall']['distance']} want {turn['recall']['value']!r} ref {turn['answer']!r}")
    print("   " + " ".join(steps))
