"""A keep-write model run with more STM slots than it was trained with, no training: the queue of
kept tokens simply grows longer before the oldest fall off. The learned initial memory is tiled
to the new size (its slots are what "nothing kept yet" looks like to the decoder).

    .venv/bin/python docs/results/session21/more_slots.py MODEL_DIR SLOTS OUT_DIR
    .venv/bin/rxt eval --model OUT_DIR --data heldout.jsonl --threads 1
"""

from __future__ import annotations

import sys

import torch

from rxt_core import ReactiveTransformer
from rxt_core.training.transplant import transplant


def main() -> None:
    model_dir, slots, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    model = ReactiveTransformer.from_pretrained(model_dir)
    old = model.stm_init.detach().clone()
    grown = transplant(model, {"stm_slots": slots})
    with torch.no_grad():
        repeats = -(-slots // old.shape[1])
        grown.stm_init.copy_(old.repeat(1, repeats, 1)[:, :slots])
    grown.save_pretrained(out, tokenizer_file=f"{model_dir}/tokenizer.json")
    print(f"{out}: {slots} slots ({old.shape[1]} trained)")


if __name__ == "__main__":
    main()
