"""Every recall question of an eval set, generated as `rxt eval` generates (greedy, batched, each
answer written to memory): was the asked value's token run in memory when asked (a kept value
vs a lost one), was it recalled, and did the model's own acknowledgement of the statement repeat
the value? Session 28: where the bundled 4t's misses come from. ~1 minute a set on one thread,
so arms can be screened before `rxt eval` (its recall figures agree to within a question or two).

    python docs/results/session28/held.py MODEL EVAL.jsonl [FIELD=JSON ...] [shift=X]

FIELD=JSON: config overrides that keep every weight (as `rxt eval --set`); shift=X adds X to the
copy gate's logit. REF_WRITE=1 writes the reference answer, not the generated one, after each
turn that states a fact (a perfect acknowledgement); PERQ=FILE saves [dialogue, turn, distance,
recalled, answer] per question (compare.py).
"""

import collections
import json
import os
import sys
from pathlib import Path

import torch

from rxt_core import ReactiveTransformer
from rxt_core.memory_pointer import GATE_SCALE, slot_ids
from rxt_core.metrics import recalled
from rxt_core.tokenizer import RxTTokenizer

torch.set_num_threads(1)
model_dir, eval_file, *settings = sys.argv[1:]
pairs = [s.split("=", 1) for s in settings]
model = ReactiveTransformer.from_pretrained(
    model_dir, overrides={k: json.loads(v) for k, v in pairs if k != "shift"} or None
).eval()
with torch.no_grad():
    model.pointer.gate.bias += sum(float(v) for k, v in pairs if k == "shift") / GATE_SCALE
tok = RxTTokenizer.load(f"{model_dir}/tokenizer.json")
dialogues = [json.loads(line)["turns"] for line in Path(eval_file).read_text().splitlines()]
config = model.config


def contains(row: list[int], run: list[int]) -> bool:
    return any(row[i : i + len(run)] == run for i in range(len(row) - len(run) + 1))


table, by_ack, acks = collections.Counter(), collections.Counter(), {}
per_question = []
stm = model.init_memory(len(dialogues))
with torch.no_grad():
    for t in range(max(map(len, dialogues))):
        rows = [b for b, d in enumerate(dialogues) if t < len(d)]
        queries = [tok.encode(dialogues[b][t]["query"]) for b in rows]
        index = torch.tensor(rows)
        held_ids = slot_ids(stm[index][:, -1], config.vocab_size, config.pad_id).tolist()
        produced = model.generate(queries, stm[index])
        written = produced
        if os.environ.get("REF_WRITE"):
            written = [
                tok.encode(dialogues[b][t]["answer"]) if "stated" in dialogues[b][t] else produced[row]
                for row, b in enumerate(rows)
            ]
        stm[index] = model.update_memory(stm[index], queries, written, precision="fp32")
        for row, b in enumerate(rows):
            turn, answer = dialogues[b][t], tok.decode(produced[row])
            for fact in turn.get("stated", []):  # (value, repeated it, the reference repeats it)
                echoes = fact["value"].lower() in turn["answer"].lower()
                acks[b, fact["fact"]] = (fact["value"], recalled(answer, fact["value"]), echoes)
            if "recall" not in turn:
                continue
            value, distance = turn["recall"]["value"], turn["recall"]["distance"]
            band = "1-8" if distance <= 8 else "9-16"
            held = contains(held_ids[row], tok.encode(" " + value)) or contains(
                held_ids[row], tok.encode(value)
            )
            hit = recalled(answer, value)
            table[band, held, hit] += 1
            per_question.append([b, t, distance, hit, answer])
            ack = acks.get((b, turn["recall"]["fact"]))
            if ack and ack[0] == value:
                by_ack[band, "acknowledged" if ack[1] else "not acknowledged", hit] += 1
for band in ("1-8", "9-16"):
    n = sum(v for k, v in table.items() if k[0] == band)
    held_hit, held_miss = table[band, True, True], table[band, True, False]
    lost_hit, lost_miss = table[band, False, True], table[band, False, False]
    print(
        f"{band}: {n} questions, recall {(held_hit + lost_hit) / n:.3f}; value in memory "
        f"{(held_hit + held_miss) / n:.3f}, recalled then {held_hit / max(1, held_hit + held_miss):.3f}; "
        f"misses with the value in memory {held_miss}, without {lost_miss}"
    )
    for kind in ("acknowledged", "not acknowledged"):
        hits, misses = by_ack[band, kind, True], by_ack[band, kind, False]
        print(f"  statement {kind}: {hits + misses} questions, recall {hits / max(1, hits + misses):.3f}")
echoed = [a for a in acks.values() if a[2]]
print(
    f"acknowledgements the reference makes: {len(echoed)}, repeated {sum(a[1] for a in echoed) / len(echoed):.3f}"
)
if os.environ.get("PERQ"):
    Path(os.environ["PERQ"]).write_text(json.dumps(per_question))
