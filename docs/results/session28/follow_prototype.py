"""Prototype (session 28, not in rxt_core): the follow bonus goes to the successor of the slot that
the pointer's attention without the bonus (head logit + match) at the previous position most
likely copied the token read from, not to the successor of every slot holding that token ("ĠK"
of Kaidis and of Kiarel both precede a slot). soft: weighted by that attention; hard: its
argmax only. The previous position's attention is carried between decode steps in the module,
which is right for `generate`'s fixed batch only. Runs held.py with the patch, untrained:

    python docs/results/session28/follow_prototype.py soft|hard MODEL EVAL.jsonl
"""

import math
import runpy
import sys
from pathlib import Path

import torch
from torch.nn import functional as F

from rxt_core import memory_pointer as mp

MODE = sys.argv[1]


def forward(self, hidden, logits, memory, tokens):
    keys, ids = memory
    T = hidden.shape[1]
    sid = ids[:, None, :].expand(-1, T, -1)
    match = self.query(hidden) @ keys.transpose(-1, -2) / math.sqrt(keys.shape[-1])
    empty = (ids == self.pad_id)[:, None, :]
    base = (logits.gather(-1, sid).float() + match.float()).masked_fill(empty, float("-inf"))
    base_a = torch.softmax(base, -1).nan_to_num(0.0)
    prev0 = getattr(self, "_prev", None)
    if prev0 is None or prev0.shape[0] != hidden.shape[0] or prev0.shape[-1] != ids.shape[-1]:
        prev0 = torch.zeros_like(base_a[:, :1])
    prev = torch.cat([prev0, base_a[:, :-1]], 1)  # the attention that predicted each token read
    self._prev = base_a[:, -1:].detach()
    holds = ids[:, None, :] == tokens[..., None]
    r = prev * holds
    total = r.sum(-1, keepdim=True)
    if MODE == "hard":
        r = F.one_hot(r.argmax(-1), r.shape[-1]).float() * (total > 0)
    else:
        r = r / total.clamp_min(1e-12)
    r = torch.where(total > 0, r, holds.float())  # nothing copied: every holder, as before
    scores = base
    follows = None
    if self.follow is not None:
        follows = F.pad(r[..., :-1], (1, 0)) * (tokens != self.pad_id)[..., None]
        strength = self.follow.float()
        if self.follow_context is not None:
            strength = strength + (hidden.float() @ self.follow_context.float())[..., None]
        scores = scores + mp.FOLLOW_SCALE * strength * follows
    attention = torch.softmax(scores, -1).nan_to_num(0.0)
    followed = (
        attention.new_zeros(attention.shape[:2]) if follows is None else (attention * (follows > 0)).sum(-1)
    )
    copy = attention.new_zeros((*attention.shape[:2], self.vocab_size))
    return copy.scatter_add_(-1, sid, attention), followed


mp.SlotPointer.forward = forward
from rxt_core import ReactiveTransformer  # noqa: E402

generate = ReactiveTransformer.generate


def fresh_generate(self, *args, **kwargs):
    self.pointer.slots._prev = None
    return generate(self, *args, **kwargs)


ReactiveTransformer.generate = fresh_generate
sys.argv = [str(Path(__file__).with_name("held.py")), *sys.argv[2:]]
runpy.run_path(sys.argv[0], run_name="__main__")
