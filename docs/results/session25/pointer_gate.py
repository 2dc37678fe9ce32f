"""What a memory pointer model's pointer does, teacher-forced over whole dialogues: at recalled
answer tokens (copy_targets.py: an id of an earlier turn, not of the own query) and at the other
answer tokens, the mean gate g, how often the pointer's most likely token is the target, and how
often the vocabulary head alone vs the mixed output ranks the target first.

.venv/bin/python docs/results/session25/pointer_gate.py MODEL DIALOGUES.jsonl [--dialogues N] [--gate-bias B]
MODEL is a model folder, a stage-4 checkpoint folder of a `--set memory_pointer=true` run, or a
model without the pointer (it is then added, untrained: the vocabulary-logit prior alone);
--gate-bias sets the gate's bias (its weights zeroed), i.e. a fixed g = sigmoid(B).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from rxt_core import ReactiveTransformer
from rxt_core.memory_pointer import GATE_SCALE
from rxt_core.training.batching import turn_batch
from rxt_core.training.copy_targets import recall_sources
from rxt_core.training.pipeline import load_token_dialogues, load_tokenizer
from rxt_core.training.state import STATE_FILE
from rxt_core.training.transplant import transplant


def load(path: str) -> ReactiveTransformer:
    if (Path(path) / STATE_FILE).is_file():
        model = transplant(ReactiveTransformer.from_pretrained("models/rxt-nano"), {"memory_pointer": True})
        payload = torch.load(Path(path) / STATE_FILE, map_location="cpu", weights_only=False)
        model.load_state_dict(payload["modules"]["model"])
        return model.eval()
    return transplant(ReactiveTransformer.from_pretrained(path), {"memory_pointer": True}).eval()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("data")
    parser.add_argument("--dialogues", type=int, default=200)
    parser.add_argument("--gate-bias", type=float)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load(args.model)
    if args.gate_bias is not None:
        with torch.no_grad():
            model.pointer.gate.weight.zero_()
            model.pointer.gate.bias.fill_(args.gate_bias / GATE_SCALE)
    tokenizer = load_tokenizer("models/rxt-nano/tokenizer.json")
    dialogues = load_token_dialogues([args.data], tokenizer, model.config)[: args.dialogues]
    seen = {}  # what the pointer module computed on the last forward
    model.pointer.register_forward_hook(lambda _m, args, out: seen.update(args=args, out=out))
    totals = {
        kind: dict.fromkeys(("tokens", "gate", "pointer_top", "vocab_top", "mixed_top"), 0.0)
        for kind in ("recalled", "other")
    }
    with torch.no_grad():
        for start in range(0, len(dialogues), 32):
            chunk = dialogues[start : start + 32]
            batches = [turn_batch(chunk, t, model.config) for t in range(max(map(len, chunk)))]
            sources = recall_sources(batches, model.config)
            stm = model.init_memory(len(chunk))
            for batch, source in zip(batches, sources, strict=True):
                out, _ = model(batch.ids, stm)
                hidden, logits, (keys, ids), tokens = seen["args"]
                copy, followed, _ = model.pointer.slots(hidden, logits, (keys, ids), tokens)
                gate = model.pointer.gate(hidden, logits.float().log_softmax(-1), copy, followed).sigmoid()
                pointed = copy.argmax(-1)  # the top token
                target = batch.ids[:, 1:]
                for kind, where in (
                    ("recalled", source.targets & batch.targets),
                    ("other", ~source.targets & batch.targets),
                ):
                    t = totals[kind]
                    t["tokens"] += float(where.sum())
                    t["gate"] += float(gate[:, :-1][where].sum())
                    t["pointer_top"] += float((pointed[:, :-1] == target)[where].sum())
                    t["vocab_top"] += float((logits[:, :-1].argmax(-1) == target)[where].sum())
                    t["mixed_top"] += float((out[:, :-1].argmax(-1) == target)[where].sum())
                new = model.write_memory(stm, batch.ids, batch.mask)
                stm = batch.written(new, stm)
    report = {
        kind: {
            "tokens": int(t["tokens"]),
            **{k: v / max(1, t["tokens"]) for k, v in t.items() if k != "tokens"},
        }
        for kind, t in totals.items()
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
