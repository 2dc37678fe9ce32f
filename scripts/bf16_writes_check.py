"""Memory writes under CPU bf16 autocast, decoding in fp32: what they cost and what they change.

    .venv/bin/python scripts/bf16_writes_check.py runs/eval/heldout.jsonl OUT.json

1. Batch-1 `update_memory` of bench-22m (random weights) with the slot write and with interlayer +
   linear gates, precision="fp32" vs "bf16", alternated, medians of 20 calls each (2 threads).
   (Before session 8 this wrapped the default call in autocast; since "auto" picks bf16 on such
   CPUs, the precision is now named explicitly so the fp32 arm really is fp32.)
2. `evaluate` of the bundled model on a dialogue file with every memory write in bf16 (the
   teacher-forced perplexity and the generated recall both read bf16-written memories), to set
   beside `rxt eval`'s fp32 figures. Session 7 measured this on an AMD EPYC with avx512_bf16
   (docs/benchmarks.md); bf16 only pays on CPUs with bf16 hardware.
"""

import json
import statistics
import sys

import torch

from rxt_core import ReactiveTransformer, preset
from rxt_core.benchmark import time_call
from rxt_core.bundled import bundled_model_dir
from rxt_core.tokenizer import RxTTokenizer
from rxt_core.training.evaluate import evaluate
from rxt_core.training.pipeline import load_token_dialogues


def with_bf16_writes(model: ReactiveTransformer) -> ReactiveTransformer:
    fp32_write = model.write_memory

    def write(stm, ids, mask):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return fp32_write(stm, ids, mask).float()

    model.write_memory = write  # update_memory and evaluate's teacher-forced pass both call it
    return model


def update_times(write: str, variant: str) -> dict[str, float]:
    model = ReactiveTransformer(preset("bench-22m", memory_write=write, memory_attention=variant)).eval()
    query, answer, stm = list(range(10, 42)), list(range(50, 82)), model.init_memory(1)
    times: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for mode in ("fp32", "bf16") * 2:
        for i in range(12):
            ms = time_call(lambda p=mode: model.update_memory(stm, query, answer, precision=p)).ms
            if i >= 2:  # two warm-up calls per block
                times[mode].append(ms)
    return {mode: statistics.median(ms) for mode, ms in times.items()}


def main(data: str, out: str) -> None:
    torch.set_num_threads(2)
    for write, variant in (("slot", "simple"), ("gated", "interlayer")):
        print(f"update ms, bench-22m, {variant} / {write}:", update_times(write, variant))
    tokenizer = RxTTokenizer.load(bundled_model_dir())
    model = with_bf16_writes(ReactiveTransformer.from_pretrained(bundled_model_dir()))
    dialogues = load_token_dialogues([data], tokenizer, model.config, None)
    result = evaluate(
        model, tokenizer, dialogues, "RxT, bf16 writes", batch_size=32, max_new_tokens=32
    ).as_dict()
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    print({k: v for k, v in result.items() if isinstance(v, (int, float, str))})


if __name__ == "__main__":
    main(*sys.argv[1:3])
