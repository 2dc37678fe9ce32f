"""Turns that move the conversation on: answerable from the current query alone.

They sit between a fact and the question about it, so the model must keep the fact in memory
across unrelated interactions. Stories name characters from the split's own name pool, which
also teaches the model that not every name in the dialogue is about the user.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from .entities import PET_KINDS, EntityPools
from .unpooled import POOL_VALUES_ONLY, ValueMix, unpooled_draw

Filler = Callable[[random.Random, EntityPools], tuple[str, str]]


_ARITHMETIC_QUERIES = (
    "What is {a} {op} {b}?",
    "What's {a} {sign} {b}?",
    "Quick maths: {a} {op} {b}?",
    "Can you work out {a} {op} {b}?",
    "How much is {a} {op} {b}?",
)
_ARITHMETIC_ANSWERS = ("{a} {op} {b} is {r}.", "That's {r}.", "The answer is {r}.")


def arithmetic(rng: random.Random, pools: EntityPools) -> tuple[str, str]:
    kind = rng.randint(0, 2)
    if kind == 2:
        a, b = rng.randint(2, 12), rng.randint(2, 12)
        op, sign, r = "times", "*", a * b
    else:
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        if kind == 1 and b > a:
            a, b = b, a
        op, sign, r = ("plus", "+", a + b) if kind == 0 else ("minus", "-", a - b)
    slots = {"a": a, "b": b, "op": op, "sign": sign, "r": r}
    return rng.choice(_ARITHMETIC_QUERIES).format(**slots), rng.choice(_ARITHMETIC_ANSWERS).format(**slots)


_COMPARISONS = (
    ("Which is bigger, {a} or {b}?", "{hi} is bigger."),
    ("Which is smaller, {a} or {b}?", "{lo} is smaller."),
    ("Which number is larger: {a} or {b}?", "{hi} is larger."),
)


def comparison(rng: random.Random, pools: EntityPools) -> tuple[str, str]:
    a, b = rng.sample(range(1, 1000), 2)
    query, answer = rng.choice(_COMPARISONS)
    return query.format(a=a, b=b), answer.format(hi=max(a, b), lo=min(a, b))


_PARITY_QUERIES = ("Is {n} even or odd?", "Is {n} an even number?", "Tell me if {n} is odd or even.")
_PARITY_ANSWERS = ("{n} is {kind}.", "It's {kind}.")


def parity(rng: random.Random, pools: EntityPools) -> tuple[str, str]:
    n = rng.randint(1, 500)
    kind = "even" if n % 2 == 0 else "odd"
    return rng.choice(_PARITY_QUERIES).format(n=n), rng.choice(_PARITY_ANSWERS).format(n=n, kind=kind)


_WORDS: tuple[str, ...] = tuple(
    (
        "apple garden window pencil river mountain candle rocket orange basket guitar bottle jacket "
        "ladder tiger planet kettle spoon blanket cloud island thunder lemon mirror rabbit forest "
        "pillow bridge castle dragon engine feather hammer jungle kitten magnet needle ocean pepper "
        "puzzle saddle tunnel violin wallet yogurt zebra sugar button carpet dinner"
    ).split()
)


_WORD_GAMES = (
    ("How do you spell '{w}' backwards?", "'{w}' backwards is '{rev}'."),
    ("How many letters are in the word '{w}'?", "'{w}' has {n} letters."),
    ("What's the first letter of '{w}'?", "The first letter of '{w}' is '{first}'."),
    ("Write '{w}' in capital letters.", "{upper}"),
)


def word_game(rng: random.Random, pools: EntityPools) -> tuple[str, str]:
    w = rng.choice(_WORDS)
    query, answer = rng.choice(_WORD_GAMES)
    return query.format(w=w), answer.format(w=w, rev=w[::-1], n=len(w), first=w[0], upper=w.upper())


_COUNTING = ("Count from {a} to {b}.", "Please count from {a} up to {b}.")


def counting(rng: random.Random, pools: EntityPools) -> tuple[str, str]:
    a = rng.randint(1, 40)
    b = a + rng.randint(2, 5)
    return rng.choice(_COUNTING).format(a=a, b=b), ", ".join(str(i) for i in range(a, b + 1)) + "."


_PHRASES = (
    "the early bird catches the worm",
    "practice makes perfect",
    "every cloud has a silver lining",
    "slow and steady wins the race",
    "a penny saved is a penny earned",
    "better late than never",
    "actions speak louder than words",
    "the sun will rise again tomorrow",
    "two heads are better than one",
    "home is where the heart is",
)


_REPEAT_QUERIES = ("Repeat after me: {p}.", "Can you say '{p}'?", "Please echo this: {p}.")


def repeat(rng: random.Random, pools: EntityPools) -> tuple[str, str]:
    phrase = rng.choice(_PHRASES)
    return rng.choice(_REPEAT_QUERIES).format(p=phrase), phrase[0].upper() + phrase[1:] + "."


_ECHO_QUERIES = (
    "Repeat these names: {names}.",
    "Can you say these back to me: {names}?",
    "Please echo: {names}.",
    "Say after me: {names}.",
)
_ECHO_POOLS = ("name", "name", "pet_name", "city", "food", "colour", "sport")


def echo(rng: random.Random, pools: EntityPools, mix: ValueMix = POOL_VALUES_ONLY) -> tuple[str, str]:
    """Copy one to four values, most of them made-up names, in order. Recall answers must copy
    values the model has never seen whole; this teaches copying from the current query first.
    `mix` makes values spliced, open words (a pool value can be recalled instead of copied:
    session 13) or made up, as in the dialogues (unpooled.py); echo turns inside dialogues
    take pool values only."""
    values = []
    for _ in range(rng.randint(1, 4)):
        pool = rng.choice(_ECHO_POOLS)
        draw = unpooled_draw(rng, pool, pools, mix)
        values.append(draw() if draw else rng.choice(pools[pool]))
    names = values[0] if len(values) == 1 else ", ".join(values[:-1]) + " and " + values[-1]
    return rng.choice(_ECHO_QUERIES).format(names=names), names + "."


_SMALL_TALK = (
    (
        ("How are you?", "How are you today?", "How's it going?"),
        ("I'm doing well, thanks for asking!", "Pretty good, thank you. How about you?", "All good here!"),
    ),
    (
        ("Thanks for your help!", "Thank you!", "Thanks a lot."),
        ("You're welcome!", "Happy to help.", "Any time!"),
    ),
    (
        ("Tell me a joke.", "Do you know a joke?", "Make me laugh."),
        (
            "Why did the scarecrow win an award? Because he was outstanding in his field.",
            "What do you call a fish with no eyes? A fsh.",
            "Why don't eggs tell jokes? They'd crack each other up.",
        ),
    ),
    (
        ("What's a good way to relax?", "Any tips to unwind?", "How can I relax after work?"),
        (
            "A short walk and a cup of tea usually help.",
            "Try reading a few pages of a good book.",
            "Some quiet music and deep breaths can work wonders.",
        ),
    ),
    (
        ("I'm a bit tired today.", "I didn't sleep well.", "Long day today."),
        (
            "Sorry to hear that. Maybe an early night would help.",
            "Take it easy and rest when you can.",
            "I hope you get some rest soon.",
        ),
    ),
    (
        ("Can you give me a tip for studying?", "How do I focus better?", "Any advice for concentrating?"),
        (
            "Work in short blocks with small breaks.",
            "Put your phone in another room while you work.",
            "Write down one clear goal before you start.",
        ),
    ),
    (
        ("What should I cook tonight?", "Any dinner ideas?", "I don't know what to eat tonight."),
        (
            "How about a simple vegetable stir fry?",
            "A warm soup is easy and cosy.",
            "Pasta with a tomato sauce is quick and tasty.",
        ),
    ),
    (
        ("It's raining again.", "The weather is awful today.", "It's so cold outside."),
        ("A good day to stay in with a book.", "Stay dry and warm!", "Perfect weather for a hot drink."),
    ),
    (
        ("Do you like music?", "What kind of music is nice for working?", "Recommend some music."),
        (
            "Calm instrumental music is great for focus.",
            "I like anything with a good melody.",
            "Soft piano music works for most people.",
        ),
    ),
    (
        ("Good morning!", "Morning!", "Hello again!"),
        ("Good morning! What can I do for you?", "Hello! How can I help today?", "Hi there!"),
    ),
    (("What day comes after Monday?", "Which day follows Monday?"), ("Tuesday comes after Monday.",)),
    (("How many days are in a week?", "How many days does a week have?"), ("A week has seven days.",)),
    (("How many legs does a spider have?",), ("A spider has eight legs.",)),
    (("What do bees make?",), ("Bees make honey.",)),
    (("What is frozen water called?",), ("Frozen water is called ice.",)),
    (("How many hours are in a day?",), ("There are twenty-four hours in a day.",)),
    (("Which planet do we live on?",), ("We live on Earth.",)),
    (("How many minutes are in an hour?",), ("There are sixty minutes in an hour.",)),
)


def small_talk(rng: random.Random, pools: EntityPools) -> tuple[str, str]:
    queries, answers = rng.choice(_SMALL_TALK)
    return rng.choice(queries), rng.choice(answers)


_STORY_ACTIONS = (
    "found a shiny key under a rock",
    "built a tiny boat out of leaves",
    "learned to whistle a new song",
    "got lost in a big city and found the way home",
    "made friends with a sleepy owl",
    "baked bread for the whole village",
    "climbed the tallest hill at sunrise",
    "followed a trail of footprints through the snow",
    "planted a seed that grew into a giant tree",
    "helped a lost duckling find its pond",
)
_STORY_ENDINGS = (
    "Everyone cheered.",
    "It was the best day ever.",
    "From then on, every morning felt like an adventure.",
    "And they all slept very well that night.",
    "Nobody ever forgot it.",
)


_STORY_QUERIES = (
    "Tell me a short story about a {animal}.",
    "Can you tell me a tiny story about a {animal}?",
    "Make up a one-line story about a {animal}.",
)


def story(rng: random.Random, pools: EntityPools) -> tuple[str, str]:
    animal = rng.choice(PET_KINDS)
    hero = rng.choice(pools["name"])
    answer = f"{hero} the {animal} {rng.choice(_STORY_ACTIONS)}. {rng.choice(_STORY_ENDINGS)}"
    return rng.choice(_STORY_QUERIES).format(animal=animal), answer


FILLERS: tuple[tuple[Filler, float], ...] = (
    (arithmetic, 3.0),
    (comparison, 1.0),
    (parity, 0.7),
    (word_game, 1.5),
    (counting, 0.8),
    (repeat, 0.7),
    (echo, 1.5),
    (small_talk, 3.0),
    (story, 2.0),
)


def _texts() -> tuple[str, ...]:
    pairs = _COMPARISONS + _WORD_GAMES
    talk = tuple(t for queries, answers in _SMALL_TALK for t in queries + answers)
    return (
        _ARITHMETIC_QUERIES
        + _ARITHMETIC_ANSWERS
        + tuple(t for pair in pairs for t in pair)
        + _PARITY_QUERIES
        + _PARITY_ANSWERS
        + _WORDS
        + _COUNTING
        + _PHRASES
        + _REPEAT_QUERIES
        + _ECHO_QUERIES
        + talk
        + _STORY_QUERIES
        + _STORY_ACTIONS
        + _STORY_ENDINGS
        + ("{hero} the {animal}", "times plus minus even odd")
    )


TEXTS: tuple[str, ...] = _texts()  # every fixed text fillers use (entity values must avoid them)
