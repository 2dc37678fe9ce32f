"""held.py with a keep rule tried and not taken in session 30: each kept token also keeps up to
three tokens before it, as long as each ends in a letter or digit and the one after it starts with
one ('Ġ', a space, counts as a letter here: that is the accident this rule came from, a first
whole-words rule; `RxTConfig.keep_whole_words` is the corrected one). A salience hook, no retraining.

    python docs/results/session30/keep_before.py MODEL EVAL.jsonl   (PERQ=FILE as held.py)
"""

import runpy
import sys
from pathlib import Path

import torch

from rxt_core import ReactiveTransformer
from rxt_core.tokenizer import RxTTokenizer

model_dir = sys.argv[1]
tok = RxTTokenizer.load(f"{model_dir}/tokenizer.json")
pieces = [tok.token_of(i) for i in range(tok.vocab_size)]
cont = torch.tensor([bool(p) and p[0].isalnum() and i > 5 for i, p in enumerate(pieces)])
wordlike = torch.tensor([bool(p) and p[-1].isalnum() and i > 5 for i, p in enumerate(pieces)])
stash = {}
orig_write = ReactiveTransformer.write_memory


def write_memory(self, stm, input_ids, mask, *a, **k):
    stash["ids"], stash["mask"] = input_ids, mask
    return orig_write(self, stm, input_ids, mask, *a, **k)


ReactiveTransformer.write_memory = write_memory
orig_from = ReactiveTransformer.from_pretrained.__func__


def from_pretrained(cls, *a, **k):
    m = orig_from(cls, *a, **k)
    thr = m.config.keep_threshold

    def hook(_m, _a, out):
        ids, mask = stash["ids"], stash["mask"]
        kept = (out > thr) & mask
        for _ in range(3):
            nxt = torch.nn.functional.pad(kept[:, 1:] & cont[ids[:, 1:]], (0, 1), value=False)
            add = nxt & ~kept & wordlike[ids] & mask
            if not add.any():
                break
            kept = kept | add
            out = torch.where(add, torch.full_like(out, thr + 1.0), out)
        return out

    m.memory_attention.salience.register_forward_hook(hook)
    return m


ReactiveTransformer.from_pretrained = classmethod(from_pretrained)
sys.argv = ["held.py", *sys.argv[1:]]
runpy.run_path(str(Path(__file__).parents[1] / "session28" / "held.py"), run_name="__main__")
