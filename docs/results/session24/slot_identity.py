"""Can a keep-write slot be read back as the token it keeps? A probe for a copy head over memory.

.venv/bin/python docs/results/session24/slot_identity.py MODEL FIT.jsonl TEST.jsonl [TEST.jsonl ...]

The keep write (rxt_core/keep_write.py) gives each salient token of a turn a slot of its own, so a
slot stands for one token id. Session 23's misses were mostly values found and spelled wrong: the
read reaches the right place, and generating the unseen value's rare fragments fails. A pointer
head that maps slots to tokens would skip that step, if a slot's content says which token it
holds. This measures that: every turn of the dialogues is written with the reference answer (as
`rxt eval`'s teacher-forced scores do), each kept token's fresh slot is recorded per STM layer, and
a linear readout (slot -> W -> the tied embedding's logits, softmax) is fitted on the slots of
FIT's first 500 dialogues and scored top-1 on those of each TEST file's first 200: all kept
tokens, the stated values' tokens, and those of them used fewer than 50 times in all of FIT's
queries. "A stated value's token" is a kept token whose id occurs in the value's tokenisation
(with or without a leading space) in the turn that states it: an approximation, since a common
id there (say " the") also counts where it is kept outside the value.
"""

from __future__ import annotations

import json
import sys
from collections import Counter

import torch

from rxt_core import ReactiveTransformer
from rxt_core.interaction import interaction_ids
from rxt_core.tokenizer import RxTTokenizer

RARE = 50


def kept_slots(model: ReactiveTransformer, tok: RxTTokenizer, path: str, limit: int):
    """Per kept token: (its slot in every STM layer [L, D], its id, whether it spells a stated value)."""
    captured = {}
    hook = model.memory_attention.salience.register_forward_hook(lambda m, i, out: captured.update(s=out))
    slots, ids, is_value = [], [], []
    with open(path) as f:
        dialogues = [json.loads(line) for line, _ in zip(f, range(limit), strict=False)]
    for dialogue in dialogues:
        stm = model.init_memory(1)
        for turn in dialogue["turns"]:
            q, a = tok.encode(turn["query"]), tok.encode(turn["answer"])
            new = model.update_memory(stm, q, a)
            row = torch.tensor(interaction_ids(q, a, model.config))
            kept = captured["s"][0, : len(row)] > model.config.keep_threshold
            k = min(int(kept.sum()), new.shape[2])
            value_ids = {
                t
                for s in turn.get("stated", ())
                for v in (s["value"], " " + s["value"])
                for t in tok.encode(v)
            }
            for j, token in enumerate(row[kept][:k].tolist()):
                slots.append(new[0, :, j].float())
                ids.append(token)
                is_value.append(token in value_ids)
            stm = new
    hook.remove()
    return torch.stack(slots), torch.tensor(ids), torch.tensor(is_value)


def fit_readout(x: torch.Tensor, y: torch.Tensor, embedding: torch.Tensor, steps: int = 1000) -> torch.Tensor:
    """W [D, D] with softmax(x W E^T) ~ y, by Adam on the cross-entropy from W = identity."""
    weight = torch.eye(x.shape[1], requires_grad=True)
    optimizer = torch.optim.Adam([weight], lr=1e-2)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    generator = torch.Generator().manual_seed(0)
    for _ in range(steps):
        batch = torch.randint(len(x), (2048,), generator=generator)
        loss = torch.nn.functional.cross_entropy(x[batch] @ weight @ embedding.T, y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    return weight.detach()


def main() -> None:
    torch.manual_seed(0)
    model_dir, fit_path, test_paths = sys.argv[1], sys.argv[2], sys.argv[3:]
    model = ReactiveTransformer.from_pretrained(model_dir).eval()
    tok = RxTTokenizer.load(model_dir)
    embedding = model.embedding.weight.detach().float()
    x_fit, y_fit, value_fit = kept_slots(model, tok, fit_path, 500)
    with open(fit_path) as f:  # how often the whole fit file (all its dialogues) uses each token
        seen = Counter(
            t for line in f for turn in json.loads(line)["turns"] for t in tok.encode(turn["query"])
        )
    print(f"fit: {len(y_fit)} kept tokens of the first 500 dialogues of {fit_path}")
    print("| test file | STM layer | all kept | stated-value tokens | of them < 50x in the fit file |")
    print("|---|---:|---:|---:|---:|")
    tests = [(fit_path + " (fit itself)", x_fit, y_fit, value_fit)]
    tests += [(path, *kept_slots(model, tok, path, 200)) for path in test_paths]
    for layer in range(x_fit.shape[1]):
        weight = fit_readout(x_fit[:, layer], y_fit, embedding)
        for path, x, y, is_value in tests:
            right = (x[:, layer] @ weight @ embedding.T).argmax(-1) == y
            rare = is_value & torch.tensor([seen[t] < RARE for t in y.tolist()])
            cells = [
                f"{right[m].float().mean():.1%} ({int(m.sum())})"
                for m in (torch.ones_like(rare), is_value, rare)
            ]
            print(f"| {path} | {layer} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
