"""What more STM slots cost the bundled model per turn: the bundled folder and a copy grown to
more slots (more_slots.py), the same query answered with exactly the same number of tokens
(forced greedy length: EOS never wins, `benchmark.force_full_answers`), then the memory update;
alternated, medians, one thread (the service's replica setting). CPU time beside wall time.

    .venv/bin/python docs/results/session21/slots_latency.py models/rxt-nano runs/s21/slots512 [REPEATS]
"""

from __future__ import annotations

import sys

import torch

from rxt_core import ReactiveTransformer
from rxt_core.benchmark import force_full_answers, interleaved, median, time_call, time_stream

QUERY_LEN, ANSWER_LEN = 32, 32


def main() -> None:
    folders, repeats = sys.argv[1:3], int(sys.argv[3]) if len(sys.argv) > 3 else 20
    torch.set_num_threads(1)
    models = [ReactiveTransformer.from_pretrained(f) for f in folders]
    for model in models:
        force_full_answers(model)
    query = torch.randint(
        6, models[0].config.vocab_size, (QUERY_LEN,), generator=torch.Generator().manual_seed(0)
    )
    stms = [model.init_memory(1) for model in models]
    times: list[dict[str, list[float]]] = [
        {"token": [], "token_cpu": [], "update": [], "ttft": []} for _ in models
    ]

    def turn(i: int):
        def run() -> None:
            model = models[i]
            with torch.no_grad():
                stream = time_stream(model.interact(query.tolist(), stms[i], max_new_tokens=ANSWER_LEN))
                update = time_call(lambda: model.update_memory(stms[i], query.tolist(), stream.tokens))
            stms[i] = update.result
            times[i]["token"].append(stream.per_token_ms)
            times[i]["token_cpu"].append(stream.per_token_cpu_ms)
            times[i]["ttft"].append(stream.ttft_ms)
            times[i]["update"].append(update.ms)

        return run

    for r in range(repeats):
        interleaved(r, turn(0), turn(1))
    print("model  slots  ms/token (cpu)  TTFT ms  update ms")
    for folder, model, t in zip(folders, models, times, strict=True):
        print(
            f"{folder}  {model.config.stm_slots}  {median(t['token']):.2f} ({median(t['token_cpu']):.2f})"
            f"  {median(t['ttft']):.2f}  {median(t['update']):.2f}"
        )


if __name__ == "__main__":
    main()
