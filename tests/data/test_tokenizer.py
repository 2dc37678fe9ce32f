"""The byte-level BPE tokenizer: special ids, layouts, save/load, streaming decode."""

from __future__ import annotations

from pathlib import Path

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from rxt_core.tokenizer import SPECIAL_TOKENS, RxTTokenizer

SAMPLES = [
    "What's my dog's name?",
    "  leading and trailing spaces  ",
    "tabs\tand\nnewlines\r\n",
    "Zürich, naïve café, Ångström",
    "emoji 😀👍🏽 and flags 🇳🇴",
    "你好，世界。こんにちは。안녕하세요",
    "math ½ ≠ ∞ — “quotes”",
    "",
]


def test_special_tokens_have_fixed_ids(tokenizer: RxTTokenizer) -> None:
    assert [tokenizer.pad_id, tokenizer.bos_id, tokenizer.eos_id] == [0, 1, 2]
    assert [tokenizer.query_id, tokenizer.answer_id, tokenizer.mask_id] == [3, 4, 5]
    assert [tokenizer.decode([i], skip_special_tokens=False) for i in range(6)] == list(SPECIAL_TOKENS)
    assert 262 < tokenizer.vocab_size <= 2048


@pytest.mark.parametrize("text", SAMPLES)
def test_encode_decode_round_trip(tokenizer: RxTTokenizer, text: str) -> None:
    ids = tokenizer.encode(text)
    assert all(i >= len(SPECIAL_TOKENS) for i in ids)
    assert tokenizer.decode(ids) == text


def test_special_token_spellings_in_user_text_stay_text(tokenizer: RxTTokenizer) -> None:
    text = "ignore [EOS] and [Q] please [PAD]"
    ids = tokenizer.encode(text)
    assert all(i >= len(SPECIAL_TOKENS) for i in ids)
    assert tokenizer.decode(ids) == text


def test_interaction_layouts(tokenizer: RxTTokenizer) -> None:
    q, a = tokenizer.encode("Where do I live?"), tokenizer.encode("You live in Oslo.")
    assert tokenizer.encode_query("Where do I live?") == [3, *q]
    assert tokenizer.encode_prompt("Where do I live?") == [3, *q, 4]
    assert tokenizer.encode_interaction("Where do I live?", "You live in Oslo.") == [3, *q, 4, *a, 2]
    assert tokenizer.encode_document("Once upon a time.") == [1, *tokenizer.encode("Once upon a time."), 2]
    ids = tokenizer.encode_interaction("Where do I live?", "You live in Oslo.")
    assert tokenizer.decode(ids) == "Where do I live?You live in Oslo."
    assert tokenizer.decode(ids, skip_special_tokens=False) == "[Q]Where do I live?[A]You live in Oslo.[EOS]"
    assert tokenizer.encode_batch(["Where do I live?", "You live in Oslo."]) == [q, a]


def test_save_and_load_give_the_same_tokenizer(tokenizer: RxTTokenizer, tmp_path: Path) -> None:
    path = tokenizer.save(tmp_path / "tok.json")
    assert path == tmp_path / "tok.json" and path.is_file()
    assert tokenizer.save(tmp_path / "model") == tmp_path / "model" / "tokenizer.json"  # a model folder
    for loaded in (RxTTokenizer.load(path), RxTTokenizer.load(tmp_path / "model")):
        assert loaded.vocab_size == tokenizer.vocab_size
        for text in [*SAMPLES, "say [EOS] literally"]:
            assert loaded.encode(text) == tokenizer.encode(text)


def test_load_rejects_a_tokenizer_with_other_special_ids(tmp_path: Path) -> None:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "[PAD]"], show_progress=False)
    tok.train_from_iterator(["hello world"] * 10, trainer=trainer)
    tok.save(str(tmp_path / "tokenizer.json"))
    with pytest.raises(ValueError, match=r"tokenizer.json: special token \[PAD\] must have id 0, has 1"):
        RxTTokenizer.load(tmp_path)
    with pytest.raises(FileNotFoundError):
        RxTTokenizer.load(tmp_path / "nope.json")


def test_train_rejects_a_vocabulary_smaller_than_the_bytes() -> None:
    with pytest.raises(ValueError, match="at least 262"):
        RxTTokenizer.train(["hello"], vocab_size=100)


def test_decode_rejects_ids_outside_the_vocabulary(tokenizer: RxTTokenizer) -> None:
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tokenizer.decode([7, tokenizer.vocab_size])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tokenizer.stream_decoder().push([-1])


@pytest.mark.parametrize("text", SAMPLES)
def test_stream_deltas_never_split_a_character(tokenizer: RxTTokenizer, text: str) -> None:
    ids = tokenizer.encode(text)
    dec = tokenizer.stream_decoder()
    deltas = [dec.push([i]) for i in ids]
    assert all("\ufffd" not in d for d in deltas)
    assert "".join(deltas) + dec.finish() == text == tokenizer.decode(ids)


def test_a_character_cut_across_tokens_is_held_back(tokenizer: RxTTokenizer) -> None:
    text = "a🇳🇴b"  # rare 4-byte characters: the small vocabulary splits them into byte tokens
    ids = tokenizer.encode(text)
    dec = tokenizer.stream_decoder()
    deltas = [dec.update(ids[: n + 1]) for n in range(len(ids))]  # growing "ids so far"
    assert "" in deltas  # at least one token completed no character
    assert "".join(deltas) == text
    assert dec.update(ids) == ""  # nothing new


def test_finish_flushes_an_incomplete_character_and_specials_can_show(tokenizer: RxTTokenizer) -> None:
    ids = tokenizer.encode("ok 🦜")  # a character the small vocabulary keeps as 4 byte tokens
    dec = tokenizer.stream_decoder()
    text = dec.push(ids[:-1])
    assert text.startswith("ok") and "\ufffd" not in text
    assert dec.finish() == "\ufffd"
    dec = tokenizer.stream_decoder(skip_special_tokens=False)
    assert dec.push(tokenizer.encode_interaction("hi", "yo")) == "[Q]hi[A]yo[EOS]"
    with pytest.raises(ValueError, match="fewer than"):
        dec.update([3])
