"""Could a write tell that a new statement supersedes an old one by the slots' content? For each
recall question 1-8 turns back: the asked value's first-token user slot's highest content
similarity (per STM layer) to any NEWER user slot holding another token (a rule marking slots
superseded above a threshold would lose this recall), and for corrections the OLD value's slot's
(the rule should mark it). Session 31: not separable (docs/training.md "Session 31").

    python docs/results/session31/supersede_sim.py EVAL.jsonl [MODEL]
"""

import json
import sys
from pathlib import Path

import torch
from torch.nn import functional as F

from rxt_core import ReactiveTransformer
from rxt_core.memory_pointer import FROM_USER, slot_marks
from rxt_core.tokenizer import RxTTokenizer
from rxt_core.training.evaluate import replay

torch.set_num_threads(1)
model = ReactiveTransformer.from_pretrained(sys.argv[2] if len(sys.argv) > 2 else "models/rxt-nano").eval()
tok = RxTTokenizer.load(f"{sys.argv[2] if len(sys.argv) > 2 else 'models/rxt-nano'}/tokenizer.json")
dialogues = [json.loads(line)["turns"] for line in Path(sys.argv[1]).read_text().splitlines()]
queries = [[tok.encode(t["query"]) for t in d] for d in dialogues]
L = model.config.layers
keep, old_sims = [], []


def max_newer_sim(stm, ids, user, token, layer):
    slots = ((ids == token) & user).nonzero().flatten()
    if len(slots) == 0:
        return None
    s0 = slots[-1]  # the oldest user slot holding it (the statement)
    content = F.normalize(stm[layer].float(), dim=-1)
    sims = content[s0] @ content.T
    newer = (torch.arange(len(ids)) < s0) & user & (ids != token)
    return float(sims.masked_fill(~newer, -2).max())


with torch.no_grad():
    for rep in replay(model, queries):
        t = rep.index
        for row, b in enumerate(rep.rows):
            turn = dialogues[b][t]
            if "recall" not in turn or turn["recall"]["distance"] > 8:
                continue
            fact = turn["recall"]["fact"]
            stated = [s["value"] for u in dialogues[b][:t] for s in u.get("stated", []) if s["fact"] == fact]
            stm = rep.memory[row]
            ids = model.slot_ids(rep.memory[row : row + 1])[0]
            user = slot_marks(stm[L][None], model.config.vocab_size)[0, :, FROM_USER]
            n = tok.encode(" " + stated[-1])[0]
            for layer in range(L):
                s = max_newer_sim(stm, ids, user, n, layer)
                if s is not None:
                    keep.append((layer, s))
                if len(stated) >= 2:
                    o = tok.encode(" " + stated[-2])[0]
                    if o != n:
                        s = max_newer_sim(stm, ids, user, o, layer)
                        if s is not None:
                            old_sims.append((layer, s))
for layer in range(L):
    k = torch.tensor([s for at, s in keep if at == layer])
    o = torch.tensor([s for at, s in old_sims if at == layer])
    for tau in (0.5, 0.6, 0.7, 0.8, 0.9):
        print(
            f"layer {layer} tau {tau}: asked values marked {float((k > tau).float().mean()):.3f} of {len(k)}, old values marked {float((o > tau).float().mean()):.3f} of {len(o)}"
        )
