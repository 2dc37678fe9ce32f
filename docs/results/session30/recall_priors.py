"""A memory pointer model given session 30's recall priors, saved as a new model folder:
- `source=BONUS`: `pointer_source` (the STM marks the slots a user's query wrote) with the
  pointer's bonus for those slots BONUS on the slot score's logit scale;
- `recency=BONUS`: `pointer_recency`, BONUS per unit of -log(1 + slot index);
- `twins`: `pointer_space_twins`; `words`: `keep_whole_words` (the word tables filled from the
  model's own tokenizer);
- `ties` (session 31): `pointer_recency_ties`, the recency bonus only as a tie-break where a value starts.
Set, not trained: teacher-forced stage 4 writes the reference answers to memory, where an
acknowledgement always repeats the user's value right, so nothing there tells the two copies
apart (docs/training.md "Session 30").

.venv/bin/python docs/results/session30/recall_priors.py MODEL OUT [source=BONUS] [recency=BONUS] [twins] [words] [ties]
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from rxt_core import ReactiveTransformer
from rxt_core.memory_pointer import FOLLOW_SCALE
from rxt_core.tokenizer import RxTTokenizer
from rxt_core.training.pipeline import with_word_tables
from rxt_core.training.transplant import transplant


def main() -> None:
    source, out, *settings = sys.argv[1:]
    bonuses = dict(s.split("=", 1) for s in settings if "=" in s)
    overrides = {f"pointer_{name}": True for name in bonuses}
    flags = {"twins": "pointer_space_twins", "words": "keep_whole_words", "ties": "pointer_recency_ties"}
    overrides |= {flags[s]: True for s in settings if s in flags}
    model = transplant(ReactiveTransformer.from_pretrained(source), overrides)
    tokenizer = Path(source) / "tokenizer.json"
    with torch.no_grad():
        for name, bonus in bonuses.items():  # each bonus is FOLLOW_SCALE times its parameter
            getattr(model.pointer.slots, name).fill_(float(bonus) / FOLLOW_SCALE)
    with_word_tables(model, RxTTokenizer.load(tokenizer))  # what `rxt train` does too
    model.save_pretrained(out, tokenizer)
    print(f"{out}: {overrides} {bonuses}")


if __name__ == "__main__":
    main()
