"""How a model's tokenizer splits the training and the held-out entity values, pool by pool.

    .venv/bin/python scripts/entity_tokens.py [--model models/rxt-nano] [--dialogues 3000]

For each entity pool of the synthetic data (rxt_core/data/entities.py): how many values each
split has, the mean tokens per value (as it appears mid-sentence, after a space), and the share
of values holding a token that is rare in training dialogues (< 10 per million tokens of
`--dialogues` generated training dialogues). Read beside `rxt eval`'s `recall_by_fact`
(docs/training.md, session 9): which facts fail on unseen values, and whether their tokens are
to blame.
"""

from __future__ import annotations

import argparse
import statistics
from collections import Counter
from pathlib import Path

from rxt_core.data.synth import generate, split_pools
from rxt_core.tokenizer import RxTTokenizer

RARE_PER_MILLION = 10


def token_counts(tokenizer: RxTTokenizer, dialogues: int) -> Counter:
    counts: Counter = Counter()
    for dialogue in generate("train", dialogues, seed=0):
        for turn in dialogue.turns:
            counts.update(tokenizer.encode(turn.query))
            counts.update(tokenizer.encode(turn.answer))
    return counts


def describe(values: tuple[str, ...], tokenizer: RxTTokenizer, counts: Counter) -> tuple[int, float, float]:
    """(values, mean tokens per value, share of values with a rare token)."""
    if not values:
        return 0, float("nan"), float("nan")
    total = sum(counts.values())
    ids = [tokenizer.encode(" " + v) for v in values]
    rare = [any(counts[t] * 1e6 / total < RARE_PER_MILLION for t in i) for i in ids]
    return len(values), statistics.fmean(map(len, ids)), sum(rare) / len(rare)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/rxt-nano"))
    parser.add_argument("--dialogues", type=int, default=3000, help="training dialogues counted for rarity")
    args = parser.parse_args()
    tokenizer = RxTTokenizer.load(args.model)
    counts = token_counts(tokenizer, args.dialogues)
    train, heldout = split_pools("train"), split_pools("heldout")
    print(f"{sum(counts.values()):,} training tokens counted; rare = < {RARE_PER_MILLION} per million")
    print(
        f"{'pool':>10} | {'train values':>12} {'tokens':>6} {'rare':>6} | {'held-out':>8} {'tokens':>6} {'rare':>6}"
    )
    for pool in sorted(heldout.pools):
        n_train, tok_train, rare_train = describe(train[pool], tokenizer, counts)
        n_held, tok_held, rare_held = describe(heldout[pool], tokenizer, counts)
        if n_held:
            print(
                f"{pool:>10} | {n_train:12d} {tok_train:6.2f} {rare_train:6.1%} | "
                f"{n_held:8d} {tok_held:6.2f} {rare_held:6.1%}"
            )


if __name__ == "__main__":
    main()
