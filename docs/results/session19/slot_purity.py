"""How much of a slot a recalled token's source holds (bundled model, 96 held-out dialogues): the ledger's
content of its best slot and summed over slots, mean over layers. Run:
    .venv/bin/python docs/results/session19/slot_purity.py MODEL_DIR   (reads runs/s19/eval/heldout.jsonl)
"""

import statistics
import sys

import torch

from rxt_core import ReactiveTransformer
from rxt_core.training.pipeline import load_token_dialogues, load_tokenizer
from rxt_core.training.read_supervision import teacher_forced_reads

torch.set_num_threads(1)
model = ReactiveTransformer.from_pretrained(sys.argv[1]).eval()
tok = load_tokenizer(f"{sys.argv[1]}/tokenizer.json")
ds = load_token_dialogues(["runs/s19/eval/heldout.jsonl"], tok, model.config)[:96]
best, total, one_back = [], [], []
for _, t, _, reads in teacher_forced_reads(model, ds):
    src, ids = reads.sources[t], reads.batches[t].ids
    rows, cols = src.targets.nonzero(as_tuple=True)
    if len(rows):
        c = reads.ledger.content(
            rows, src.source[rows, cols], ids[rows, cols + 1], reads.batches
        )  # [N, L, S]
        best += c.amax(-1).mean(1).tolist()
        total += c.sum(-1).mean(1).tolist()
        one_back += (src.source[rows, cols] == t - 1).tolist()
print(
    f"supervised targets {len(best)}: share of the best slot held by the source tokens {statistics.mean(best):.3f} (median {statistics.median(best):.3f}); summed over slots {statistics.mean(total):.3f}"
)
b1 = [x for x, back1 in zip(best, one_back, strict=True) if back1]
bn = [x for x, back1 in zip(best, one_back, strict=True) if not back1]
print(
    f"source one turn back: best {statistics.mean(b1):.3f} (n={len(b1)}); further back: {statistics.mean(bn):.3f} (n={len(bn)})"
)
