"""Decode-step timings that depend on the process around the model, not on the model.

    .venv/bin/python scripts/decode_steps.py threads [--preset bench-22m] [--batches 1,2,4,8,32]
    .venv/bin/python scripts/decode_steps.py gil [--seconds 4] [--trials 2]

`threads`: ms per decode step at 1 and 2 torch threads, switched between runs in one process
(4 alternated runs per batch size, medians). One session decodes one token per step, and on
2-core hosts OpenMP's fork/join per small product can cost more than the second core gives.

`gil`: batch-1 decoding in a worker thread (1 torch thread), alone and beside a thread that does
pure-Python work in short slices, alternated. Every torch op releases the GIL, so another Python
thread of the same process that wakes up (a replica's asyncio loop, Ray's threads) takes it while
an op runs, and the decode thread waits for it after the op; the decode thread's own CPU time is
reported too. docs/service.md, session 12, for what this measured.

Both time decode steps only (a prompt is prefilled, untimed, before every 31 steps) and default to
the bundled model.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import torch

from rxt_core import ReactiveTransformer, generation
from rxt_core.bundled import bundled_model_dir
from rxt_core.config import preset
from rxt_core.interaction import prompt_ids

STEPS_PER_PROMPT = 31
NEIGHBOURS = ((0.1, 2.0), (0.5, 2.0), (0.04, 0.16))  # (work ms, sleep ms) of the other thread


def load(name: str) -> ReactiveTransformer:
    if name == "bundled":
        return ReactiveTransformer.from_pretrained(bundled_model_dir()).eval()
    return ReactiveTransformer(preset(name)).eval()


def time_decode(model: ReactiveTransformer, batch: int, seconds: float) -> tuple[float, float]:
    """(wall, this thread's CPU) ms per decode step of `batch` rows, over about `seconds`."""
    prompts = [prompt_ids(list(range(10, 20 + row % 10)), model.config) for row in range(batch)]
    steps, wall, cpu = 0, 0.0, 0.0
    with torch.inference_mode():
        memory_kv = model.memory_kv(model.init_memory(batch))
        end = time.time() + seconds
        while time.time() < end:
            logits, state = generation.prefill(model, prompts, memory_kv)
            token = logits.argmax(-1)
            wall0, cpu0 = time.perf_counter(), time.thread_time()
            for _ in range(STEPS_PER_PROMPT):
                generation.decode_step(model, token, state)
            wall += time.perf_counter() - wall0
            cpu += time.thread_time() - cpu0
            steps += STEPS_PER_PROMPT
    return wall / steps * 1e3, cpu / steps * 1e3


def threads(args: argparse.Namespace) -> None:
    model = load(args.preset)
    for batch in (int(b) for b in args.batches.split(",")):
        runs: dict[int, list[float]] = {1: [], 2: []}
        for _ in range(4):
            for count in runs:
                torch.set_num_threads(count)
                runs[count].append(time_decode(model, batch, args.seconds)[0])
        one, two = (statistics.median(runs[count]) for count in (1, 2))
        print(
            f"{args.preset} batch {batch}: 1 thread {one:.2f} ms, 2 threads {two:.2f} ms per step", flush=True
        )


def in_thread(fn, *args):
    out = []
    worker = threading.Thread(target=lambda: out.append(fn(*args)))
    worker.start()
    worker.join()
    return out[0]


def busy_slices(work_s: float, sleep_s: float, stop: threading.Event) -> None:
    while not stop.is_set():
        start = time.perf_counter()
        while time.perf_counter() - start < work_s:
            sum(range(50))
        time.sleep(sleep_s)


def gil(args: argparse.Namespace) -> None:
    torch.set_num_threads(1)
    model = load(args.preset)
    for trial in range(args.trials):
        wall, cpu = in_thread(time_decode, model, 1, args.seconds)
        print(f"trial {trial}, alone: wall {wall:.2f}, decode-thread CPU {cpu:.2f} ms/step", flush=True)
        for work_ms, sleep_ms in NEIGHBOURS:
            stop = threading.Event()
            other = threading.Thread(target=busy_slices, args=(work_ms / 1e3, sleep_ms / 1e3, stop))
            other.start()
            wall, cpu = in_thread(time_decode, model, 1, args.seconds)
            stop.set()
            other.join()
            print(
                f"trial {trial}, beside {work_ms} ms of Python every {sleep_ms} ms: "
                f"wall {wall:.2f}, decode-thread CPU {cpu:.2f} ms/step",
                flush=True,
            )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("probe", choices=("threads", "gil"))
    p.add_argument("--preset", default="bundled", help="'bundled' (models/rxt-nano) or a preset name")
    p.add_argument("--batches", default="1,8,32,64", help="threads: batch sizes")
    p.add_argument("--seconds", type=float, default=None, help="per timed run (threads 1, gil 4)")
    p.add_argument("--trials", type=int, default=2, help="gil: rounds of alone + neighbours")
    args = p.parse_args()
    if args.seconds is None:
        args.seconds = 1.0 if args.probe == "threads" else 4.0
    {"threads": threads, "gil": gil}[args.probe](args)


if __name__ == "__main__":
    main()
