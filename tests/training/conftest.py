"""Tiny, hand-made data for training tests: a word-level tokenizer and fact dialogues short
enough that every stage runs a few steps in about a second."""

from __future__ import annotations

import random
import re

import pytest
import torch

from rxt_core import preset
from rxt_core.data.dialogue import Dialogue, Fact, Recall, Turn
from rxt_core.training.batching import tokenize_dialogues

NAMES = ["Ann", "Bob", "Cid", "Dee", "Eve", "Fay", "Gus", "Hal"]
PETS = ["cat", "dog", "fish", "bird"]


class WordTokenizer:
    """Words and punctuation marks as tokens; ids 0-5 are the specials, like RxTTokenizer's."""

    def __init__(self, words: list[str]):
        self.vocab = {w: i + 6 for i, w in enumerate(sorted(set(words)))}
        self.inverse = {i: w for w, i in self.vocab.items()}
        self.vocab_size = 6 + len(self.vocab)

    def encode(self, text: str) -> list[int]:
        return [self.vocab[w] for w in re.findall(r"\w+|[^\w\s]", text)]

    def decode(self, ids: list[int]) -> str:
        return " ".join(self.inverse.get(i, "") for i in ids).strip()

    def encode_interaction(self, query: str, answer: str) -> list[int]:
        return [3, *self.encode(query), 4, *self.encode(answer), 2]


def fact_dialogue(rng: random.Random) -> Dialogue:
    name, pet = rng.choice(NAMES), rng.choice(PETS)
    return Dialogue(
        (
            Turn(f"I am {name} .", f"Hi {name} .", stated=(Fact("name", name),)),
            Turn(f"I have a {pet} .", f"Nice {pet} .", stated=(Fact("pet", pet),)),
            Turn("How are you ?", "I am fine ."),
            Turn("Who am I ?", f"You are {name} .", Recall("name", name, 3)),
            Turn("What pet do I have ?", f"A {pet} .", Recall("pet", pet, 3)),
        )
    )


def all_words() -> list[str]:
    words = "I am Hi . have a Nice How are you ? fine Who You What pet do A".split()
    return words + NAMES + PETS


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def tokenizer() -> WordTokenizer:
    return WordTokenizer(all_words())


@pytest.fixture(scope="session")
def dialogues() -> list[Dialogue]:
    rng = random.Random(0)
    return [fact_dialogue(rng) for _ in range(32)]


@pytest.fixture(scope="session")
def config(tokenizer):
    return preset("tiny", vocab_size=tokenizer.vocab_size, max_seq_len=32)


@pytest.fixture(scope="session")
def pointer_config(config):
    """The tiny config with the keep write and the memory pointer."""
    return config.model_copy(
        update={"memory_write": "keep", "memory_attention": "simple", "memory_pointer": True}
    )


@pytest.fixture(scope="session")
def token_dialogues(dialogues, tokenizer, config):
    return tokenize_dialogues(dialogues, tokenizer, config)


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """Two cores shared by many processes: OpenMP threads spinning against each other make
    small CPU kernels many times slower than one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
