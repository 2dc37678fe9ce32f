"""Is a wrong recall a read that went elsewhere? For each recalled value's first token (held-out
labels: `recall` turns), teacher-forced from the model's own memory: the read loss of
read_supervision.py (how far the best head per layer is from the slot holding most of the value's
source tokens) and whether the model's top guess is right, by distance.

    .venv/bin/python docs/results/session19/read_vs_recall.py MODEL_DIR DATA.jsonl [--threads N]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

import torch

from rxt_core import ReactiveTransformer
from rxt_core.training.memory_probe import value_positions
from rxt_core.training.pipeline import load_token_dialogues, load_tokenizer
from rxt_core.training.read_supervision import teacher_forced_reads


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("data")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = ReactiveTransformer.from_pretrained(args.model).eval()
    tokenizer = load_tokenizer(f"{args.model}/tokenizer.json")
    dialogues = load_token_dialogues([args.data], tokenizer, model.config)
    cells: dict[str, dict[str, list[float]]] = defaultdict(lambda: {"right": [], "wrong": []})
    unsupervised = 0
    for chunk, t, logits, reads in teacher_forced_reads(model, dialogues):
        scored = reads.target_losses(t)
        loss_at = (
            {} if scored is None else {(int(r), int(c)): float(v) for r, c, v in zip(*scored, strict=True)}
        )
        for b, dialogue in enumerate(chunk):
            if t >= len(dialogue) or not (positions := value_positions(dialogue[t], tokenizer)):
                continue
            col = len(dialogue[t].query) + 1 + positions[0]  # predicts the value's first token
            if (b, col) not in loss_at:
                unsupervised += 1
                continue
            right = int(logits[b, col].argmax()) == int(reads.batches[t].ids[b, col + 1])
            d = dialogue[t].recall.distance
            cell = "1-2" if d <= 2 else "3-5" if d <= 5 else "6+"
            for key in (cell, "all"):
                cells[key]["right" if right else "wrong"].append(loss_at[(b, col)])
    table = {}
    print(f"{'distance':>8} {'right':>6} {'read loss':>9} {'wrong':>6} {'read loss':>9}")
    for key in ("1-2", "3-5", "6+", "all"):
        r, w = cells[key]["right"], cells[key]["wrong"]
        table[key] = {
            "right": len(r),
            "right_read_loss": sum(r) / max(1, len(r)),
            "wrong": len(w),
            "wrong_read_loss": sum(w) / max(1, len(w)),
        }
        row = table[key]
        print(
            f"{key:>8} {len(r):>6} {row['right_read_loss']:>9.3f} {len(w):>6} {row['wrong_read_loss']:>9.3f}"
        )
    print(f"first value tokens not supervised (id in > 2 earlier turns): {unsupervised}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(
                {"model": args.model, "data": args.data, "cells": table, "unsupervised": unsupervised},
                f,
                indent=1,
            )


if __name__ == "__main__":
    main()
