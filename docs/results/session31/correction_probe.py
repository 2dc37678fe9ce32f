"""Where a corrected value's recall goes wrong: replay an eval set as held.py does (greedy, each
answer written to memory), and at every recall of a fact the dialogue stated twice or more (1-8
turns back) read the teacher-forced reference answer at the value's first token: the vocabulary
head's, the pointer's and the mixed probability of the newest value's first token and of the
older values', the copy gate, and where in memory the newest and older first tokens sit (slot
index, newest first). Session 31: 4x recalls the OLD value in ~75% of its missed corrections.

    python docs/results/session31/correction_probe.py MODEL EVAL.jsonl [FIELD=JSON ...]
"""

import json
import sys
from pathlib import Path

import torch

from rxt_core import ReactiveTransformer
from rxt_core.interaction import interaction_ids
from rxt_core.metrics import recalled
from rxt_core.tokenizer import RxTTokenizer
from rxt_core.training.evaluate import replay

torch.set_num_threads(1)
model_dir, eval_file, *settings = sys.argv[1:]
overrides = {k: json.loads(v) for k, v in (s.split("=", 1) for s in settings)} or None
model = ReactiveTransformer.from_pretrained(model_dir, overrides=overrides).eval()
tok = RxTTokenizer.load(f"{model_dir}/tokenizer.json")
dialogues = [json.loads(line)["turns"] for line in Path(eval_file).read_text().splitlines()]
seen = {}
model.pointer.slots.register_forward_hook(lambda _m, a, o: seen.update(copy=o[0], head=a[1], args=a))
model.pointer.gate.register_forward_hook(lambda _m, a, o: seen.update(gate=o))


def score_parts(slot: int) -> str:
    """Three parts of the slot's pointer score at the last position: head logit + match + source
    bonus (the follow and recency bonuses, where the model has them, are left out)."""
    pointer = model.pointer.slots
    hidden, logits, (keys, ids, marks), _ = seen["args"]
    match = float(pointer.query(hidden[0, -1]) @ keys[0, slot] / keys.shape[-1] ** 0.5)
    source = float(pointer.source) * 10 * float(marks[0, slot, 1])
    return f"{float(logits[0, -1, ids[0, slot]]):.1f}+{match:.1f}+{source:.0f}"


def first_token(value: str) -> int:
    return tok.encode(" " + value)[0]


rows_out = []
queries = [[tok.encode(turn["query"]) for turn in dialogue] for dialogue in dialogues]
with torch.no_grad():
    for replayed in replay(model, queries):
        t = replayed.index
        for row, b in enumerate(replayed.rows):
            turn, before = dialogues[b][t], replayed.memory[row : row + 1]
            if "recall" not in turn or turn["recall"]["distance"] > 8:
                continue
            fact = turn["recall"]["fact"]
            stated = [s["value"] for u in dialogues[b][:t] for s in u.get("stated", []) if s["fact"] == fact]
            if len(stated) < 2:
                continue
            new, old = stated[-1], [v for v in stated[:-1] if first_token(v) != first_token(stated[-1])]
            ref = turn["answer"]
            at = ref.lower().find(new.lower())
            if at < 0 or not old:
                continue
            prefix = tok.encode(ref[:at].rstrip()) if ref[:at].strip() else []
            ids = torch.tensor([interaction_ids(queries[b][t], prefix, model.config)[:-1]])
            log_p, _ = model(ids, before)
            mixed = log_p[0, -1].float().exp()
            head = seen["head"][0, -1].float().softmax(-1)
            copy, gate = seen["copy"][0, -1], float(seen["gate"][0, -1].sigmoid())
            n, o = first_token(new), [first_token(v) for v in old]
            slots = model.slot_ids(before)[0].tolist()
            pointer_slots = seen["args"][2][1][0].tolist()  # with the query written in
            rows_out.append(
                dict(
                    d=b, t=t, hit=recalled(tok.decode(replayed.answers[row]), new), new=new, old=old,
                    head_new=float(head[n]), head_old=float(head[o].sum()), ptr_new=float(copy[n]),
                    ptr_old=float(copy[o].sum()), mix_new=float(mixed[n]), mix_old=float(mixed[o].sum()),
                    gate=gate, slot_new=[i for i, s in enumerate(slots) if s == n],
                    slot_old=[i for i, s in enumerate(slots) if s in o],
                    parts_new=[score_parts(i) for i, s in enumerate(pointer_slots) if s == n][:4],
                    parts_old=[score_parts(i) for i, s in enumerate(pointer_slots) if s in o][:4],
                )
            )  # fmt: skip
for hit in (True, False):
    group = [r for r in rows_out if r["hit"] == hit]
    if not group:
        continue
    mean = {
        k: sum(r[k] for r in group) / len(group)
        for k in ("head_new", "head_old", "ptr_new", "ptr_old", "gate")
    }
    head_wrong = sum(r["head_old"] > r["head_new"] for r in group)
    ptr_wrong = sum(r["ptr_old"] > r["ptr_new"] for r in group)
    print(
        f"{'recalled' if hit else 'missed  '} {len(group)}: head prefers old {head_wrong}, pointer prefers old "
        f"{ptr_wrong}; means " + ", ".join(f"{k} {v:.2f}" for k, v in mean.items())
    )
for r in rows_out:
    if not r["hit"]:
        print(
            f"{r['d']}:{r['t']} {' -> '.join(r['old'] + [r['new']])}: head {r['head_new']:.2f}/{r['head_old']:.2f} "
            f"ptr {r['ptr_new']:.2f}/{r['ptr_old']:.2f} gate {r['gate']:.2f} slots new {r['slot_new'][:4]} old {r['slot_old'][:4]}"
            f"\n    scores new {r['parts_new']} old {r['parts_old']}"
        )
