"""Closed-slot values with one word spliced: the head of a familiar word, the tail of another.

Why: models trained so far repeat the *first* piece of an unseen colour, food, city or language
stated in their own query and then finish it the way a word they know goes on ("Rotterdam" ->
"Romegranate", "Palermo" -> "Prism", "matcha" -> "mapmaker"; session 13's eval samples). A
made-up string (`novel.py`) gives the language model no such prior to fight; a pool value whose
word turns into another word half-way ("Rottergreb", "apple julantern") does: after the familiar
head only copying the tail from the query is right. Neither the value nor its spliced word is a held-out
value or a word of the fixed texts (`reserved`), so the held-out split stays unseen.

Phrases get the same at the word level (`phrase_prob`): the first words of one pool phrase, the
last words of another ("learn to" + "a marathon"). Held-out plans are whole phrases, and a greedy
answer rewrote them after a familiar first word ("write a novel" -> "wrcome my own cheese",
session 14), which a one-word splice inside a phrase does not teach against.
"""

from __future__ import annotations

import random
from functools import cache

from .entities import EntityPools, words
from .novel import CAPITALISED_POOLS
from .open_values import OPEN_POOLS, OPEN_WORDS

_MIN_WORD = 4  # shorter words leave no head and tail worth splicing
_MIN_PHRASES = 8  # fewer phrases in a pool (sport: 2, language: 0): splice a word instead


def spliced_value(rng: random.Random, pool: str, pools: EntityPools, phrase_prob: float = 0.0) -> str:
    """A training value of `pool` with one of its words (of >= 4 letters) cut after 2 or more
    letters and finished with the tail of another pool value's or open word's word; with
    `phrase_prob`, where the pool has phrases, two of its phrases joined at a word boundary."""
    if pool not in OPEN_POOLS:
        raise ValueError(f"pool {pool!r} takes no spliced values (only {sorted(OPEN_POOLS)})")
    if phrase_prob and rng.random() < phrase_prob:
        phrase = _spliced_phrase(rng, pool, pools)
        if phrase is not None:
            return phrase
    donors = _donors(pools[pool])
    while True:
        parts = rng.choice(pools[pool]).split()
        at = rng.choice([i for i, w in enumerate(parts) if len(w) >= _MIN_WORD] or [len(parts) - 1])
        head, tail = parts[at], rng.choice(donors)
        if len(head) < 3 or tail == head.lower():
            continue
        word = head[: rng.randint(2, len(head) - 1)] + tail[rng.randint(1, len(tail) - 2) :]
        if word.lower() == head.lower():
            continue
        parts[at] = word.capitalize() if pool in CAPITALISED_POOLS else word
        value = " ".join(parts)
        if " ".join(words(value)) not in pools.reserved and not any(w in pools.reserved for w in words(word)):
            return value


def _spliced_phrase(rng: random.Random, pool: str, pools: EntityPools, tries: int = 20) -> str | None:
    """One pool phrase's first word(s) and another's last word(s): not a value of the pool, nor a
    held-out or template text; None where the pool has too few phrases to join
    (`_MIN_PHRASES`: two give two joins, which a dialogue's corrections use up)."""
    phrases = _phrases(pools[pool])
    if len(phrases) < _MIN_PHRASES:
        return None
    for _ in range(tries):
        head, tail = rng.sample(phrases, 2)
        value = " ".join(head[: rng.randint(1, len(head) - 1)] + tail[rng.randint(1, len(tail) - 1) :])
        if value not in pools[pool] and " ".join(words(value)) not in pools.reserved:
            return value
    return None


@cache
def _phrases(values: tuple[str, ...]) -> tuple[list[str], ...]:
    """The pool's values of two or more words, split (built once per pool, like the donors)."""
    return tuple(v.split() for v in values if " " in v)


@cache
def _donors(values: tuple[str, ...]) -> tuple[str, ...]:
    """The words a tail may come from: the pool's own and the open words, of >= 4 letters
    (built once per pool, not per value)."""
    own = (w for v in values for w in v.lower().split())
    return tuple(w for w in (*own, *OPEN_WORDS) if len(w) >= _MIN_WORD)
