"""A memory pointer model with its copy gate's logit shifted by SHIFT everywhere (negative: copies
less eagerly), saved as a new model folder for `rxt eval` — an evaluation-time probe of whether a
more cautious gate keeps the pointer's gain on unseen values without its cost on seen ones.

.venv/bin/python docs/results/session25/gate_shift.py MODEL OUT SHIFT
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch

from rxt_core import ReactiveTransformer
from rxt_core.memory_pointer import GATE_SCALE


def main() -> None:
    source, out, shift = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
    model = ReactiveTransformer.from_pretrained(source)
    with torch.no_grad():
        model.pointer.gate.bias += shift / GATE_SCALE  # the logit is GATE_SCALE (w·h + b)
    model.save_pretrained(out)
    shutil.copy(Path(source) / "tokenizer.json", out / "tokenizer.json")
    print(f"{out}: gate logit shifted by {shift}")


if __name__ == "__main__":
    main()
