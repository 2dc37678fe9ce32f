"""`rxt eval`'s memory probe alone (teacher-forced, no generation: ~1 minute per 200 dialogues on
one thread), for a model whose full evaluation is already on file.

.venv/bin/python docs/results/session24/memory_probe_only.py MODEL DIALOGUES.jsonl ... > OUT.json
"""

from __future__ import annotations

import json
import sys

import torch

from rxt_core import ReactiveTransformer
from rxt_core.training.memory_probe import probe_memory
from rxt_core.training.pipeline import load_token_dialogues, load_tokenizer


def main() -> None:
    torch.set_num_threads(1)
    model = ReactiveTransformer.from_pretrained(sys.argv[1]).eval()
    tokenizer = load_tokenizer(sys.argv[1] + "/tokenizer.json")
    scores = {}
    for path in sys.argv[2:]:
        dialogues = load_token_dialogues([path], tokenizer, model.config)
        scores[path] = probe_memory(model, dialogues, tokenizer, batch_size=32).as_dict()
    print(json.dumps(scores, indent=1))


if __name__ == "__main__":
    main()
