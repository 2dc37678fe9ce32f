"""`rxt eval` with the decoder's memory cross-attention sharpened by S: the memory keys are scaled
by S, so every read's attention logits are (session 18: does a blurred read explain recall that
fails with distance? It does not: 28.1% -> 28.7% at S = 1.5).

    .venv/bin/python docs/results/session18/eval_sharpened_reads.py 1.5 --model models/rxt-nano \\
        --data runs/s18/eval/heldout.jsonl --threads 2 --out runs/s18/sharp_1.5.json
"""

import sys

from rxt_cli.main import main
from rxt_core import blocks

SHARPNESS = float(sys.argv[1])
project_memory = blocks.DecoderBlock.project_memory


def sharpened(self, memory):
    k, v = project_memory(self, memory)
    return k * SHARPNESS, v


blocks.DecoderBlock.project_memory = sharpened
sys.exit(main(["eval", *sys.argv[2:]]))
