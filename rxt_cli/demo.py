"""`rxt demo`: chat with a model in this process — no Ray, no database, no gRPC.

The answer streams as it is generated; the memory update runs after it, exactly as the service
does it. Commands: /reset (fresh memory), /quit.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rxt_core.bundled import bundled_model_dir


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="rxt demo", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--model", type=Path, default=bundled_model_dir(), help="model folder (default: bundled)")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    p.add_argument("--top-k", type=int, default=0)
    p.add_argument("--top-p", type=float, default=1.0)
    # One session decodes one token per step: on a 2-core host one thread was never slower than
    # two (bundled model, batch 1: 3.3 vs 5.3 and 1.42 vs 1.46 ms per step in two runs;
    # docs/benchmarks.md, session 12), and it leaves the other core free.
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    p.add_argument("--timings", action="store_true", help="print latency of each turn and memory update")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse(argv)
    import torch

    from rxt_core import ReactiveTransformer, SamplingParams
    from rxt_core.tokenizer import RxTTokenizer

    torch.set_num_threads(args.threads)
    tokenizer_path = args.model / "tokenizer.json"
    if not tokenizer_path.is_file():
        print(
            f"rxt demo: {args.model} has no tokenizer.json (train one: see docs/training.md)", file=sys.stderr
        )
        return 2
    model = ReactiveTransformer.from_pretrained(args.model)
    tokenizer = RxTTokenizer.load(tokenizer_path)
    sampling = SamplingParams(
        max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p
    )
    stm = model.init_memory(1)
    print(
        f"RxT demo: {args.model} ({sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters). "
        "/reset clears memory, /quit exits."
    )
    turn = 0
    while True:
        try:
            query = input(f"[{turn}] you> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if query in ("/quit", "/exit"):
            return 0
        if query == "/reset":
            stm, turn = model.init_memory(1), 0
            print("memory cleared")
            continue
        if not query:
            continue
        query_ids = tokenizer.encode(query)
        try:
            start = time.perf_counter()
            decoder, answer, first = tokenizer.stream_decoder(), [], None
            print("rxt> ", end="", flush=True)
            for token in model.interact(query_ids, stm, sampling):
                first = first or time.perf_counter()
                answer.append(token)
                print(decoder.push([token]), end="", flush=True)
            print(decoder.finish())
            answered = time.perf_counter()
            stm = model.update_memory(stm, query_ids, answer)
            if args.timings:
                ttft = ((first or answered) - start) * 1e3
                print(
                    f"  ({len(answer)} tokens, first after {ttft:.0f} ms, answer {1e3 * (answered - start):.0f} ms, "
                    f"memory update {1e3 * (time.perf_counter() - answered):.0f} ms)"
                )
            turn += 1
        except ValueError as error:
            print(f"\nrxt demo: {error}")
