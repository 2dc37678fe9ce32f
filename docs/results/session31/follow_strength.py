"""The bundled model's learned follow bonus 10 (β + w · h) at a recalled value's first token, at its
later tokens and at the answer's other tokens (teacher-forced reference answers, the first 80
dialogues of an eval set, memory replayed as `rxt eval` does). Session 31: where it is weak is where
a value starts, so `pointer_recency_ties` weighs the recency bonus by sigmoid(4 - it).

    python docs/results/session31/follow_strength.py EVAL.jsonl [MODEL]
"""

import json
import sys
from pathlib import Path

import torch

from rxt_core import ReactiveTransformer
from rxt_core.interaction import interaction_ids
from rxt_core.memory_pointer import FOLLOW_SCALE, strength
from rxt_core.tokenizer import RxTTokenizer
from rxt_core.training.evaluate import replay

torch.set_num_threads(1)
model_dir = sys.argv[2] if len(sys.argv) > 2 else "models/rxt-nano"
model = ReactiveTransformer.from_pretrained(model_dir).eval()
tok = RxTTokenizer.load(f"{model_dir}/tokenizer.json")
dialogues = [json.loads(line)["turns"] for line in Path(sys.argv[1]).read_text().splitlines()][:80]
queries = [[tok.encode(t["query"]) for t in d] for d in dialogues]
seen = {}
model.pointer.slots.register_forward_hook(lambda _m, a, o: seen.update(h=a[0]))
sl = model.pointer.slots
first, later, other = [], [], []
with torch.no_grad():
    for rep in replay(model, queries):
        for row, b in enumerate(rep.rows):
            turn = dialogues[b][rep.index]
            if "recall" not in turn:
                continue
            ref, value = turn["answer"], turn["recall"]["value"]
            at = ref.find(value)
            if at < 0:
                continue
            pre = tok.encode(ref[:at].rstrip())
            val = tok.encode(ref[: at + len(value)].rstrip())[len(pre) :]
            ans = tok.encode(ref)
            ids = torch.tensor([interaction_ids(queries[b][rep.index], ans, model.config)])
            model(ids, rep.memory[row : row + 1])
            s = FOLLOW_SCALE * strength(sl.follow, sl.follow_context, seen["h"][0])[..., 0]
            a0 = ids[0].tolist().index(model.config.answer_id)  # position of [A]: predicts answer token 0
            for i in range(len(ans)):
                x = float(s[a0 + i])
                (first if i == len(pre) else later if len(pre) < i < len(pre) + len(val) else other).append(x)
for name, xs in (("first", first), ("later", later), ("other", other)):
    t = torch.tensor(xs)
    print(
        name,
        len(xs),
        "quantiles 10/50/90:",
        [round(float(q), 2) for q in t.quantile(torch.tensor([0.1, 0.5, 0.9]))],
    )
