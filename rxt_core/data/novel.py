"""Made-up values of many shapes that stand in for pool values in training dialogues.

Why: when every value comes from fixed pools, a small model learns the *shape* of the values
instead of copying them. The session-4 model copied names from the syllable generator (seen or
not) but rewrote real names and unseen cities into familiar-looking ones, so it could not recall
what it never wrote down (docs/training.md). Values of no pool (random letters, syllables from
the whole alphabet, another pool's values, two-word values) leave copying as the only way to be
right. The made-up words are never a held-out value or a word of the fixed texts (`reserved`), so
the held-out split stays unseen and "the answer contains the value" stays a fair check.
"""

from __future__ import annotations

import random

from .entities import EntityPools, words

CAPITALISED_POOLS = ("name", "pet_name", "city", "language")
NUMBER_POOLS = ("age", "number")
# Every pool but birthdays (month names and days, all seen in training in every combination).
NOVEL_POOLS = frozenset((*CAPITALISED_POOLS, *NUMBER_POOLS, "job", "food", "colour", "drink", "sport", "plan"))
_CROSS_POOLS = ("name", "pet_name", "city", "language", "job", "food", "colour", "drink", "sport")

_PLAN_VERBS = ("learn", "visit", "try", "build", "study", "make", "see")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_CONSONANTS = "bcdfghjklmnpqrstvwxz"
_VOWELS = "aeiouy"


def check_probability(novel_value_prob: float) -> None:
    if not 0.0 <= novel_value_prob <= 1.0:
        raise ValueError(f"novel_value_prob must be in [0, 1], got {novel_value_prob}")


def novel_value(rng: random.Random, pool: str, pools: EntityPools) -> str:
    """A value for `pool` in no pool's shape, cased like the pool's values. Numbers are
    100-9999 (the pools hold 2-99), plans a verb and a made-up object ("visit qorvexi")."""
    if pool not in NOVEL_POOLS:
        raise ValueError(f"pool {pool!r} takes no made-up values (only {sorted(NOVEL_POOLS)})")
    if pool in NUMBER_POOLS:
        return str(rng.randint(100, 9999))
    if pool == "plan":
        return f"{rng.choice(_PLAN_VERBS)} {novel_value(rng, 'food', pools)}"
    while True:
        roll = rng.random()
        if roll < 0.35:
            value = _letters(rng)
        elif roll < 0.7:
            value = _syllables(rng)
        elif roll < 0.85:
            value = rng.choice(pools[rng.choice(_CROSS_POOLS)])
        else:
            value = f"{_syllables(rng)} {_letters(rng)}"
        value = " ".join(w.capitalize() if pool in CAPITALISED_POOLS else w.lower() for w in value.split())
        if _allowed(value, pools.reserved):
            return value


def _letters(rng: random.Random) -> str:
    return "".join(rng.choice(_LETTERS) for _ in range(rng.randint(3, 9)))


def _syllables(rng: random.Random) -> str:
    out = []
    for _ in range(rng.randint(1, 4)):
        onset = rng.choice(_CONSONANTS) + (rng.choice("lrh") if rng.random() < 0.2 else "")
        coda = rng.choice(_CONSONANTS) if rng.random() < 0.3 else ""
        out.append(onset + rng.choice(_VOWELS) + coda)
    return "".join(out)


def _allowed(value: str, reserved: frozenset[str]) -> bool:
    key = words(value)
    return len(value) >= 3 and " ".join(key) not in reserved and not any(w in reserved for w in key)
