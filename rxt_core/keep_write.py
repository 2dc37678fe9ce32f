"""Token-keeping memory write (`RxTConfig.memory_write = "keep"`): one interaction token per slot,
newest first, the oldest falling off the end.

Why: session 19 measured that the slot write's slots are mixtures. The tokens of a value the model
is later asked for hold ~8% of their best slot, and a read trained to land on that slot still does
not decode an unseen value. Here a slot never mixes. A salience head scores every token of the
interaction from the encoder's last layer; the tokens scoring above zero move, in their order, to
the front of every STM layer (each layer storing its own value projection of that layer's encoder
state), and the other slots shift back by as many places:

    kept  = tokens t with salience(ED_L[t]) > τ               (the same tokens for every layer)
    STM_l' = first S of  [V_l(ED_l[t]) for t in kept]  ++  STM_l

τ is `RxTConfig.keep_threshold` (default 0). With `RxTConfig.keep_whole_words` (session 30) a
kept piece keeps every piece of its word (word_pieces.py: "Chovel" had been kept as "ho vel").
A turn that keeps nothing leaves the memory exactly as it was. Which tokens are worth a slot is
learned from the dialogues themselves: stage 4's `keep_weight` trains the salience head to predict which tokens a later answer repeats
(keep_targets.py), labels found by token id alone. Slot order is age, but the decoder's read does
not see it (memory keys carry no position), so an old and a corrected value look alike to it.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import RxTConfig
from .norm import RMSNorm
from .word_pieces import whole_words


class Salience(nn.Module):
    """Per token, the logit of "worth a slot" [B, T] (fp32). A module of its own so stage 4 can
    record its output with a hook and train it."""

    def __init__(self, config: RxTConfig):
        super().__init__()
        self.norm = RMSNorm(config.dim, config.norm_eps)
        self.score = nn.Linear(config.dim, 1)

    def forward(self, encoded: torch.Tensor) -> torch.Tensor:
        return self.score(self.norm(encoded)).squeeze(-1).float()


def kept_tokens(salience: torch.Tensor, mask: torch.Tensor, threshold: float = 0.0) -> torch.Tensor:
    """[B, T]: the real tokens whose salience logit exceeds `threshold` (RxTConfig.keep_threshold)."""
    return (salience > threshold) & mask


def keep_order(
    salience: torch.Tensor,
    mask: torch.Tensor,
    slots: int,
    threshold: float = 0.0,
    continues: torch.Tensor | None = None,
) -> torch.Tensor:
    """[B, S] indices into cat(new tokens [T], old slots [S]) along the slot axis: the kept tokens
    in position order, then the old slots in theirs, cut to S (more than S kept: the first S).
    `continues` [B, T] (`RxTConfig.keep_whole_words`): also keep every piece of a kept word."""
    batch, length = salience.shape
    positions = torch.arange(length, device=salience.device).expand(batch, -1)
    kept = kept_tokens(salience, mask, threshold)
    if continues is not None:
        kept = whole_words(kept, continues) & mask
    new_keys = torch.where(kept, positions, positions + length + slots)  # dropped: after everything
    old_keys = torch.arange(length, length + slots, device=salience.device).expand(batch, -1)
    return torch.cat((new_keys, old_keys), dim=1).argsort(dim=1)[:, :slots]


def keep(new: torch.Tensor, old: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """[B, S, D]: the rows of cat(new [B, T, D], old [B, S, D]) that `order` [B, S] picks."""
    candidates = torch.cat((new.to(old.dtype), old), dim=1)
    return candidates.gather(1, order[..., None].expand(-1, -1, old.shape[-1]))


class KeepWrite(nn.Module):
    """One STM layer's write: its value projection of the kept tokens, in front of the old slots."""

    def __init__(self, config: RxTConfig):
        super().__init__()
        self.encoded_norm = RMSNorm(config.dim, config.norm_eps)
        self.value = nn.Linear(config.dim, config.dim, bias=False)

    def forward(self, stm: torch.Tensor, encoded: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
        """stm [B, S, D]; encoded [B, T, D]; order [B, S] from `keep_order`."""
        return keep(self.value(self.encoded_norm(encoded)), stm, order)
