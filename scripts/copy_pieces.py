"""Which tokens of a copied value a model gets right: the first, or the ones after it.

    .venv/bin/python scripts/copy_pieces.py --model DIR [DIR ...] --data heldout.jsonl [--threads 2]

For the values a query states and its reference answer repeats, the teacher-forced next-token
accuracy of their first token and of their later tokens (rxt_core.training.memory_probe), for the
closed-pool facts (`open_values.CLOSED_FACTS`: city, hometown, colour, drink, food, job, language,
plan, sport) and the others (names, numbers, birthdays) apart. A model that copies the first piece
of an unseen value and finishes it from its language prior ("Rotterdam" -> "Romegranate") scores a
high first and a low later accuracy (docs/training.md, session 14).
"""

from __future__ import annotations

import argparse
import dataclasses

import torch

from rxt_core import ReactiveTransformer
from rxt_core.data.open_values import CLOSED_FACTS
from rxt_core.tokenizer import RxTTokenizer
from rxt_core.training.memory_probe import probe_memory
from rxt_core.training.pipeline import load_token_dialogues


def only_facts(dialogues, keep) -> list:
    """The dialogues with each turn's stated facts narrowed to those `keep` accepts, and no
    recalls (the probe then skips its recall passes, which this script does not report)."""
    return [
        [dataclasses.replace(t, stated=tuple(f for f in t.stated if keep(f.fact)), recall=None) for t in d]
        for d in dialogues
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", nargs="+", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print("| model | facts | first tokens right | later tokens right |")
    print("|---|---|---:|---:|")
    for path in args.model:
        model = ReactiveTransformer.from_pretrained(path).eval()
        tokenizer = RxTTokenizer.load(f"{path}/tokenizer.json")
        dialogues = load_token_dialogues([args.data], tokenizer, model.config)
        for name, keep in (
            ("closed pools", CLOSED_FACTS.__contains__),
            ("others", lambda f: f not in CLOSED_FACTS),
        ):
            probe = probe_memory(model, only_facts(dialogues, keep), tokenizer)
            first = probe.copy_tokens - probe.copy_later_tokens
            print(
                f"| {path} | {name} | {probe.copy_first_accuracy:.1%} of {first} | "
                f"{probe.copy_later_accuracy:.1%} of {probe.copy_later_tokens} |"
            )


if __name__ == "__main__":
    main()
