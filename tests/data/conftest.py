"""Shared fixtures: a small tokenizer trained once per session on synthetic dialogues."""

from __future__ import annotations

import pytest

from rxt_core.data.corpus import dialogue_texts
from rxt_core.data.synth import generate
from rxt_core.tokenizer import RxTTokenizer


@pytest.fixture(scope="session")
def tokenizer() -> RxTTokenizer:
    texts = list(dialogue_texts(generate("train", 1000, seed=123)))
    texts += ["Héllo wörld, naïve café. 😀 你好, мир! ½ — “quotes”"] * 3
    return RxTTokenizer.train(texts, vocab_size=2048)
