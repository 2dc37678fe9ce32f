"""Fixtures of the service tests: a small random-weight model saved with a freshly trained
tokenizer (what `rxt serve --model DIR` loads), and helpers shared by the Ray tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from rxt_core import ReactiveTransformer, preset

SPECIALS = ["[PAD]", "[BOS]", "[EOS]", "[Q]", "[A]", "[MASK]"]  # ids 0..5, as RxTConfig expects
CORPUS = [
    "hello there, how are you today?",
    "my name is Ada and I like chess.",
    "what is my name? your name is Ada.",
    "the quick brown fox jumps over the lazy dog",
    "café, naïve, 東京 and emoji 🙂 should stream as whole characters",
] * 20


def train_tokenizer(path: Path, vocab_size: int) -> Path:
    tok = Tokenizer(models.BPE(unk_token=None, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer)
    tok.save(str(path))
    return path


def make_model_dir(directory: Path, seed: int = 0, **overrides) -> Path:
    torch.manual_seed(seed)
    config = preset("tiny", **{"max_seq_len": 128, **overrides})
    model = ReactiveTransformer(config).eval()
    tokenizer = train_tokenizer(directory.parent / f"{directory.name}-tokenizer.json", config.vocab_size)
    model.save_pretrained(directory, tokenizer_file=tokenizer)
    return directory


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    return make_model_dir(tmp_path_factory.mktemp("models") / "tiny-random")
