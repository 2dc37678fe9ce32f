"""The README's example, varied: "... I have a cat called Biscuit." (or "my sister is called ...")
then "What is my cat called?", for 10 kinds x 5 names, greedy. Does the answer keep the kind the
query names, and recall the name? Session 28: 4v says "Your dog's name is Biscuit." where 4t said
"cat" (the head prefers "dog"; 4u's gate no longer lets the pointer copy "cat" from the query).

    python docs/results/session28/probe_kinds.py MODEL
"""

import sys

import torch

from rxt_core import ReactiveTransformer
from rxt_core.tokenizer import RxTTokenizer

PETS = ("cat", "dog", "parrot", "hamster", "rabbit")
KINDS = (*PETS, "sister", "boss", "neighbour", "cousin", "brother")
NAMES = ("Biscuit", "Ada", "Tralon", "Miso", "Kovis")

torch.set_num_threads(1)
model_dir = sys.argv[1]
model = ReactiveTransformer.from_pretrained(model_dir).eval()
tok = RxTTokenizer.load(f"{model_dir}/tokenizer.json")
kept = recalled = 0
for kind in KINDS:
    for name in NAMES:
        told = f"I have a {kind} called {name}." if kind in PETS else f"my {kind} is called {name}."
        stm = model.init_memory(1)
        for query in (f"Hi, my name is Sam and {told}", f"What is my {kind} called?"):
            ids = tok.encode(query)
            answer = model.generate([ids], stm)[0]
            stm = model.update_memory(stm, ids, answer)
        text = tok.decode(answer)
        kept += kind in text.lower()
        recalled += name in text
        if kind not in text.lower() or name not in text:
            print(f"  {kind} {name}: {text}")
total = len(KINDS) * len(NAMES)
print(f"{model_dir}: the asked kind kept {kept}/{total}, the name recalled {recalled}/{total}")
