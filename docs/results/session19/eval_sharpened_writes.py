"""`rxt eval` with the slot write's allocation sharpened by S: every token's attention logits over
the slots and null slots are multiplied by S, so each token hands its unit of attention to fewer
slots and a slot holds fewer tokens (session 19: the source of a recalled token holds ~8% of its
best slot — is a purer slot easier to read? No training: the decoder reads writes of a new kind).

    .venv/bin/python docs/results/session19/eval_sharpened_writes.py 2 --model models/rxt-nano \\
        --data runs/s19/eval/heldout.jsonl --threads 2 --out runs/s19/sharp_write_2.json
"""

import sys

from rxt_cli.main import main
from rxt_core.slot_write import SlotWrite

SHARPNESS = float(sys.argv[1])
init = SlotWrite.__init__


def sharpened(self, *args, **kwargs):
    init(self, *args, **kwargs)
    self.scale *= SHARPNESS


SlotWrite.__init__ = sharpened
sys.exit(main(["eval", *sys.argv[2:]]))
