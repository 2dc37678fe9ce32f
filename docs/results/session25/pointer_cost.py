"""What the memory pointer costs per turn: the bundled model's weights without it, with session
25's pointer (gate from the hidden state only, no follow bonus), with session 26's (agreement gate
and follow bonus: 4r), with session 27's (the follow bonus by context: 4t) and with the bundled
model's own (session 28, 4v: the pointer also reads the query, `pointer_reads_query`; session 29,
4w: the gate also reads the pointer's mass on the query's slots, `pointer_gate="agreement+query"`;
session 30, 4x: session 30's recall priors, `pointer_source`, `keep_whole_words`,
`pointer_space_twins`; session 31, 4y: `pointer_recency` with `pointer_recency_ties`), timed
alternately in one run (a pointer a model lacks starts untrained: the cost does not depend
on its weights).

.venv/bin/python docs/results/session25/pointer_cost.py [--repeats 15] [--answer 32] [--batch 1]

Per turn: `memory_kv` (with the pointer: also reading the slot ids back; reading the query: also
the encoder and the keep write over the prompt, into a copy of the STM), prefill + decoding `--answer` tokens (greedy, no EOS), and the memory write.
The memory is a full one (512 kept tokens), as after a long session.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from rxt_core import ReactiveTransformer
from rxt_core.generation import decode_step, prefill
from rxt_core.training.transplant import transplant


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def turn_times(model, stm, query, answer_tokens: int) -> dict[str, float]:
    batch = stm.shape[0]
    prompts = model.prompts([query] * batch, stm)
    out = {}
    with torch.inference_mode():
        out["memory_kv"] = timed(lambda: model.memory_kv(stm, prompts))
        memory_kv = model.memory_kv(stm, prompts)

        def decode():
            logits, state = prefill(model, prompts, memory_kv)
            for _ in range(answer_tokens):
                logits = decode_step(model, logits.argmax(-1), state)

        out["prefill+decode"] = timed(decode)
        answer = query[:answer_tokens]
        out["update_memory"] = timed(lambda: model.update_memory(stm, [query] * batch, [answer] * batch))
    out["turn"] = sum(out.values())
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--answer", type=int, default=32)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    bundled = ReactiveTransformer.from_pretrained("models/rxt-nano").eval()
    # session 31's recency prior off, then session 30's recall priors (the source mark needs the pointer)
    x = {"pointer_recency": False, "pointer_recency_ties": False}
    w = x | {"pointer_source": False, "keep_whole_words": False, "pointer_space_twins": False}
    plain = transplant(
        bundled, w | {"memory_pointer": False, "pointer_reads_query": False, "pointer_gate": "hidden"}
    ).eval()
    basic = {"pointer_gate": "hidden", "pointer_follows": False, "pointer_follow_context": False}
    models = {
        "plain": plain,
        "pointer": transplant(bundled, w | basic | {"pointer_reads_query": False}).eval(),
        "4r": transplant(
            bundled,
            w | {"pointer_follow_context": False, "pointer_reads_query": False, "pointer_gate": "agreement"},
        ).eval(),
        "4t": transplant(bundled, w | {"pointer_reads_query": False, "pointer_gate": "agreement"}).eval(),
        "4v": transplant(bundled, w | {"pointer_gate": "agreement"}).eval(),
        "4w": transplant(bundled, w).eval(),
        "4x": transplant(bundled, x).eval(),
        "bundled": bundled,
    }
    g = torch.Generator().manual_seed(0)
    query = torch.randint(6, plain.config.vocab_size, (40,), generator=g).tolist()
    memories = {}
    for name, model in models.items():
        stm = model.init_memory(args.batch)
        with torch.inference_mode():  # fill every slot: keep all tokens of 13 turns
            hook = model.memory_attention.salience.register_forward_hook(
                lambda _m, _a, out: torch.ones_like(out)
            )
            for _ in range(13):
                stm = model.update_memory(stm, [query] * args.batch, [query] * args.batch)
            hook.remove()
        memories[name] = stm
    times = {name: [] for name in models}
    for _ in range(2):  # warm-up
        for name, model in models.items():
            turn_times(model, memories[name], query, args.answer)
    for _ in range(args.repeats):
        for name, model in models.items():
            times[name].append(turn_times(model, memories[name], query, args.answer))
    print(
        f"batch {args.batch}, {args.answer} answer tokens, {args.threads} thread(s), median of {args.repeats} (ms)"
    )
    print(f"{'part':<16}" + "".join(f"{name:>10}" for name in models) + "  ratios to plain")
    for part in times["plain"][0]:
        medians = [statistics.median(t[part] for t in times[name]) for name in models]
        ratios = "".join(f"{m / medians[0]:>7.2f}" for m in medians[1:])
        print(f"{part:<16}" + "".join(f"{m:>10.2f}" for m in medians) + ratios)


if __name__ == "__main__":
    main()
