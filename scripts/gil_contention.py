"""Does a Python thread that wakes now and then slow a decode loop in the same process?

Why: in the service the decoder replica's decode thread used ~102 ms of CPU per 32-token turn
against ~70 ms for the same turn in a plain process (docs/service.md, session 12). Every torch op
releases the GIL, so any other Python thread of the process that wakes up (the replica's asyncio
loop, Ray's threads) takes it while an op runs, and the decode thread waits to get it back after
the op. This times batch-1 decoding of the bundled model (1 torch thread) alone and beside a
thread that does `work` ms of pure-Python work every `sleep` ms, alternated, CPU time of the
decode thread included.

    .venv/bin/python scripts/gil_contention.py [--seconds 5] [--trials 2]
"""

from __future__ import annotations

import argparse
import threading
import time

import torch

from rxt_core import ReactiveTransformer, generation
from rxt_core.bundled import bundled_model_dir

NEIGHBOURS = ((0.1, 2.0), (0.5, 2.0), (0.04, 0.16))  # (work ms, sleep ms) of the other thread


def decode_for(model, memory_kv, seconds: float) -> tuple[float, float]:
    """Whole 32-token answers for `seconds`; (wall, decode-thread CPU) ms per step."""
    prompt = [model.config.query_id, *range(10, 30), model.config.answer_id]
    steps, wall0, cpu0 = 0, time.perf_counter(), time.thread_time()
    with torch.inference_mode():
        end = time.time() + seconds
        while time.time() < end:
            logits, state = generation.prefill(model, [prompt], memory_kv)
            token = logits.argmax(-1)
            for _ in range(31):
                generation.decode_step(model, token, state)
            steps += 31
    return (time.perf_counter() - wall0) / steps * 1e3, (time.thread_time() - cpu0) / steps * 1e3


def in_thread(fn, *args):
    out = []
    worker = threading.Thread(target=lambda: out.append(fn(*args)))
    worker.start()
    worker.join()
    return out[0]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--trials", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(1)
    model = ReactiveTransformer.from_pretrained(bundled_model_dir()).eval()
    with torch.inference_mode():
        memory_kv = model.decoder.project_memory(model.init_memory(1))
    for trial in range(args.trials):
        wall, cpu = in_thread(decode_for, model, memory_kv, args.seconds)
        print(
            f"trial {trial}, alone: wall {wall:.2f} ms/step, decode-thread CPU {cpu:.2f} ms/step", flush=True
        )
        for work_ms, sleep_ms in NEIGHBOURS:
            stop = threading.Event()

            def neighbour(work=work_ms / 1e3, pause=sleep_ms / 1e3, stop=stop):
                while not stop.is_set():
                    start = time.perf_counter()
                    while time.perf_counter() - start < work:
                        sum(range(50))
                    time.sleep(pause)

            other = threading.Thread(target=neighbour)
            other.start()
            wall, cpu = in_thread(decode_for, model, memory_kv, args.seconds)
            stop.set()
            other.join()
            print(
                f"trial {trial}, beside {work_ms} ms of Python every {sleep_ms} ms: "
                f"wall {wall:.2f} ms/step, decode-thread CPU {cpu:.2f} ms/step",
                flush=True,
            )


if __name__ == "__main__":
    main()
