"""Copying or recalling a known value? State a value, ask for it the next turn (greedy, fresh
memory per probe), in the value's own fact slot and as a sister's name.

    .venv/bin/python scripts/slot_probe.py [--model models/rxt-nano] [--values 8]

For the first `--values` training and held-out values of the pools whose unseen values fail in
`rxt eval` (docs/training.md, session 9). A model that copies recalls a value as well in any
slot; one that picks from values it has learnt does well on training values in their own slot
only. "ranked first": teacher-forced, does the stated value give the question's answer a higher
likelihood than any other candidate of its pool (all held-out values and 20 training ones) —
is the value recoverable from memory even where greedy decoding misses it; "prior": the same
with an empty memory; "among unseen": held-out values ranked against the other held-out values
of their pool only (no learnt value competing).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

from rxt_core import ReactiveTransformer, SamplingParams
from rxt_core.data.facts import FACT_TYPES, FactType, render
from rxt_core.data.synth import split_pools
from rxt_core.interaction import interaction_ids
from rxt_core.tokenizer import RxTTokenizer

POOLS = ("colour", "food", "drink", "sport", "language", "city", "plan")
CAPITALISED = ("city", "language")  # already capitalised; the rest are title-cased as names


def turn(model, tokenizer, stm: torch.Tensor, text: str) -> tuple[str, torch.Tensor]:
    """Answer `text` greedily from `stm`; returns the answer and the updated memory."""
    ids = tokenizer.encode(text)
    tokens = list(model.interact(ids, stm, SamplingParams(max_new_tokens=24, temperature=0.0)))
    return tokenizer.decode(tokens), model.update_memory(stm, ids, tokens, "fp32")


def recalled(model, tokenizer, fact: FactType, value: str, key: str = "") -> bool:
    """State `value` with the fact's first sentence, ask its first question: is it in the answer?"""
    _, stm = turn(model, tokenizer, model.init_memory(1), render(fact.sentences[0], value, key))
    answer, _ = turn(model, tokenizer, stm, render(fact.questions[0], value, key))
    return value.lower() in answer.lower()


@torch.inference_mode()
def answer_logprob(model, tokenizer, stm: torch.Tensor, fact: FactType, value: str) -> float:
    """log p(the fact's first answer, filled with `value` | its first question, `stm`)."""
    query = tokenizer.encode(render(fact.questions[0], value, ""))
    ids = torch.tensor(
        [interaction_ids(query, tokenizer.encode(render(fact.answers[0], value, "")), model.config)]
    )
    logits, _ = model(ids, stm)
    logp = F.log_softmax(logits[0, :-1].float(), dim=-1).gather(1, ids[0, 1:, None])[:, 0]
    return logp[len(query) + 1 :].sum().item()  # the answer tokens: after [Q] query [A]


def ranked_first(model, tokenizer, fact: FactType, value: str, candidates: list[str], stated: bool) -> bool:
    stm = model.init_memory(1)
    if stated:
        _, stm = turn(model, tokenizer, stm, render(fact.sentences[0], value, ""))
    scores = {c: answer_logprob(model, tokenizer, stm, fact, c) for c in candidates}
    return max(scores, key=scores.get) == value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/rxt-nano"))
    parser.add_argument("--values", type=int, default=8, help="values per pool and split")
    args = parser.parse_args()
    torch.manual_seed(0)
    model, tokenizer = ReactiveTransformer.from_pretrained(args.model).eval(), RxTTokenizer.load(args.model)
    facts = {f.name: f for f in FACT_TYPES}
    sister = facts["sister_name"]
    print(f"{'pool':>8} {'split':>8}  own slot  as a sister's name  ranked first  prior  among unseen")
    for pool in POOLS:
        fact, unseen = facts[pool], list(split_pools("heldout")[pool])
        candidates = list(dict.fromkeys([*unseen, *split_pools("train")[pool][:20]]))
        for split in ("heldout", "train"):
            values = list(split_pools(split)[pool])[: args.values]
            n = len(values)
            own = sum(recalled(model, tokenizer, fact, v) for v in values)
            names = [v if pool in CAPITALISED else v.title() for v in values]
            as_name = sum(recalled(model, tokenizer, sister, v, "sister") for v in names)
            first = sum(ranked_first(model, tokenizer, fact, v, [*candidates, v], True) for v in values)
            prior = sum(ranked_first(model, tokenizer, fact, v, [*candidates, v], False) for v in values)
            among = (
                f"{sum(ranked_first(model, tokenizer, fact, v, unseen, True) for v in values)}/{n}"
                if split == "heldout"
                else "-"
            )
            print(
                f"{pool:>8} {split:>8}  {own:>4}/{n:<4} {as_name:>8}/{n:<9} {first:>8}/{n:<4} {prior:>3}/{n:<3}"
                f" {among:>8}",
                flush=True,
            )


if __name__ == "__main__":
    main()
