"""The kinds of facts a synthetic user states about themselves, with every phrasing of them.

Templates use `{v}` for the value, `{a}` for its article ("a"/"an"), `{k}` for the fact's key
(the pet kind, the relation) and `{ak}` for the key's article. A value always appears verbatim
(never re-cased) in the statement, in the acknowledgement of a correction and in the answer to
a recall question, so "the answer contains the value" is a fair test of recall. Templates may
start with `{v}` only for values that are capitalised anyway (names, cities, numbers, dates).
"""

from __future__ import annotations

from dataclasses import dataclass

from .entities import PET_KINDS, RELATIONS


@dataclass(frozen=True, eq=False)  # identity equality: fact types are singletons
class FactType:
    name: str  # the id in `recall`/`stated` metadata, e.g. "pet_name"
    pool: str  # the entity pool its values come from
    sentences: tuple[str, ...]  # standalone statements
    clauses: tuple[str, ...]  # statements that can be joined with others: "I live in {v}"
    acks: tuple[str, ...]  # the assistant's reply to a statement
    questions: tuple[str, ...]  # recall questions (never contain the value)
    answers: tuple[str, ...]  # short, direct answers that contain the value
    corrections: tuple[str, ...]  # override an earlier value ({old} is the earlier one)
    correction_acks: tuple[str, ...] = ("Got it, thanks for correcting me.",)
    unknown: tuple[str, ...] = ()  # the answer when the fact was never stated
    keys: tuple[str, ...] = ("",)  # choices for {k}, fixed when the fact is first stated


def article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def render(template: str, value: str, key: str = "", old: str = "") -> str:
    """A fact template with its slots filled: {v} value, {a} its article, {k} key, {ak} the
    key's article, {old} an earlier value."""
    return template.format(
        v=value,
        a=article(value) if "{a}" in template else "",
        k=key,
        ak=article(key) if "{ak}" in template else "",
        old=old,
    )


_UPDATE_ACKS = (
    "Got it, {u}.",
    "Thanks for the correction: {u}.",
    "Okay, I've updated that: {u}.",
    "Noted, {u}.",
)


def _correction_acks(*updates: str) -> tuple[str, ...]:
    return tuple(ack.replace("{u}", u) for ack in _UPDATE_ACKS for u in updates)


NAME = FactType(
    name="name",
    pool="name",
    sentences=(
        "My name is {v}.",
        "Hi, I'm {v}.",
        "Hello! My name is {v}.",
        "Call me {v}.",
        "You can call me {v}.",
        "People call me {v}.",
        "I'm {v}, nice to meet you.",
        "Let me introduce myself: I'm {v}.",
    ),
    clauses=("my name is {v}", "I'm {v}", "everyone calls me {v}"),
    acks=(
        "Nice to meet you, {v}!",
        "Hello, {v}!",
        "Hi {v}, how can I help?",
        "Great to meet you, {v}.",
        "Pleased to meet you, {v}.",
    ),
    questions=(
        "What's my name?",
        "What is my name?",
        "Do you remember my name?",
        "Who am I?",
        "What did I say my name was?",
        "Can you tell me my name?",
        "What should you call me?",
    ),
    answers=("Your name is {v}.", "You're {v}.", "You told me your name is {v}."),
    corrections=(
        "Actually, my name is {v}.",
        "Sorry, I misspoke: my name is {v}, not {old}.",
        "Please call me {v} instead.",
        "My real name is {v}, by the way.",
    ),
    correction_acks=("Sorry about that, {v}!", "Got it, your name is {v}.", "Okay, I'll call you {v}."),
    unknown=("You haven't told me your name yet.", "I don't know your name yet."),
)

PET_NAME = FactType(
    name="pet_name",
    pool="pet_name",
    keys=PET_KINDS,
    sentences=(
        "I have {ak} {k} called {v}.",
        "I have {ak} {k} named {v}.",
        "My {k} is called {v}.",
        "My {k}'s name is {v}.",
        "I've got {ak} {k}, {v}.",
        "We adopted {ak} {k} and named it {v}.",
        "{v} is the name of my {k}.",
    ),
    clauses=("I have {ak} {k} called {v}", "my {k} is called {v}", "I've got {ak} {k} named {v}"),
    acks=(
        "{v} is a lovely name for {ak} {k}!",
        "Aww, {v} the {k} sounds sweet.",
        "I'd love to hear more about {v}.",
        "What a great name for {ak} {k}: {v}!",
    ),
    questions=(
        "What's my {k}'s name?",
        "What is my {k} called?",
        "Do you remember my {k}'s name?",
        "What did I name my {k}?",
        "What's my pet called?",
        "What's the name of my pet?",
    ),
    answers=("Your {k} is called {v}.", "Your {k}'s name is {v}.", "You named your {k} {v}."),
    corrections=(
        "Oh wait, my {k} is actually called {v}.",
        "Sorry, my {k}'s name is {v}, not {old}.",
        "We renamed our {k}: it's {v} now.",
    ),
    correction_acks=_correction_acks("your {k} is called {v}", "your {k}'s name is {v}"),
    unknown=("You haven't told me about a pet yet.", "I don't know your pet's name."),
)

CITY = FactType(
    name="city",
    pool="city",
    sentences=(
        "I live in {v}.",
        "I'm living in {v} these days.",
        "Home for me is {v}.",
        "I've been living in {v} for a few years.",
        "My flat is in {v}.",
        "I live in {v}, it's a nice place.",
    ),
    clauses=("I live in {v}", "my home is in {v}", "I'm living in {v}"),
    acks=("{v} sounds like a nice place to live.", "Oh, I've heard {v} is lovely.", "Living in {v}, nice!"),
    questions=(
        "Where do I live?",
        "Which city do I live in?",
        "What city am I living in?",
        "Do you remember where I live?",
        "Where is my home?",
    ),
    answers=("You live in {v}.", "You're living in {v}.", "Your home is in {v}."),
    corrections=(
        "Actually, I moved to {v}.",
        "Update: I just moved to {v}.",
        "I don't live in {old} anymore, I moved to {v}.",
        "We've relocated to {v} now.",
        "Sorry, I got that wrong: I live in {v}.",
    ),
    correction_acks=_correction_acks("you live in {v} now", "you're living in {v} now"),
    unknown=("You haven't told me where you live.", "I don't know where you live yet."),
)

HOMETOWN = FactType(
    name="hometown",
    pool="city",
    sentences=(
        "I was born in {v}.",
        "My hometown is {v}.",
        "I'm originally from {v}.",
        "I was born and raised in {v}.",
    ),
    clauses=("I was born in {v}", "my hometown is {v}", "I'm originally from {v}"),
    acks=("Being born in {v} must have been fun.", "So {v} is your hometown, nice.", "Ah, {v}!"),
    questions=("Where was I born?", "What's my hometown?", "Where am I originally from?"),
    answers=("You were born in {v}.", "Your hometown is {v}.", "You're originally from {v}."),
    corrections=("Sorry, I was actually born in {v}.", "My hometown is really {v}, not {old}."),
    correction_acks=_correction_acks("you were born in {v}", "your hometown is {v}"),
    unknown=("You haven't told me where you were born.",),
)

JOB = FactType(
    name="job",
    pool="job",
    sentences=(
        "I work as {a} {v}.",
        "I'm {a} {v}.",
        "I'm {a} {v} by trade.",
        "For a living I work as {a} {v}.",
        "I've been {a} {v} for ten years.",
        "My job? I'm {a} {v}.",
    ),
    clauses=("I work as {a} {v}", "I'm {a} {v}", "I'm working as {a} {v}"),
    acks=(
        "Being {a} {v} sounds interesting.",
        "Oh, {a} {v}! That must keep you busy.",
        "So you're {a} {v}, nice.",
    ),
    questions=(
        "What do I do for a living?",
        "What's my job?",
        "What is my job?",
        "What do I work as?",
        "Do you remember my job?",
    ),
    answers=("You work as {a} {v}.", "You're {a} {v}.", "You're {a} {v} by trade."),
    corrections=(
        "I changed jobs, I'm now {a} {v}.",
        "Actually, I work as {a} {v} now.",
        "I'm not {a} {old} anymore, I became {a} {v}.",
    ),
    correction_acks=_correction_acks("you work as {a} {v} now", "you're {a} {v} now"),
    unknown=("You haven't told me what you do.", "I don't know your job yet."),
)

FOOD = FactType(
    name="food",
    pool="food",
    sentences=(
        "My favourite food is {v}.",
        "I love {v}.",
        "I could eat {v} every day.",
        "Nothing beats {v} for me.",
        "My favorite food is {v}.",
        "I'm a huge fan of {v}.",
    ),
    clauses=("my favourite food is {v}", "I love {v}", "I could eat {v} every day"),
    acks=("Mmm, {v} is delicious.", "Great choice, {v}!", "I can see why you like {v}."),
    questions=(
        "What's my favourite food?",
        "What is my favorite food?",
        "What food do I love?",
        "Which food could I eat every day?",
    ),
    answers=("Your favourite food is {v}.", "You love {v}.", "It's {v}."),
    corrections=(
        "I've changed my mind, my favourite food is {v} now.",
        "Actually, I prefer {v} these days.",
        "Scratch that, my favourite food is {v}.",
    ),
    correction_acks=_correction_acks("your favourite food is {v} now"),
    unknown=("You haven't told me your favourite food.",),
)

COLOUR = FactType(
    name="colour",
    pool="colour",
    sentences=(
        "My favourite colour is {v}.",
        "My favorite color is {v}.",
        "I really like the colour {v}.",
        "The colour I like most is {v}.",
    ),
    clauses=("my favourite colour is {v}", "I really like the colour {v}"),
    acks=("What a beautiful colour, {v}.", "Nice, {v} is a great colour.", "Good choice, {v}."),
    questions=(
        "What's my favourite colour?",
        "What is my favorite color?",
        "Which colour do I like best?",
        "Do you remember my favourite colour?",
    ),
    answers=("Your favourite colour is {v}.", "You like {v} best.", "It's {v}."),
    corrections=("Actually, my favourite colour is {v}.", "I like {v} more than {old} now."),
    correction_acks=_correction_acks("your favourite colour is {v}"),
    unknown=("You haven't told me your favourite colour.",),
)

DRINK = FactType(
    name="drink",
    pool="drink",
    sentences=(
        "My favourite drink is {v}.",
        "I always drink {v} in the morning.",
        "I can't live without {v}.",
    ),
    clauses=("my favourite drink is {v}", "I always drink {v}"),
    acks=("Good pick, {v}.", "Ah, {v}, nice.", "I see, {v} it is."),
    questions=("What's my favourite drink?", "What do I always drink?", "Which drink do I like?"),
    answers=("Your favourite drink is {v}.", "You like {v}.", "It's {v}."),
    corrections=("These days I drink {v} instead.", "Actually, my favourite drink is {v}."),
    correction_acks=_correction_acks("your favourite drink is {v}"),
)

SPORT = FactType(
    name="sport",
    pool="sport",
    sentences=("My favourite sport is {v}.", "I'm really into {v}.", "The sport I love most is {v}."),
    clauses=("my favourite sport is {v}", "I'm really into {v}"),
    acks=("Great exercise, {v}.", "Fun, {v}!", "I hear {v} is a lot of fun."),
    questions=("What's my favourite sport?", "Which sport am I into?", "What sport do I love?"),
    answers=("Your favourite sport is {v}.", "You're into {v}.", "You love {v}."),
    corrections=("Actually, my favourite sport is {v}.", "I'm more into {v} than {old} now."),
    correction_acks=_correction_acks("your favourite sport is {v} now"),
)

LANGUAGE = FactType(
    name="language",
    pool="language",
    sentences=("I'm learning {v}.", "I've started learning {v}.", "I'm taking {v} lessons."),
    clauses=("I'm learning {v}", "I take {v} lessons"),
    acks=("Good luck with {v}!", "Learning {v} is a great idea.", "{v}, how exciting."),
    questions=("Which language am I learning?", "What language am I studying?", "What lessons am I taking?"),
    answers=("You're learning {v}.", "You are studying {v}.", "You take {v} lessons."),
    corrections=("Actually, I'm learning {v}, not {old}.", "I switched to learning {v}."),
    correction_acks=_correction_acks("you're learning {v}"),
)

AGE = FactType(
    name="age",
    pool="age",
    sentences=("I'm {v} years old.", "I am {v}.", "I turned {v} this year.", "I'm {v}, if you're wondering."),
    clauses=("I'm {v} years old", "I turned {v} this year"),
    acks=("{v} is a great age.", "Thanks, so you're {v}.", "Noted, {v} years old."),
    questions=("How old am I?", "What's my age?", "Do you remember how old I am?"),
    answers=("You are {v} years old.", "You're {v}.", "You told me you're {v}."),
    corrections=("Oops, I'm actually {v}, not {old}.", "Sorry, I meant to say I'm {v} years old."),
    correction_acks=_correction_acks("you're {v}", "you are {v} years old"),
    unknown=("You haven't told me your age.",),
)

BIRTHDAY = FactType(
    name="birthday",
    pool="birthday",
    sentences=(
        "My birthday is on {v}.",
        "I was born on {v}.",
        "{v} is my birthday.",
        "I celebrate my birthday on {v}.",
    ),
    clauses=("my birthday is on {v}", "I was born on {v}"),
    acks=("I'll remember {v}!", "A birthday on {v}, lovely.", "Noted: {v}."),
    questions=(
        "When is my birthday?",
        "What day is my birthday?",
        "When was I born?",
        "When do I celebrate my birthday?",
    ),
    answers=("Your birthday is on {v}.", "It's on {v}.", "You were born on {v}."),
    corrections=("Sorry, my birthday is actually on {v}.", "I mixed that up, my birthday is {v}."),
    correction_acks=_correction_acks("your birthday is on {v}"),
    unknown=("You haven't told me your birthday.",),
)

PLAN = FactType(
    name="plan",
    pool="plan",
    sentences=(
        "I'm planning to {v} next month.",
        "Next week I want to {v}.",
        "My plan for the summer is to {v}.",
        "This year I'm going to {v}.",
        "I've decided to {v}.",
    ),
    clauses=("I'm planning to {v}", "I want to {v} soon"),
    acks=("Good luck, I hope you get to {v}.", "That sounds like a great plan.", "Wow, {v}? Exciting!"),
    questions=(
        "What am I planning to do?",
        "What are my plans?",
        "What did I say I want to do?",
        "Do you remember my plan?",
    ),
    answers=("You are planning to {v}.", "You want to {v}.", "Your plan is to {v}."),
    corrections=("Change of plans: I'm going to {v} instead.", "I no longer want to {old}, I'd rather {v}."),
    correction_acks=_correction_acks("your plan is to {v}", "you want to {v} instead"),
    unknown=("You haven't told me about any plans.",),
)

LUCKY_NUMBER = FactType(
    name="lucky_number",
    pool="number",
    sentences=(
        "My lucky number is {v}.",
        "{v} has always been my lucky number.",
        "I think {v} is lucky for me.",
    ),
    clauses=("my lucky number is {v}",),
    acks=("{v} it is!", "Nice, {v} is a good number.", "I'll keep {v} in mind."),
    questions=("What's my lucky number?", "What is my lucky number?", "Which number is lucky for me?"),
    answers=("Your lucky number is {v}.", "It's {v}.", "Your lucky number is {v}, you said."),
    corrections=("Actually, my lucky number is {v}.", "My lucky number changed to {v}."),
    correction_acks=_correction_acks("your lucky number is {v}"),
)


def _relation(relation: str) -> FactType:
    """One fact per relation ("sister_name", "boss_name", ...), all drawing on the name pool."""
    return FactType(
        name=f"{relation.replace(' ', '_')}_name",
        pool="name",
        keys=(relation,),
        sentences=(
            "My {k} is called {v}.",
            "My {k}'s name is {v}.",
            "I have {ak} {k} named {v}.",
            "{v} is my {k}.",
        ),
        clauses=("my {k} is called {v}", "my {k}'s name is {v}"),
        acks=("{v} sounds like a great {k}.", "Nice, {v}.", "Say hi to {v} from me."),
        questions=("What's my {k}'s name?", "What is my {k} called?", "Who is my {k}?"),
        answers=("Your {k} is called {v}.", "Your {k}'s name is {v}.", "Your {k} is {v}."),
        corrections=("Sorry, my {k} is actually called {v}.", "My {k}'s name is {v}, not {old}."),
        correction_acks=_correction_acks("your {k} is called {v}"),
        unknown=("You haven't told me about your {k}.",),
    )


FACT_TYPES: tuple[FactType, ...] = (
    NAME,
    PET_NAME,
    CITY,
    HOMETOWN,
    JOB,
    FOOD,
    COLOUR,
    DRINK,
    SPORT,
    LANGUAGE,
    AGE,
    BIRTHDAY,
    PLAN,
    LUCKY_NUMBER,
    *(_relation(r) for r in RELATIONS),
)
FACTS_BY_NAME = {f.name: f for f in FACT_TYPES}
