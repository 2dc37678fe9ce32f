"""CPU per 32-token turn of the bare `BatchScheduler` (one process, no IPC, 1 thread), 64 sessions
whose next turn re-joins 1..D steps after the last one ended (D = 1: all rows join together;
larger D: the staggered joins the service sees, where hops and memory waits lie between turns).
Split into prefill (joining rows), memory K/V and batched decode steps.

    .venv/bin/python docs/results/session18/staggered_scheduler.py 6   # from the repository root
"""

import random
import sys
import time

import torch

from orchestration.scheduler import BatchScheduler, GenerationRequest
from rxt_core import ReactiveTransformer, SamplingParams, generation
from rxt_core.interaction import prompt_ids
from rxt_core.tokenizer import RxTTokenizer

MAX_DELAY = int(sys.argv[1]) if len(sys.argv) > 1 else 6
torch.set_num_threads(1)
model = ReactiveTransformer.from_pretrained("models/rxt-nano").eval()
tokenizer = RxTTokenizer.load("models/rxt-nano")
prompt = prompt_ids(tokenizer.encode("Hi, my name is Ada and I have a cat called Biscuit."), model.config)
stm = model.init_memory(1)
params = SamplingParams(max_new_tokens=32, min_new_tokens=32)
random.seed(0)
timers = {"prefill": 0.0, "decode": 0.0, "memkv": 0.0}


def timed(owner, name: str, key: str) -> None:
    inner = getattr(owner, name)

    def wrapper(*args, **kwargs):
        start = time.thread_time()
        result = inner(*args, **kwargs)
        timers[key] += time.thread_time() - start
        return result

    setattr(owner, name, wrapper)


timed(generation, "prefill", "prefill")
timed(generation, "decode_step", "decode")
timed(model, "memory_kv", "memkv")
scheduler = BatchScheduler(model, 64)
delayed: list[tuple[int, GenerationRequest]] = []
state = {"next_id": 0, "step": 0, "done": 0}


def new_request() -> GenerationRequest:
    state["next_id"] += 1
    return GenerationRequest(str(state["next_id"]), prompt, stm.clone(), params)


def run(until: int) -> None:
    while state["done"] < until:
        due = [d for d in delayed if d[0] <= state["step"]]
        for item in due:
            delayed.remove(item)
            scheduler.add(item[1])
        events, _ = scheduler.step()
        state["step"] += 1
        for event in events:
            if event.finish is not None:
                state["done"] += 1
                delayed.append((state["step"] + random.randint(1, MAX_DELAY), new_request()))


for _ in range(64):
    scheduler.add(new_request())
run(128)  # warm up
timers.update(dict.fromkeys(timers, 0.0))
done0, cpu0, step0 = state["done"], time.thread_time(), state["step"]
run(done0 + 640)
turns, cpu = state["done"] - done0, time.thread_time() - cpu0
rows = turns * 32 / (state["step"] - step0)
print(
    f"re-join within {MAX_DELAY} steps: CPU {1e3 * cpu / turns:.2f} ms per turn; prefill "
    f"{1e3 * timers['prefill'] / turns:.2f}, memory K/V {1e3 * timers['memkv'] / turns:.2f}, "
    f"decode {1e3 * timers['decode'] / turns:.2f} ms per turn; {rows:.1f} rows per step"
)
