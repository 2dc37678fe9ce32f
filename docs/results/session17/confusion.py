"""Session 17: when a recall answer's first value token is wrong, what does the model say instead?
Another value of the same dialogue (a misdirected read: which one, how recent) or something
the dialogue never stated (nothing found: the prior fills in)? Teacher-forced, own memory.

    .venv/bin/python docs/results/session17/confusion.py models/rxt-nano runs/s17/eval/heldout.jsonl
"""

import sys
from collections import Counter

import torch

from rxt_core import ReactiveTransformer
from rxt_core.training.batching import turn_batch
from rxt_core.training.memory_probe import token_span
from rxt_core.training.pipeline import load_token_dialogues, load_tokenizer
from rxt_core.training.replay_probe import recalled_positions


def main(model_dir: str, data: str) -> None:
    torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    model = ReactiveTransformer.from_pretrained(model_dir).eval()
    tokenizer = load_tokenizer(f"{model_dir}/tokenizer.json")
    dialogues = load_token_dialogues([data], tokenizer, model.config)
    outcome: Counter = Counter()
    with torch.inference_mode():
        for start in range(0, len(dialogues), 32):
            chunk = dialogues[start : start + 32]
            stm = model.init_memory(len(chunk))
            # per row: (turn, fact name, first token id) of every value stated so far
            stated: list[list[tuple[int, str, int]]] = [[] for _ in chunk]
            for s in range(max(len(d) for d in chunk)):
                batch = turn_batch(chunk, s, model.config)
                asked = {
                    r: p
                    for r, d in enumerate(chunk)
                    if s < len(d) and (p := recalled_positions(d[s], tokenizer))
                }
                if asked:
                    predicted = model(batch.ids, stm)[0].argmax(-1)
                    for r, ((first, *_),) in asked.items():
                        recall = chunk[r][s].recall
                        band = "1-2" if recall.distance <= 2 else "3-5" if recall.distance <= 5 else "6+"
                        guess, truth = int(predicted[r, first - 1]), int(batch.ids[r, first])
                        outcome[band, "total"] += 1
                        if guess == truth:
                            outcome[band, "right"] += 1
                            continue
                        others = [(t, name) for t, name, tok in stated[r] if tok == guess]
                        if not others:
                            outcome[band, "wrong: no value of this dialogue"] += 1
                            continue
                        t, name = max(others)  # the latest value starting with that token
                        target_turn = s - recall.distance
                        if name == recall.fact:
                            what = "its own earlier (corrected) value"
                        elif name.endswith("name") == recall.fact.endswith("name"):
                            what = "another value of the same kind"
                        else:
                            what = "another value of another kind"
                        when = "stated after the asked one" if t > target_turn else "stated before"
                        outcome[band, f"wrong: {what}, {when}"] += 1
                for r, d in enumerate(chunk):
                    if s < len(d):
                        for fact in d[s].stated:
                            span = token_span(d[s].query, fact.value, tokenizer)
                            if span:
                                stated[r].append((s, fact.fact, d[s].query[span[0]]))
                new = model.write_memory(stm, batch.ids, batch.mask)
                stm = torch.where(batch.present[:, None, None, None], new, stm)
    for band in ("1-2", "3-5", "6+"):
        total = outcome[band, "total"]
        print(f"distance {band}: {total} questions")
        for (b, what), n in sorted(outcome.items(), key=lambda kv: -kv[1]):
            if b == band and what != "total":
                print(f"  {what}: {n / total:.1%} ({n})")


if __name__ == "__main__":
    main(*sys.argv[1:3])
