"""Made-up values of many shapes that stand in for pool values in training dialogues.

Why: when every value comes from fixed pools, a small model learns the *shape* of the values
instead of copying them. The session-4 model copied names from the syllable generator (seen or
not) but rewrote real names and unseen cities into familiar-looking ones, so it could not recall
what it never wrote down (docs/training.md). Values of no pool (random letters, syllables from
the whole alphabet, another pool's values, two-word values) leave copying as the only way to be
right. The made-up words are never a held-out value or a word of the fixed texts (`reserved`), so
the held-out split stays unseen and "the answer contains the value" stays a fair check.

Phrase-shaped values (`phrase_prob`): held-out plans, foods, drinks and jobs are real phrases
("move to the countryside", "apple juice") that the session-7 model rewrote into training values
(it copied 0% of held-out plans and 11% of drinks in the very turn that stated them). A phrase
value mixes made-up words into the shape of real ones, so the ordinary words around them must be
copied too: "restore the old vorblin by the lake" (plans), "zintu juice" (a made-up word beside a
word of the pool's own values).
"""

from __future__ import annotations

import random

from .entities import EntityPools, words

CAPITALISED_POOLS = ("name", "pet_name", "city", "language")
NUMBER_POOLS = ("age", "number")
# Every pool but birthdays (month names and days, all seen in training in every combination).
NOVEL_POOLS = frozenset(
    (*CAPITALISED_POOLS, *NUMBER_POOLS, "job", "food", "colour", "drink", "sport", "plan")
)
_CROSS_POOLS = ("name", "pet_name", "city", "language", "job", "food", "colour", "drink", "sport")

_PLAN_VERBS = ("learn", "visit", "try", "build", "study", "make", "see")
PHRASE_POOLS = frozenset(("plan", "food", "drink", "job", "sport", "colour"))
_PHRASE_VERBS = (
    *_PLAN_VERBS, "paint", "write", "start", "open", "adopt", "bake", "join", "buy", "sell", "fix", "grow",
    "record", "climb", "cross", "find", "draw", "carve", "sew", "restore", "teach", "host", "plant", "cook",
    "go", "take", "run", "swim", "watch", "collect",
)  # fmt: skip
_DETERMINERS = ("a", "the", "my", "some", "two", "an old", "a small", "a big", "the new")
_PLACES = ("by the", "in the", "at the", "near the", "across the", "with my", "for my", "on the")
_CITY_PLACES = ("in", "near", "to", "around")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_CONSONANTS = "bcdfghjklmnpqrstvwxz"
_VOWELS = "aeiouy"


def check_probability(probability: float, name: str = "novel_value_prob") -> None:
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {probability}")


def novel_value(rng: random.Random, pool: str, pools: EntityPools, phrase_prob: float = 0.0) -> str:
    """A value for `pool` in no pool's shape, cased like the pool's values. Numbers are
    100-9999 (the pools hold 2-99), plans a verb and a made-up object ("visit qorvexi"). With
    `phrase_prob`, values of PHRASE_POOLS take a phrase shape (`novel_phrase`) that often."""
    if pool not in NOVEL_POOLS:
        raise ValueError(f"pool {pool!r} takes no made-up values (only {sorted(NOVEL_POOLS)})")
    if phrase_prob > 0 and pool in PHRASE_POOLS and rng.random() < phrase_prob:  # no draw when off
        return novel_phrase(rng, pool, pools)
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


def novel_phrase(rng: random.Random, pool: str, pools: EntityPools) -> str:
    """A phrase with at least one made-up word, lower-case but for city names: plans "verb
    [determiner] object [place]" ("try two quorbel", "carve the drindle near Lisbon"), other pools
    a made-up word before or after a word of the pool's own values ("zintu juice", "tea vorp")."""
    if pool not in PHRASE_POOLS:
        raise ValueError(f"pool {pool!r} takes no phrase values (only {sorted(PHRASE_POOLS)})")
    while True:
        made_up = _made_up_word(rng, pools.reserved)
        if pool == "plan":
            parts = [rng.choice(_PHRASE_VERBS)]
            if rng.random() < 0.8:
                parts.append(rng.choice(_DETERMINERS))
            parts.append(made_up)
            if rng.random() < 0.2:
                parts += [rng.choice(_PLACES), _made_up_word(rng, pools.reserved)]
            elif rng.random() < 0.25:
                parts += [rng.choice(_CITY_PLACES), rng.choice(pools["city"])]
        else:
            known = rng.choice(rng.choice(pools[pool]).split()).lower()
            parts = [made_up, known] if rng.random() < 0.5 else [known, made_up]
        value = " ".join(parts)
        if " ".join(words(value)) not in pools.reserved:
            return value


def _made_up_word(rng: random.Random, reserved: frozenset[str]) -> str:
    while True:
        word = _letters(rng) if rng.random() < 0.4 else _syllables(rng)
        if _allowed(word, reserved):
            return word


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
