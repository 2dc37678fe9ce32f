"""Stage 4's `ack_noise` (session 30): the memory is written with some of each answer's copies of
its own query's tokens replaced by random tokens; the decoder's targets keep the reference.

Why: teacher-forced stage 4 writes the reference answers to memory, and a reference
acknowledgement always repeats the user's value right. At inference the model writes its own,
and on values it never saw it misspells them ("learn to play the drums" -> "learn to play the
kayums"); a later recall then copies the misspelt acknowledgement rather than the user's statement
beside it in memory (session 29). Nothing in reference-written memory tells the two copies apart,
so the pointer's bonus for the user's slots (`RxTConfig.pointer_source`) has nothing to learn from.
Measured (session 30, the bonus trained alone from 0, 200 steps): 0.33 without noise, 0.91 at
p = 0.2, 1.07 at p = 0.5, where held-out recall wanted ~10. Random tokens are the wrong noise: the
slot score starts from the head's logit of the slot's token, which already rates a random token far
below the user's; the model's own misspellings are tokens its head likes. An option, not in the
bundled recipe.
"""

from __future__ import annotations

import torch

from .batching import TokenBatch
from .copy_targets import copied_tokens


def noisy_acknowledgements(
    batch: TokenBatch, config, rate: float, generator: torch.Generator
) -> torch.Tensor:
    """[B, T]: `batch.ids` with each answer token whose id also occurs in its own query replaced,
    with probability `rate`, by a random ordinary token (not a special one)."""
    copied = copied_tokens(batch.ids, batch.mask, config)
    shape = tuple(batch.ids.shape)
    hit = torch.rand(shape, generator=generator) < rate
    random = torch.randint(config.mask_id + 1, config.vocab_size, shape, generator=generator)
    noisy = copied & hit.to(copied.device)
    return torch.where(noisy, random.to(batch.ids.device), batch.ids)
