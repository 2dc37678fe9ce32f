"""Teacher-forced answer perplexity alone (what `rxt eval` reports first, without its generation):
~20 s a set, so arms that trade perplexity for recall can be screened on both. Session 29.

    python docs/results/session29/ppl.py MODEL EVAL.jsonl [EVAL.jsonl ...]
"""

import sys

import torch

from rxt_core import ReactiveTransformer
from rxt_core.training.evaluate import EvalResult, _teacher_forced_rxt
from rxt_core.training.pipeline import load_token_dialogues, load_tokenizer

torch.set_num_threads(1)
model_dir, *files = sys.argv[1:]
model = ReactiveTransformer.from_pretrained(model_dir).eval()
tokenizer = load_tokenizer(model_dir)
for path in files:
    dialogues = load_token_dialogues([path], tokenizer, model.config, None)
    result = EvalResult("RxT", 0, len(dialogues))
    with torch.inference_mode():
        for start in range(0, len(dialogues), 32):
            _teacher_forced_rxt(model, dialogues[start : start + 32], result)
    print(
        f"{model_dir} {path}: answer perplexity {result.ppl:.3f}, next-token accuracy {result.accuracy:.1%}"
    )
