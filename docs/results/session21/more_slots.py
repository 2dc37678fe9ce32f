"""A keep-write model run with more STM slots than it was trained with, no training: the queue of
kept tokens simply grows longer before the oldest fall off. `transplant` tiles the learned initial
memory to the new size (its slots are what "nothing kept yet" looks like to the decoder); so does
`rxt train --init MODEL --set stm_slots=N`.

    .venv/bin/python docs/results/session21/more_slots.py MODEL_DIR SLOTS OUT_DIR
    .venv/bin/rxt eval --model OUT_DIR --data heldout.jsonl --threads 1
"""

from __future__ import annotations

import sys

from rxt_core import ReactiveTransformer
from rxt_core.training.transplant import transplant


def main() -> None:
    model_dir, slots, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    model = ReactiveTransformer.from_pretrained(model_dir)
    grown = transplant(model, {"stm_slots": slots})
    grown.save_pretrained(out, tokenizer_file=f"{model_dir}/tokenizer.json")
    print(f"{out}: {slots} slots ({model.config.stm_slots} trained)")


if __name__ == "__main__":
    main()
