"""Copying or recalling a known value? State a value, ask for it the next turn (greedy, fresh
memory per probe), in the value's own fact slot and as a sister's name.

    .venv/bin/python scripts/slot_probe.py [--model models/rxt-nano] [--values 8]

For the first `--values` training and held-out values of the pools whose unseen values fail in
`rxt eval` (docs/training.md, session 9). A model that copies recalls a value as well in any
slot; one that picks from values it has learnt does well on training values in their own slot
only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from rxt_core import ReactiveTransformer, SamplingParams
from rxt_core.data.facts import FACT_TYPES, FactType
from rxt_core.data.synth import split_pools
from rxt_core.tokenizer import RxTTokenizer

POOLS = ("colour", "food", "drink", "sport", "language", "city", "plan")
CAPITALISED = ("city", "language")  # already capitalised; the rest are title-cased as names


def fill(template: str, value: str, key: str) -> str:
    return template.replace("{v}", value).replace("{k}", key).replace("{ak}", "a")


def recalled(model, tokenizer, fact: FactType, value: str, key: str = "") -> bool:
    """State `value` with the fact's first sentence, ask its first question: is it in the answer?"""
    params = SamplingParams(max_new_tokens=24, temperature=0.0)
    stm, answer = model.init_memory(1), ""
    for text in (fill(fact.sentences[0], value, key), fill(fact.questions[0], value, key)):
        ids = tokenizer.encode(text)
        tokens = list(model.interact(ids, stm, params))
        answer = tokenizer.decode(tokens)
        stm = model.update_memory(stm, ids, tokens, "fp32")
    return value.lower() in answer.lower()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/rxt-nano"))
    parser.add_argument("--values", type=int, default=8, help="values per pool and split")
    args = parser.parse_args()
    torch.manual_seed(0)
    model, tokenizer = ReactiveTransformer.from_pretrained(args.model).eval(), RxTTokenizer.load(args.model)
    facts = {f.name: f for f in FACT_TYPES}
    sister = facts["sister_name"]
    print(f"{'pool':>8} {'split':>8}  own slot  as a sister's name")
    for pool in POOLS:
        for split in ("heldout", "train"):
            values = list(split_pools(split)[pool])[: args.values]
            own = sum(recalled(model, tokenizer, facts[pool], v) for v in values)
            names = [v if pool in CAPITALISED else v.title() for v in values]
            as_name = sum(recalled(model, tokenizer, sister, v, "sister") for v in names)
            print(f"{pool:>8} {split:>8}  {own:>4}/{len(values):<4} {as_name:>4}/{len(values)}", flush=True)


if __name__ == "__main__":
    main()
