"""Step through one recall turn of an eval set as `rxt eval` generates it (greedy, each earlier turn
answered by the model and written to memory), printing per generated token the copy gate g, the
pointer's mass on followed slots, the pointer's and the head's top tokens with their probability.
Session 27: where 4r's wrong and over-long values come from.

    python docs/results/session27/probe_turn.py MODEL EVAL.jsonl DIALOGUE:TURN ...
"""

import json
import sys
from pathlib import Path

import torch

from rxt_core import ReactiveTransformer
from rxt_core.tokenizer import RxTTokenizer

torch.set_num_threads(1)
model_dir, eval_file, *specs = sys.argv[1:]
model = ReactiveTransformer.from_pretrained(model_dir).eval()
tokenizer = RxTTokenizer.load(f"{model_dir}/tokenizer.json")
dialogues = Path(eval_file).read_text().splitlines()
seen: dict = {}
model.pointer.slots.register_forward_hook(
    lambda _m, args, out: seen.update(copy=out[0], followed=out[1], head=args[1])
)
model.pointer.gate.register_forward_hook(lambda _m, _args, out: seen.update(gate=out))


def last_step() -> str:
    """The latest position's gate, followed mass and top tokens, as one line."""
    copy, head = seen["copy"][0, -1], seen["head"][0, -1].float().softmax(-1)
    return (
        f"gate {float(seen['gate'][0, -1].sigmoid()):.3f} followed {float(seen['followed'][0, -1]):.2f} "
        f"pointer {tokenizer.token_of(int(copy.argmax()))}({float(copy.max()):.2f}) "
        f"head {tokenizer.token_of(int(head.argmax()))}({float(head.max()):.2f})"
    )


for spec in specs:
    index, turn = map(int, spec.split(":"))
    turns = json.loads(dialogues[index])["turns"]
    stm = model.init_memory(1)
    for earlier in turns[:turn]:
        query = tokenizer.encode(earlier["query"])
        stm = model.update_memory(stm, [query], model.generate([query], stm), precision="fp32")
    print(f"{index}:{turn} {turns[turn]['query']!r} (reference {turns[turn]['answer']!r})")
    for token in model.interact(tokenizer.encode(turns[turn]["query"]), stm):
        print(f"  {tokenizer.token_of(token):>12}  {last_step()}")
