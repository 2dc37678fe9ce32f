"""Where one session's per-turn overhead lives: the model alone vs the `Decoder` class in-process.

    .venv/bin/python scripts/turn_overhead.py [--model models/rxt-nano] [--turns 16] [--repeats 3]
        [--decode-engine process|thread]

`rxt bench serve` reports "service overhead" = service turn p50 - direct-model turn p50 at one
session, which mixes our decoder's own work (store reads and writes, the hops to the decode
engine, detokenising) with Ray Serve and gRPC. This times, alternated in one process at one thread:

- direct: `rxt bench serve`'s `DirectModel` (tokenise, `model.interact`, detokenise; the memory
  update after it, off the clock);
- decoder: `orchestration.decoder.Decoder.interact` on a real SQLite store with the memory
  updater called in-process (no Ray), minus the time the turn waited for the previous update.

What is left of the service's overhead after the decoder's is Ray Serve + the ingress + gRPC.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from agents.registry import AgentRegistry
from orchestration.config import ServiceConfig
from orchestration.decoder import Decoder, TurnRequest
from orchestration.memory_updater import MemoryUpdater
from orchestration.text import load_tokenizer
from rxt_cli.bench_serve import AnswerLength, DirectModel, query
from storage import AsyncSessionStore


async def main(args: argparse.Namespace) -> None:
    direct = DirectModel(args.model, threads=1)
    length = AnswerLength(args.max_new_tokens, args.min_new_tokens)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'rxt.db'}"
        config = ServiceConfig(model_dir=args.model, database_url=url, decode_engine=args.decode_engine)
        model = direct.model
        tokenizer = load_tokenizer(args.model)
        store = await AsyncSessionStore.open(config.database_url)
        updater = MemoryUpdater(model, tokenizer, store, AgentRegistry(config.agents), "fp32")

        async def apply(job):
            return (await updater.apply([job]))[0]

        decoder = Decoder(model, tokenizer, store, config, apply, updater.recover)
        initial = await updater.initial_memory()
        times: dict[str, list[float]] = {"direct": [], "decoder": []}
        for repeat in range(args.repeats + 1):  # repeat 0 warms up
            sid = (await store.create_session(initial.stm, fingerprint=initial.fingerprint)).session_id
            direct.stm = initial.stm.unsqueeze(0)
            for turn in range(args.turns):
                order = ("direct", "decoder") if (repeat + turn) % 2 == 0 else ("decoder", "direct")
                for path in order:
                    if path == "direct":
                        seconds, _ = direct.turn(query(0, turn), length)
                    else:
                        start, last = time.perf_counter(), None
                        request = TurnRequest(
                            sid,
                            query(0, turn),
                            max_new_tokens=length.max_new_tokens,
                            min_new_tokens=length.min_new_tokens,
                            temperature=0.0,
                        )
                        async for event in decoder.interact(request):
                            last = event
                        seconds = time.perf_counter() - start - last.memory_wait_s
                    if repeat:
                        times[path].append(seconds * 1e3)
            await decoder.turns.wait_for_update(sid, 60.0)  # before the store closes
        decoder.close()
        await store.aclose()
    for path, ms in times.items():
        print(f"{path:>8}: p50 {statistics.median(ms):6.1f} ms per turn ({len(ms)} turns)")
    print(
        f"decoder - direct: {statistics.median(times['decoder']) - statistics.median(times['direct']):.1f} ms"
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=Path("models/rxt-nano"))
    p.add_argument("--turns", type=int, default=16)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--max-new-tokens", type=int, default=32)
    p.add_argument("--min-new-tokens", type=int, default=0)
    p.add_argument("--decode-engine", choices=["process", "thread"], default="process")
    asyncio.run(main(p.parse_args()))
