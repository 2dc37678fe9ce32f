"""Write or read? Replay a stated value from memory vs recall it from a question, by lag.

    .venv/bin/python scripts/replay_probe.py --model models/rxt-nano --data runs/eval/heldout.jsonl

Prints a markdown table of `rxt_core.training.replay_probe` (what each column means is there);
`--out` writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import json

import torch

from rxt_core import ReactiveTransformer
from rxt_core.training.pipeline import load_token_dialogues, load_tokenizer
from rxt_core.training.replay_probe import probe_replay


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="models/rxt-nano")
    parser.add_argument("--data", required=True, help="dialogues JSONL with stated/recall fields")
    parser.add_argument("--lags", default="0,1,2,3,4,5,6,7")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = ReactiveTransformer.from_pretrained(args.model)
    tokenizer = load_tokenizer(f"{args.model}/tokenizer.json")
    dialogues = load_token_dialogues([args.data], tokenizer, model.config)
    lags = [int(x) for x in args.lags.split(",")]
    result = probe_replay(model, dialogues, tokenizer, lags)

    def cell(read: str) -> str:
        c = result.get(read)
        return f"{c['accuracy']:.1%} ({c['tokens']})" if c else "-"

    print(f"{args.model} on {args.data}: value-token accuracy, teacher-forced (tokens scored)")
    print(
        "| read | replay, own memory: first | later | other memory: first | later "
        "| recall at distance lag + 1: first | later |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(f"| encoder states, no write | {cell('encoder_own_first')} | {cell('encoder_own_later')} | | | | |")
    for lag in lags:
        reads = [f"lag{lag}_own", f"lag{lag}_other", f"recall{lag}_own"]
        row = [cell(f"{read}_{part}") for read in reads for part in ("first", "later")]
        print(f"| memory, lag {lag} | " + " | ".join(row) + " |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"model": args.model, "data": args.data, "probe": result}, f, indent=1)


if __name__ == "__main__":
    main()
