"""Session 20: with the keep write, is an asked value still *in* the memory when the question
comes, and does the decoder say it when it is? A slot holds one token, so this is exact: every
slot's token id is tracked through the writes (the same `keep_order` the write uses), and each
recall answer's first value token is checked against the memory it is read from. Teacher-forced,
own memory, the usual eval dialogues.

    .venv/bin/python docs/results/session20/keep_coverage.py MODEL_DIR runs/s20/eval/heldout.jsonl [THREADS]

Prints, per distance band: questions; the share whose first value token is in memory; the
teacher-forced first value token's accuracy when it is and when it is not; and, over all writes,
the tokens kept per turn and the share of stated values' first tokens kept when written.
"""

import sys
from collections import Counter

import torch

from rxt_core import ReactiveTransformer
from rxt_core.keep_write import keep_order
from rxt_core.training.batching import turn_batch
from rxt_core.training.pipeline import load_token_dialogues, load_tokenizer
from rxt_core.training.replay_probe import recalled_positions, stated_positions


def band(distance: int) -> str:
    return "1-2" if distance <= 2 else "3-5" if distance <= 5 else "6-8" if distance <= 8 else "9+"


@torch.inference_mode()
def main(model_dir: str, data: str, threads: str = "1", batch_size: int = 32) -> None:
    torch.set_num_threads(int(threads))
    model = ReactiveTransformer.from_pretrained(model_dir).eval()
    if model.config.memory_write != "keep":
        raise SystemExit(f"{model_dir} does not use the keep write")
    tokenizer = load_tokenizer(f"{model_dir}/tokenizer.json")
    dialogues = load_token_dialogues([data], tokenizer, model.config)
    slots = model.config.stm_slots
    counts: Counter = Counter()
    for start in range(0, len(dialogues), batch_size):
        chunk = dialogues[start : start + batch_size]
        stm = model.init_memory(len(chunk))
        held = torch.full((len(chunk), slots), -1)  # the token id each slot holds (-1: STM_0)
        for s in range(max(len(d) for d in chunk)):
            batch = turn_batch(chunk, s, model.config)
            asked = {
                r: (positions[0][0], d[s].recall.distance)
                for r, d in enumerate(chunk)
                if s < len(d) and (positions := recalled_positions(d[s], tokenizer))
            }
            if asked:
                predicted = model(batch.ids, stm)[0].argmax(-1)
                for r, (first, distance) in asked.items():
                    truth = int(batch.ids[r, first])
                    inside = bool((held[r] == truth).any())
                    right = int(predicted[r, first - 1]) == truth
                    counts[band(distance), "questions"] += 1
                    counts[band(distance), "in memory"] += inside
                    counts[band(distance), f"right, {'in' if inside else 'not in'} memory"] += right
            encoded = model.encode(batch.ids, batch.mask)
            salience = model.memory_attention.salience(encoded[-1])
            order = keep_order(salience, batch.mask, slots, model.config.keep_threshold)
            moved = torch.cat((batch.ids, held), dim=1).gather(1, order)
            kept = (order < batch.ids.shape[1]) & batch.present[:, None]
            counts["kept"] += int(kept.sum())
            counts["writes"] += int(batch.present.sum())
            for r, d in enumerate(chunk):
                for span in stated_positions(d[s], tokenizer) if s < len(d) else []:
                    counts["stated"] += 1
                    counts["stated kept"] += bool((order[r][kept[r]] == span[0]).any())
            positions = torch.arange(batch.ids.shape[1]).expand_as(batch.ids)
            new = model.memory_attention(stm, encoded, positions, batch.mask)
            stm = batch.written(new, stm)
            held = torch.where(batch.present[:, None], moved, held)
    print(
        f"{data}: {counts['kept'] / counts['writes']:.1f} tokens kept per turn; stated values' first "
        f"token kept when written: {counts['stated kept'] / max(1, counts['stated']):.1%} of {counts['stated']}"
    )
    print("distance | questions | first value token in memory | right when in memory | right when not")
    for b in ("1-2", "3-5", "6-8", "9+"):
        n, inside = counts[b, "questions"], counts[b, "in memory"]
        if n:
            print(
                f"{b} | {n} | {inside / n:.1%} | {counts[b, 'right, in memory'] / max(1, inside):.1%} | "
                f"{counts[b, 'right, not in memory'] / max(1, n - inside):.1%}"
            )


if __name__ == "__main__":
    main(*sys.argv[1:])
