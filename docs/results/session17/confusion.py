"""Session 17: when a recall answer's first value token is wrong, what does the model say instead?
Another value of the same dialogue (a misdirected read: which one, stated before or after the
asked value was last mentioned) or something the dialogue never stated (nothing found: the prior
fills in)? Teacher-forced, own memory. A guess that starts several stated values counts as the
latest of them.

    .venv/bin/python docs/results/session17/confusion.py models/rxt-nano runs/s17/eval/heldout.jsonl [THREADS]
"""

import sys
from collections import Counter

import torch

from rxt_core import ReactiveTransformer
from rxt_core.training.memory_probe import token_span
from rxt_core.training.pipeline import load_token_dialogues, load_tokenizer
from rxt_core.training.replay_probe import recall_first_guesses


def main(model_dir: str, data: str, threads: str = "1") -> None:
    torch.set_num_threads(int(threads))
    model = ReactiveTransformer.from_pretrained(model_dir).eval()
    tokenizer = load_tokenizer(f"{model_dir}/tokenizer.json")
    dialogues = load_token_dialogues([data], tokenizer, model.config)
    outcome: Counter = Counter()
    for g in recall_first_guesses(model, dialogues, tokenizer):
        d = dialogues[g.dialogue]
        recall = d[g.turn].recall
        band = "1-2" if recall.distance <= 2 else "3-5" if recall.distance <= 5 else "6+"
        outcome[band, "total"] += 1
        if g.guess == g.truth:
            outcome[band, "right"] += 1
            continue
        starting_with_guess = [
            (k, fact.fact)
            for k in range(g.turn)
            for fact in d[k].stated
            if (span := token_span(d[k].query, fact.value, tokenizer)) and d[k].query[span[0]] == g.guess
        ]
        if not starting_with_guess:
            outcome[band, "wrong: no value of this dialogue"] += 1
            continue
        k, name = max(starting_with_guess)
        if name == recall.fact:
            what = "its own earlier (corrected) value"
        elif name.endswith("name") == recall.fact.endswith("name"):
            what = "another value of the same kind"
        else:
            what = "another value of another kind"
        when = "stated after the asked one" if k > g.turn - recall.distance else "stated before"
        outcome[band, f"wrong: {what}, {when}"] += 1
    for band in ("1-2", "3-5", "6+"):
        total = outcome[band, "total"]
        print(f"distance {band}: {total} questions")
        for (b, what), n in sorted(outcome.items(), key=lambda kv: -kv[1]):
            if b == band and what != "total":
                print(f"  {what}: {n / total:.1%} ({n})")


if __name__ == "__main__":
    main(*sys.argv[1:4])
