"""Entity pools for the synthetic dialogues, partitioned into training and held-out values.

A value is held out when a stable hash of its lower-cased text falls in one bucket out of
`HELDOUT_BUCKETS`, unless it also occurs as words inside fixed template text ("Nice, Maya!" vs
the city Nice) or inside another value ("red" in "cherry red"): those always stay in training.
The rule depends on the text alone, so the same string lands on the same side whatever pool it
comes from, and no held-out value ever appears anywhere in a training dialogue. Numbers (ages,
lucky numbers) are partitioned as facts only: arithmetic small talk uses every number.
"""

from __future__ import annotations

import itertools
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

EntitySplit = Literal["train", "heldout"]

HELDOUT_BUCKETS = 5  # one value in five is held out


def hash_bucket(value: str) -> int:
    """A stable bucket for a value (the same across runs, platforms and Python versions)."""
    return zlib.crc32(value.lower().encode()) % HELDOUT_BUCKETS


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def phrases(text: str, max_len: int = 6) -> set[str]:
    """Every run of up to `max_len` words of `text`, lower-cased and space-joined."""
    w = words(text)
    return {" ".join(w[i : i + n]) for n in range(1, max_len + 1) for i in range(len(w) - n + 1)}


FIRST_NAMES = """
Aaron Abigail Adam Adrian Aisha Alan Albert Alice Amara Amelia Anna Anton Arthur Astrid Aurora
Ben Bianca Boris Bruno Caleb Camila Carlos Caroline Chloe Clara Daniel Dante Daria David Delia
Diego Dmitri Eduardo Elena Elias Eliza Emil Emma Ethan Eva Felix Fiona Frida Gabriel George Greta
Hannah Hassan Hector Helena Henry Hugo Ida Igor Ines Irene Isaac Ivan Jack Jasmine Jonas Joseph
Julia Julian Kai Karim Kate Keira Kenji Lara Laura Leo Leon Lila Linus Lucas Lucia Luis Lydia Magnus
Maja Marco Maria Marta Matteo Maya Mei Milan Mira Nadia Naomi Nathan Nico Nina Noah Nora Oliver
Olga Omar Oscar Paula Pavel Petra Priya Quentin Rafael Ravi Rebecca Rita Robert Rosa Ruben Ruth
Sami Sara Selma Simon Sofia Stefan Tara Theo Thomas Tobias Tomas Ursula Valentina Victor Vera
Walter Wanda Xavier Yara Yusuf Zara Zoe Alma Basil Cyrus Dora Edith Flora Gideon Hilda Ingrid
Jasper Kira Lorenzo Mateo Nell Orla Pia Quinn Rhea Silas Tess Uma Vince Wren Yusuf Zelda
""".split()

PET_NAMES = """
Biscuit Pepper Mochi Noodle Pickles Waffles Peanut Muffin Pumpkin Cookie Ginger Nugget Toffee
Pretzel Bubbles Marble Pebble Sprout Button Clover Maple Hazel Juniper Olive Poppy Willow Bramble
Cinnamon Nutmeg Sesame Truffle Crumpet Dumpling Gizmo Rocket Comet Ziggy Zorro Bandit Scout Ranger
Shadow Smokey Sooty Patch Freckles Domino Oreo Tinker Whiskers Mittens Socks Boots Fluffy Fuzzy
Snowball Blizzard Thunder Storm Misty Sunny Goldie Rusty Copper Bronze Chester Winston Bruno
Rufus Barnaby Percy Archie Monty Humphrey Dexter Elmo Bingo Yoda Pixel Kiwi Mango Coco Bamboo
""".split()

# Made-up names from syllables: the model must copy strings it never saw whole.
_ONSETS = "B D F G H J K L M N P R S T V Z Br Dr Kl Tr Sh Th Ch".split()
_VOWELS = "a e i o u ai ia ea".split()
_MIDDLES = "l n r m v s d k".split()
_ENDINGS = "a o ia in an en is ar on el us eth".split()


def _syllable_names() -> list[str]:
    return [o + v + m + e for o, v, m, e in itertools.product(_ONSETS, _VOWELS, _MIDDLES, _ENDINGS)]


CITIES = (
    """
Amsterdam Athens Auckland Austin Baltimore Bangkok Barcelona Belfast Belgrade Bergen Berlin Bilbao
Bologna Bordeaux Boston Bratislava Brisbane Bristol Brussels Bucharest Budapest Cairo Calgary
Canberra Cardiff Chicago Cologne Copenhagen Cork Dallas Delft Denver Dublin Dundee Durban Edinburgh
Florence Galway Geneva Genoa Ghent Glasgow Gothenburg Granada Graz Hamburg Hanoi Havana Helsinki
Houston Innsbruck Istanbul Jakarta Kyoto Krakow Lagos Lausanne Leeds Leipzig Lima Lisbon Liverpool
Ljubljana Lyon Madrid Malaga Malmo Manchester Marseille Melbourne Milan Montreal Mumbai Munich
Nagoya Nairobi Nantes Naples Nice Osaka Oslo Ottawa Oxford Palermo Paris Perth Phoenix Porto Prague
Quebec Reykjavik Riga Rome Rotterdam Salzburg Santiago Sapporo Seattle Seoul Seville Sheffield
Singapore Sofia Split Stockholm Stuttgart Sydney Tallinn Tampere Tokyo Toronto Toulouse Trieste
Turin Utrecht Valencia Vancouver Venice Verona Vienna Vilnius Warsaw Wellington Winnipeg Wroclaw
Zagreb Zurich Aarhus Antwerp Basel Bern Bremen Brno Cadiz Coimbra Dresden Dijon Exeter Faro Gdansk
Heidelberg Kyiv Limerick Lucerne Lublin Mainz Nuremberg Odense Padua Pisa Poznan Rennes Siena
Tartu Uppsala Vigo York
""".split()
    + [
        "New York",
        "Los Angeles",
        "San Francisco",
        "Buenos Aires",
        "Cape Town",
        "Hong Kong",
        "Mexico City",
        "Rio de Janeiro",
        "Kuala Lumpur",
        "New Orleans",
        "Salt Lake City",
        "San Diego",
        "Tel Aviv",
        "St Andrews",
    ]
)

JOBS = [
    "nurse",
    "teacher",
    "baker",
    "carpenter",
    "plumber",
    "electrician",
    "architect",
    "pilot",
    "librarian",
    "pharmacist",
    "dentist",
    "vet",
    "chef",
    "gardener",
    "firefighter",
    "journalist",
    "translator",
    "accountant",
    "lawyer",
    "paramedic",
    "software engineer",
    "data analyst",
    "graphic designer",
    "photographer",
    "florist",
    "mechanic",
    "tailor",
    "butcher",
    "barista",
    "bus driver",
    "taxi driver",
    "train conductor",
    "postman",
    "lifeguard",
    "zookeeper",
    "park ranger",
    "marine biologist",
    "geologist",
    "astronomer",
    "chemist",
    "physicist",
    "surgeon",
    "midwife",
    "optician",
    "physiotherapist",
    "psychologist",
    "social worker",
    "police officer",
    "judge",
    "economist",
    "historian",
    "archaeologist",
    "museum curator",
    "sculptor",
    "painter",
    "violinist",
    "drummer",
    "composer",
    "actor",
    "dancer",
    "film editor",
    "sound engineer",
    "web developer",
    "game designer",
    "civil engineer",
    "welder",
    "roofer",
    "bricklayer",
    "locksmith",
    "beekeeper",
    "farmer",
    "fisherman",
    "winemaker",
    "brewer",
    "cheesemaker",
    "jeweller",
    "watchmaker",
    "bookbinder",
    "potter",
    "glassblower",
    "interior designer",
    "real estate agent",
    "bank clerk",
    "shop assistant",
    "receptionist",
    "flight attendant",
    "ship captain",
    "tour guide",
    "yoga instructor",
    "swimming coach",
    "personal trainer",
    "hairdresser",
    "barber",
    "cartographer",
    "statistician",
    "nutritionist",
]

FOODS = [
    "pizza",
    "sushi",
    "ramen",
    "lasagne",
    "tacos",
    "curry",
    "pancakes",
    "dumplings",
    "paella",
    "risotto",
    "falafel",
    "hummus",
    "burritos",
    "spaghetti",
    "gnocchi",
    "pho",
    "pad thai",
    "fish and chips",
    "shepherd's pie",
    "goulash",
    "moussaka",
    "kimchi",
    "bibimbap",
    "tempura",
    "croissants",
    "waffles with cream",
    "apple pie",
    "cheesecake",
    "tiramisu",
    "ice cream",
    "chocolate cake",
    "carrot cake",
    "banana bread",
    "porridge",
    "omelettes",
    "quiche",
    "ratatouille",
    "couscous",
    "tagine",
    "samosas",
    "biryani",
    "dal",
    "naan bread",
    "noodle soup",
    "tomato soup",
    "mushroom soup",
    "roast chicken",
    "grilled salmon",
    "fish tacos",
    "lobster",
    "mussels",
    "oysters",
    "steak",
    "meatballs",
    "burgers",
    "hot dogs",
    "fried rice",
    "spring rolls",
    "bao buns",
    "gyoza",
    "udon",
    "soba",
    "poke bowls",
    "nachos",
    "enchiladas",
    "quesadillas",
    "empanadas",
    "churros",
    "gelato",
    "baklava",
    "pierogi",
    "schnitzel",
    "pretzels",
    "fondue",
    "raclette",
    "crepes",
    "macarons",
    "cinnamon rolls",
    "blueberry muffins",
    "granola",
    "avocado toast",
    "cheese on toast",
    "beans on toast",
    "lentil stew",
    "chili con carne",
    "gazpacho",
    "tortilla",
    "halloumi",
    "feta salad",
    "caesar salad",
    "potato salad",
    "mac and cheese",
    "cornbread",
    "jambalaya",
    "gumbo",
    "clam chowder",
    "bagels",
    "dim sum",
    "satay",
    "laksa",
]

COLOURS = [
    "red",
    "blue",
    "green",
    "yellow",
    "orange",
    "purple",
    "pink",
    "black",
    "white",
    "grey",
    "teal",
    "turquoise",
    "navy blue",
    "sky blue",
    "crimson",
    "scarlet",
    "maroon",
    "burgundy",
    "olive green",
    "lime green",
    "emerald green",
    "mint green",
    "forest green",
    "lavender",
    "violet",
    "lilac",
    "magenta",
    "coral",
    "peach",
    "salmon pink",
    "gold",
    "silver",
    "bronze",
    "beige",
    "cream",
    "ivory",
    "amber",
    "mustard yellow",
    "lemon yellow",
    "indigo",
    "cobalt blue",
    "charcoal",
    "sand",
    "rust",
    "copper",
    "plum",
    "cherry red",
    "aquamarine",
    "jade",
    "ochre",
]

DRINKS = [
    "green tea",
    "black coffee",
    "hot chocolate",
    "lemonade",
    "orange juice",
    "apple juice",
    "mint tea",
    "chai",
    "espresso",
    "cappuccino",
    "latte",
    "iced tea",
    "ginger beer",
    "cola",
    "sparkling water",
    "milkshake",
    "smoothies",
    "kombucha",
    "cider",
    "root beer",
    "matcha",
    "jasmine tea",
    "earl grey",
    "rooibos",
    "cranberry juice",
    "coconut water",
    "oat milk",
    "mango lassi",
    "iced coffee",
    "flat white",
    "mocha",
    "chamomile tea",
    "tomato juice",
    "grape juice",
    "pineapple juice",
    "bubble tea",
    "horchata",
    "ginger tea",
    "limeade",
    "cocoa",
]

SPORTS = [
    "tennis",
    "football",
    "basketball",
    "volleyball",
    "badminton",
    "squash",
    "table tennis",
    "golf",
    "rugby",
    "cricket",
    "baseball",
    "hockey",
    "ice hockey",
    "handball",
    "water polo",
    "netball",
    "lacrosse",
    "bowling",
    "darts",
    "snooker",
    "chess",
    "fencing",
    "judo",
    "karate",
    "boxing",
    "rowing",
    "sailing",
    "surfing",
    "skiing",
    "snowboarding",
    "climbing",
    "cycling",
    "running",
    "swimming",
    "archery",
    "frisbee",
    "curling",
    "softball",
    "pickleball",
    "kayaking",
]

LANGUAGES = [
    "Spanish",
    "French",
    "German",
    "Italian",
    "Portuguese",
    "Dutch",
    "Swedish",
    "Norwegian",
    "Danish",
    "Finnish",
    "Polish",
    "Czech",
    "Hungarian",
    "Greek",
    "Turkish",
    "Arabic",
    "Hebrew",
    "Russian",
    "Ukrainian",
    "Japanese",
    "Korean",
    "Mandarin",
    "Cantonese",
    "Hindi",
    "Bengali",
    "Urdu",
    "Swahili",
    "Icelandic",
    "Irish",
    "Welsh",
    "Latin",
    "Romanian",
    "Croatian",
    "Serbian",
    "Thai",
    "Vietnamese",
    "Indonesian",
    "Tagalog",
    "Persian",
    "Estonian",
]

PLANS = [
    "learn the violin",
    "learn to juggle",
    "learn to surf",
    "learn to knit",
    "learn to sail",
    "run a marathon",
    "run a half marathon",
    "climb a mountain",
    "hike the coastal path",
    "paint the kitchen",
    "repaint the bedroom",
    "build a treehouse",
    "build a bookshelf",
    "plant a vegetable garden",
    "plant an apple tree",
    "adopt a kitten",
    "adopt a puppy",
    "bake a wedding cake",
    "write a novel",
    "write a short film",
    "start a podcast",
    "start a bakery",
    "open a bookshop",
    "open a small cafe",
    "visit my grandmother",
    "visit my cousins",
    "go camping by the lake",
    "go skiing in the Alps",
    "go on a road trip",
    "go scuba diving",
    "go sailing with friends",
    "take a pottery class",
    "take a cooking class",
    "take dance lessons",
    "sing in a choir",
    "join a rowing club",
    "join a chess club",
    "cycle across the country",
    "walk the whole river path",
    "restore an old bicycle",
    "fix the garden fence",
    "tidy the garage",
    "sell my old car",
    "buy a sofa",
    "buy a canoe",
    "move to the countryside",
    "throw a surprise party",
    "organise a picnic",
    "host a board game night",
    "learn to play the drums",
    "record an album",
    "photograph the northern lights",
    "watch a meteor shower",
    "see a solar eclipse",
    "swim across the bay",
    "volunteer at an animal shelter",
    "teach my nephew to swim",
    "make my own cheese",
    "brew my own cider",
    "grow giant pumpkins",
    "collect rare stamps",
    "build a model railway",
    "learn to fly a glider",
    "try rock climbing",
    "sew a quilt",
    "carve a wooden spoon",
    "make a photo album",
    "restore an old piano",
]

MONTHS = "January February March April May June July August September October November December".split()
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _birthdays() -> list[str]:
    return [f"{m} {d}" for m, n in zip(MONTHS, _DAYS_IN_MONTH, strict=True) for d in range(1, n + 1)]


def _numbers(lo: int, hi: int) -> list[str]:
    return [str(n) for n in range(lo, hi + 1)]


# Words the templates themselves use as keys, never as values to recall.
PET_KINDS = (
    "dog cat parrot hamster rabbit turtle goldfish lizard ferret horse pony snake canary budgie "
    "tortoise hedgehog chinchilla gecko"
).split() + ["guinea pig"]
RELATIONS = ("sister", "brother", "best friend", "boss", "neighbour", "cousin")


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _raw_pools() -> dict[str, list[str]]:
    names = _unique(FIRST_NAMES + _syllable_names())
    return {
        "name": names,
        "pet_name": _unique(PET_NAMES + names[::3]),
        "city": _unique(CITIES),
        "job": _unique(JOBS),
        "food": _unique(FOODS),
        "colour": _unique(COLOURS),
        "drink": _unique(DRINKS),
        "sport": _unique(SPORTS),
        "language": _unique(LANGUAGES),
        "plan": _unique(PLANS),
        "birthday": _birthdays(),
        "age": _numbers(18, 89),
        "number": _numbers(2, 99),
    }


@dataclass(frozen=True)
class EntityPools:
    """The values one split may use, per pool name (tuples, for fast `rng.choice`)."""

    split: EntitySplit
    pools: dict[str, tuple[str, ...]]
    reserved: frozenset[str] = frozenset()  # lower-cased texts no made-up value may be (novel.py)

    def __getitem__(self, pool: str) -> tuple[str, ...]:
        return self.pools[pool]


def partition(template_texts: Iterable[str]) -> dict[EntitySplit, EntityPools]:
    """Both splits' pools; `template_texts` are the fixed texts values must not hide in."""
    raw = _raw_pools()
    protected: set[str] = set()
    for text in template_texts:
        protected |= phrases(text)
    for value in {v for values in raw.values() for v in values if " " in v}:
        protected |= phrases(value) - {" ".join(words(value))}
    heldout = {
        v
        for values in raw.values()
        for v in values
        if hash_bucket(v) == 0 and " ".join(words(v)) not in protected
    }
    reserved = frozenset(protected | {" ".join(words(v)) for v in heldout})
    return {
        "train": EntityPools(
            "train", {k: tuple(v for v in vs if v not in heldout) for k, vs in raw.items()}, reserved
        ),
        "heldout": EntityPools(
            "heldout", {k: tuple(v for v in vs if v in heldout) for k, vs in raw.items()}, reserved
        ),
    }
