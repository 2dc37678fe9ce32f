"""Session 16: first-token recall (teacher-forced, own memory) by distance band and by how many
values were stated between the fact and the question — all of them, and those of the same kind
(a name vs anything else).

    .venv/bin/python docs/results/session16/interference.py models/rxt-nano runs/s16/eval/heldout.jsonl
"""

import sys
from collections import defaultdict

import torch

from rxt_core import ReactiveTransformer
from rxt_core.training.pipeline import load_token_dialogues, load_tokenizer
from rxt_core.training.replay_probe import recall_first_guesses


def main(model_dir: str, data: str) -> None:
    torch.set_num_threads(1)
    model = ReactiveTransformer.from_pretrained(model_dir).eval()
    tokenizer = load_tokenizer(f"{model_dir}/tokenizer.json")
    dialogues = load_token_dialogues([data], tokenizer, model.config)
    counts = defaultdict(lambda: [0, 0])
    for g in recall_first_guesses(model, dialogues, tokenizer):
        d, recall = dialogues[g.dialogue], dialogues[g.dialogue][g.turn].recall
        facts = [f for k in range(g.turn - recall.distance + 1, g.turn) for f in d[k].stated]
        same = sum(f.fact.endswith("name") == recall.fact.endswith("name") for f in facts)
        band = "1-2" if recall.distance <= 2 else "3-5" if recall.distance <= 5 else "6+"
        for key in ((band, "all", _capped(len(facts), 4)), (band, "same kind", _capped(same, 3))):
            counts[key][0] += int(g.guess == g.truth)
            counts[key][1] += 1
    for (band, kind, n), (right, total) in sorted(counts.items()):
        print(f"distance {band}, {kind} values between: {n}: {right / total:.0%} of {total}")


def _capped(n: int, cap: int) -> str:
    return f"{cap}+" if n >= cap else str(n)


if __name__ == "__main__":
    main(*sys.argv[1:3])
