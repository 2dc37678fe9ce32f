"""A seeded generator of synthetic English dialogues in which memory matters.

The user states facts about themselves (see `facts.py`), the conversation moves on (`filler.py`),
and later turns ask about facts stated 1..N turns earlier; corrections ("Actually, I moved to
Oslo.") override earlier values and later answers follow the corrected state. Recall turns carry
`Recall(fact, value, distance)` where `distance` counts the turns since the value was last
mentioned (stated, corrected or recalled: each puts it back in memory).

Dialogue `i` of split `s` is drawn from its own `random.Random` seeded by (seed, s, i), so the
first k dialogues are the same whatever `n` is, and no global random state is touched. The
"heldout" split draws every value from the held-out entity pools (`entities.py`); "train" and
"valid" share the training pools but not their random streams.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal, TypeVar

from .dialogue import Dialogue, Fact, Recall, Turn
from .entities import PET_KINDS, RELATIONS, EntityPools, EntitySplit, partition
from .facts import FACT_TYPES, FACTS_BY_NAME, FactType, render
from .filler import FILLERS, echo
from .filler import TEXTS as FILLER_TEXTS
from .novel import check_probability
from .unpooled import unpooled_draw

SynthSplit = Literal["train", "valid", "heldout"]
SPLITS: tuple[SynthSplit, ...] = ("train", "valid", "heldout")
T = TypeVar("T")


@dataclass(frozen=True)
class SynthConfig:
    """Shape of the generated dialogues. The action weights are relative, per turn."""

    min_turns: int = 4
    max_turns: int = 16
    max_distance: int | None = None  # longest recall distance; None: as long as the dialogue allows
    multi_fact_prob: float = 0.25  # a statement turn states 2 or 3 facts at once
    state_weight: float = 3.0
    recall_weight: float = 4.0
    filler_weight: float = 2.5
    correction_weight: float = 0.8
    unknown_weight: float = 0.3  # ask about a fact never stated ("You haven't told me ...")
    final_recall: bool = True  # the last turn asks about an earlier fact whenever one qualifies
    novel_value_prob: float = 0.0  # a stated value is made up (novel.py) instead of drawn from a pool
    novel_phrase_prob: float = 0.0  # a made-up plan/food/drink/job/sport/colour is phrase-shaped
    open_value_prob: float = 0.0  # a closed-slot value is real words of no pool (open_values.py)
    spliced_value_prob: float = 0.0  # a closed-slot value has a word spliced from two (spliced.py)
    spliced_phrase_prob: float = 0.0  # a spliced phrase value is two pool phrases joined instead

    def __post_init__(self) -> None:
        if not 1 <= self.min_turns <= self.max_turns:
            raise ValueError(f"need 1 <= min_turns ({self.min_turns}) <= max_turns ({self.max_turns})")
        if self.max_distance is not None and self.max_distance < 1:
            raise ValueError(f"max_distance must be >= 1, got {self.max_distance}")
        check_probability(self.novel_value_prob)
        check_probability(self.novel_phrase_prob, "novel_phrase_prob")
        check_probability(self.open_value_prob, "open_value_prob")
        check_probability(self.spliced_value_prob, "spliced_value_prob")
        check_probability(self.spliced_phrase_prob, "spliced_phrase_prob")


def generate(split: SynthSplit, n: int, seed: int, config: SynthConfig | None = None) -> Iterator[Dialogue]:
    """Yield `n` dialogues of `split`, deterministically for a given `seed` and config."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    config = config or SynthConfig()
    if split == "heldout" and (
        config.novel_value_prob or config.open_value_prob or config.spliced_value_prob
    ):
        raise ValueError(
            "the held-out split takes held-out pool values only: "
            "novel_value_prob, open_value_prob and spliced_value_prob must be 0"
        )
    pools = split_pools("heldout" if split == "heldout" else "train")
    stream = SPLITS.index(split)
    for i in range(n):
        rng = SynthRandom((seed << 64) | (stream << 48) | i)
        yield generate_dialogue(rng, pools, config)


def generate_echo(
    n: int,
    seed: int,
    novel_value_prob: float = 0.0,
    open_value_prob: float = 0.0,
    spliced_value_prob: float = 0.0,
) -> Iterator[Dialogue]:
    """`n` one-turn dialogues that echo 1-4 training names/values (each made up with probability
    `novel_value_prob`, closed-pool ones open words with `open_value_prob`, spliced with
    `spliced_value_prob`): a copy curriculum for stages 1-2 (in whole dialogues echo turns are a
    few percent; models learned to copy only with more)."""
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    mix = SynthConfig(
        novel_value_prob=novel_value_prob,
        open_value_prob=open_value_prob,
        spliced_value_prob=spliced_value_prob,
    )  # checks the probabilities
    pools = split_pools("train")
    for i in range(n):
        rng = SynthRandom((seed << 64) | (len(SPLITS) << 48) | i)
        query, answer = echo(rng, pools, mix)
        yield Dialogue((Turn(query, answer),))


_OPENERS = ("", "", "", "Hi! ", "Hello. ", "Hey there! ", "Good evening! ")
_ASIDES = ("", "", "", "By the way, ", "Oh, and ", "Also, ", "Something about me: ", "One more thing: ")
_ASK_PREFIXES = ("", "", "", "", "Quick question: ", "Remind me, ", "Hey, ", "Let me test you: ")
_CONTINUING = (", ", ": ")  # prefixes after which a sentence goes on in lower case
_GENERIC_ACKS = ("Thanks for telling me!", "Good to know.", "Got it, I'll remember that.", "Noted!")


def split_pools(split: EntitySplit) -> EntityPools:
    """The entity pools of a split, kept clear of every fixed text the generator writes."""
    return _partition()[split]


@cache
def _partition() -> dict[EntitySplit, EntityPools]:
    fact_texts = (
        t
        for f in FACT_TYPES
        for texts in (
            f.sentences,
            f.clauses,
            f.acks,
            f.questions,
            f.answers,
            f.corrections,
            f.correction_acks,
        )
        for t in (*texts, *f.unknown, *f.keys)
    )
    fixed = (_OPENERS, _ASIDES, _ASK_PREFIXES, _GENERIC_ACKS, FILLER_TEXTS, PET_KINDS, RELATIONS)
    return partition(itertools.chain(fact_texts, *fixed))


def generate_dialogue(rng: random.Random, pools: EntityPools, config: SynthConfig) -> Dialogue:
    return _Conversation(rng, pools, config).run()


class SynthRandom(random.Random):
    """`random.Random` whose `choice`/`randint` skip rejection sampling (3x faster; the bias
    is below 1e-15). Generation draws a hundred of them per dialogue."""

    def choice(self, seq: Sequence[T]) -> T:
        return seq[int(self.random() * len(seq))]

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))


@dataclass(slots=True)
class _Known:
    value: str
    key: str
    last: int  # the turn that last mentioned the value


class _Conversation:
    """Plans and writes one dialogue turn by turn, keeping the state the answers follow."""

    def __init__(self, rng: random.Random, pools: EntityPools, config: SynthConfig) -> None:
        self.rng, self.pools, self.config = rng, pools, config
        self.known: dict[str, _Known] = {}
        self.unstated: list[FactType] = list(FACT_TYPES)
        self.used: set[str] = set()

    def run(self) -> Dialogue:
        n_turns = self.rng.randint(self.config.min_turns, self.config.max_turns)
        return Dialogue(tuple(self._turn(t, last=t == n_turns - 1) for t in range(n_turns)))

    def _turn(self, t: int, last: bool) -> Turn:
        if t == 0:
            return self._state(t)
        c, rng = self.config, self.rng
        target = self._recall_target(t, last)
        if last and target and c.final_recall:
            return self._recall(t, target)
        w_state = c.state_weight if self.unstated else 0.0
        w_recall = c.recall_weight if target else 0.0
        w_correct = c.correction_weight if self.known else 0.0
        roll = rng.random() * (w_state + w_recall + w_correct + c.filler_weight + c.unknown_weight)
        if roll < w_state:
            return self._state(t)
        if (roll := roll - w_state) < w_recall:
            return self._recall(t, target)
        if (roll := roll - w_recall) < w_correct:
            return self._correct(t, rng.choice(list(self.known)))
        if roll - w_correct < c.unknown_weight and (unknown := [f for f in self.unstated if f.unknown]):
            return self._unknown(rng.choice(unknown))
        return self._filler()

    # -- statements and corrections -------------------------------------------------------

    def _state(self, t: int) -> Turn:
        rng = self.rng
        k = 1 if rng.random() >= self.config.multi_fact_prob else rng.choice((2, 2, 3))
        facts = rng.sample(self.unstated, min(k, len(self.unstated)))
        values = [self._new_value(f) for f in facts]
        keys = [rng.choice(f.keys) for f in facts]
        for f, v, key in zip(facts, values, keys, strict=True):
            self.known[f.name] = _Known(v, key, t)
            self.unstated.remove(f)
        prefix = rng.choice(_OPENERS if t == 0 else _ASIDES)
        if len(facts) == 1:
            query = _with_prefix(prefix, rng.choice(facts[0].sentences), values[0], keys[0])
            answer = _fill(rng.choice(facts[0].acks), values[0], keys[0])
            if rng.random() < 0.2:
                answer = rng.choice(_GENERIC_ACKS)
        else:
            clauses = [
                render(rng.choice(f.clauses), v, key) for f, v, key in zip(facts, values, keys, strict=True)
            ]
            text = ", ".join(clauses[:-1]) + " and " + clauses[-1] + "."
            query = _capitalize(prefix + (text if prefix.endswith(_CONTINUING) else _capitalize(text)))
            if rng.random() < 0.5:
                answer = rng.choice(_GENERIC_ACKS)
            else:
                answer = " ".join(
                    _fill(rng.choice(f.acks), v, key) for f, v, key in zip(facts, values, keys, strict=True)
                )
        return Turn(query, answer, stated=tuple(Fact(f.name, v) for f, v in zip(facts, values, strict=True)))

    def _correct(self, t: int, name: str) -> Turn:
        rng = self.rng
        fact, known = FACTS_BY_NAME[name], self.known[name]
        old, value = known.value, self._new_value(fact)
        query = _fill(rng.choice(fact.corrections), value, known.key, old)
        answer = _fill(rng.choice(fact.correction_acks), value, known.key)
        self.known[name] = _Known(value, known.key, t)
        return Turn(query, answer, stated=(Fact(name, value),))

    def _new_value(self, fact: FactType) -> str:
        """A value not used yet in this dialogue, so every question has one right answer.

        Small held-out pools can run out after many corrections; then any value but the
        fact's current one will do. With `spliced_value_prob` the value may have a spliced word,
        with `open_value_prob` be real words of no pool, with `novel_value_prob` made up.
        """
        draw = unpooled_draw(self.rng, fact.pool, self.pools, self.config)
        if draw is not None:
            while (value := draw()) in self.used:
                pass
            self.used.add(value)
            return value
        pool = self.pools[fact.pool]
        for _ in range(8):
            value = self.rng.choice(pool)
            if value not in self.used:
                break
        else:
            fresh = [v for v in pool if v not in self.used]
            if not fresh:
                current = self.known[fact.name].value if fact.name in self.known else None
                fresh = [v for v in pool if v != current]
            value = self.rng.choice(fresh)
        self.used.add(value)
        return value

    # -- questions ---------------------------------------------------------------------

    def _recall_target(self, t: int, last: bool) -> str | None:
        """The fact a recall at turn t would ask about, or None.

        A distance d is drawn uniformly from 1..t (capped by max_distance) and the question
        goes to a fact last mentioned at least d turns ago (weighted by its distance). Asking
        only about facts that old lets the others age, so long distances are not exponentially
        rare. The final turn falls back to the oldest fact in range when none is that old.
        """
        limit = min(t, self.config.max_distance or t)
        want = self.rng.randint(1, limit)
        in_range = [(t - k.last, name) for name, k in self.known.items() if t - k.last <= limit]
        old_enough = [(d, name) for d, name in in_range if d >= want]
        if old_enough:
            roll = self.rng.random() * sum(d for d, _ in old_enough)
            for d, name in old_enough:
                if (roll := roll - d) < 0:
                    return name
            return old_enough[-1][1]
        return max(in_range)[1] if last and in_range else None

    def _recall(self, t: int, name: str) -> Turn:
        rng = self.rng
        fact, known = FACTS_BY_NAME[name], self.known[name]
        query = _with_prefix(rng.choice(_ASK_PREFIXES), rng.choice(fact.questions), known.value, known.key)
        answer = _fill(rng.choice(fact.answers), known.value, known.key)
        distance, known.last = t - known.last, t
        return Turn(query, answer, recall=Recall(name, known.value, distance))

    def _unknown(self, fact: FactType) -> Turn:
        rng = self.rng
        key = rng.choice(fact.keys)
        query = _with_prefix(rng.choice(_ASK_PREFIXES), rng.choice(fact.questions), "", key)
        return Turn(query, _fill(rng.choice(fact.unknown), "", key))

    def _filler(self) -> Turn:
        make = _FILLER_FNS[bisect.bisect(_FILLER_CUM, self.rng.random() * _FILLER_CUM[-1])]
        return Turn(*make(self.rng, self.pools))


_FILLER_FNS = [f for f, _ in FILLERS]
_FILLER_CUM = list(itertools.accumulate(w for _, w in FILLERS))


def _fill(template: str, value: str, key: str, old: str = "") -> str:
    return _capitalize(render(template, value, key, old))


def _with_prefix(prefix: str, template: str, value: str, key: str) -> str:
    """`prefix + sentence`; after "By the way, " the sentence's first word is lower-cased
    unless it is "I" or the value itself."""
    if prefix.endswith(_CONTINUING) and not template.startswith(("I ", "I'", "{")):
        template = template[0].lower() + template[1:]
    return _capitalize(prefix + render(template, value, key))


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]
