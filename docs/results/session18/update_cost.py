"""CPU of one batched memory update of the bundled model, by batch size, fp32 vs bf16 writes
(1 thread; a 15-token query and a 32-token answer per row; medians of 20).

    .venv/bin/python docs/results/session18/update_cost.py   # from the repository root
"""

import statistics
import time

import torch

from rxt_core import ReactiveTransformer
from rxt_core.tokenizer import RxTTokenizer

torch.set_num_threads(1)
model = ReactiveTransformer.from_pretrained("models/rxt-nano").eval()
tokenizer = RxTTokenizer.load("models/rxt-nano")
query = tokenizer.encode("Hi, my name is Ada and I have a cat called Biscuit.")
answer = (
    tokenizer.encode("Nice to meet you, Ada. Biscuit is a lovely name for a cat, I will remember that.") * 3
)[:32]


def cpu_ms(rows: int, precision: str, repeats: int = 20) -> float:
    stm = model.init_memory(rows)
    for _ in range(3):
        model.update_memory(stm, [query] * rows, [answer] * rows, precision=precision)
    times = []
    for _ in range(repeats):
        start = time.thread_time()
        model.update_memory(stm, [query] * rows, [answer] * rows, precision=precision)
        times.append(time.thread_time() - start)
    return statistics.median(times) * 1e3


for rows in (1, 2, 4, 8, 32):
    fp32, bf16 = cpu_ms(rows, "fp32"), cpu_ms(rows, "bf16")
    print(
        f"batch {rows:2d}: fp32 {fp32:6.2f} ms ({fp32 / rows:.2f} per row), bf16 {bf16:6.2f} ms ({bf16 / rows:.2f} per row)"
    )
