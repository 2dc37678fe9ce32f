"""Which kind of value a stated slot gets: a pool value, or spliced, open or made-up words.

One choice for the dialogues' facts and the echo rows alike. The kinds are tried in a fixed
order — spliced, open (closed pools only), made up — and each rolls the random generator only
when its probability is on, so data written without a kind is byte for byte what it was before
the kind existed.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .entities import EntityPools
from .novel import NOVEL_POOLS, novel_value
from .open_values import OPEN_POOLS, open_value
from .spliced import spliced_value


class ValueMix(Protocol):
    """The probabilities of the unpooled kinds (`SynthConfig` has them)."""

    novel_value_prob: float
    novel_phrase_prob: float
    open_value_prob: float
    spliced_value_prob: float
    spliced_phrase_prob: float


@dataclass(frozen=True)
class _PoolValuesOnly:
    novel_value_prob: float = 0.0
    novel_phrase_prob: float = 0.0
    open_value_prob: float = 0.0
    spliced_value_prob: float = 0.0
    spliced_phrase_prob: float = 0.0


POOL_VALUES_ONLY: ValueMix = _PoolValuesOnly()


def unpooled_draw(
    rng: random.Random, pool: str, pools: EntityPools, mix: ValueMix
) -> Callable[[], str] | None:
    """A draw of a value of no pool for a slot of `pool`, or None when it takes a pool value."""
    if mix.spliced_value_prob and pool in OPEN_POOLS and rng.random() < mix.spliced_value_prob:
        return lambda: spliced_value(rng, pool, pools, mix.spliced_phrase_prob)
    if mix.open_value_prob and pool in OPEN_POOLS and rng.random() < mix.open_value_prob:
        return lambda: open_value(rng, pool, pools)
    if mix.novel_value_prob and pool in NOVEL_POOLS and rng.random() < mix.novel_value_prob:
        return lambda: novel_value(rng, pool, pools, mix.novel_phrase_prob)
    return None
