"""Hugging Face data on disk (load_from_disk, parquet), plain-text corpora and path dispatch."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rxt_core.data.corpus import read_text
from rxt_core.data.dialogue import Dialogue, Turn
from rxt_core.data.hf import read_hf
from rxt_core.data.sources import load_dialogues, load_texts
from rxt_core.data.synth import generate

datasets = pytest.importorskip("datasets")

ROWS = [
    {"turns": [{"query": "I'm Ada.", "answer": "Hi Ada!"}, {"query": "Who am I?", "answer": "You're Ada."}]},
    {"turns": [{"query": "Café ☕?", "answer": "Oui."}]},
]
EXPECTED = [
    Dialogue((Turn("I'm Ada.", "Hi Ada!"), Turn("Who am I?", "You're Ada."))),
    Dialogue((Turn("Café ☕?", "Oui."),)),
]


def test_load_from_disk_round_trip(tmp_path: Path) -> None:
    datasets.Dataset.from_list(ROWS).save_to_disk(str(tmp_path / "ds"))
    assert list(read_hf(tmp_path / "ds")) == EXPECTED
    assert list(load_dialogues(tmp_path / "ds")) == EXPECTED


def test_dataset_dict_picks_train_or_the_named_split(tmp_path: Path) -> None:
    dd = datasets.DatasetDict(
        {"train": datasets.Dataset.from_list(ROWS), "test": datasets.Dataset.from_list(ROWS[1:])}
    )
    dd.save_to_disk(str(tmp_path / "dd"))
    assert list(read_hf(tmp_path / "dd")) == EXPECTED
    assert list(read_hf(tmp_path / "dd", split="test")) == EXPECTED[1:]
    with pytest.raises(ValueError, match=r"choose a split.*\['train', 'test'\]"):
        list(read_hf(tmp_path / "dd", split="validation"))


def test_parquet_round_trip_keeps_synthetic_metadata(tmp_path: Path) -> None:
    dialogues = list(generate("train", 30, seed=5))
    datasets.Dataset.from_list([d.to_json() for d in dialogues]).to_parquet(str(tmp_path / "d.parquet"))
    assert list(read_hf(tmp_path / "d.parquet")) == dialogues
    assert list(load_dialogues(tmp_path / "d.parquet")) == dialogues


def test_query_answer_columns_become_single_turn_dialogues(tmp_path: Path) -> None:
    rows = [{"query": "2+2?", "answer": "4"}, {"query": "Capital of France?", "answer": "Paris"}]
    folder = tmp_path / "shards"
    folder.mkdir()
    datasets.Dataset.from_list(rows).to_parquet(str(folder / "part-0.parquet"))
    assert list(read_hf(folder)) == [
        Dialogue((Turn("2+2?", "4"),)),
        Dialogue((Turn("Capital of France?", "Paris"),)),
    ]


def test_bad_row_names_file_and_row(tmp_path: Path) -> None:
    rows = [{"query": "fine", "answer": "yes"}, {"query": "broken", "answer": None}]
    datasets.Dataset.from_list(rows).to_parquet(str(tmp_path / "bad.parquet"))
    path = tmp_path / "bad.parquet"
    with pytest.raises(
        ValueError, match=re.escape(f"{path}:row 2: turn 1: field 'answer' must be a string, got null")
    ):
        list(read_hf(path))


def test_missing_columns_are_reported(tmp_path: Path) -> None:
    datasets.Dataset.from_list([{"text": "hello"}]).save_to_disk(str(tmp_path / "ds"))
    with pytest.raises(
        ValueError, match="needs a 'turns' column or 'query' and 'answer' columns, has \\['text'\\]"
    ):
        list(read_hf(tmp_path / "ds"))


def test_text_corpus_by_line_and_by_paragraph(tmp_path: Path) -> None:
    path = tmp_path / "corpus.txt"
    path.write_text("First doc.\n\n  \nSecond doc, line one.\nLine two.\n\n\nThird.\n", encoding="utf-8")
    assert list(read_text(path)) == ["First doc.", "Second doc, line one.", "Line two.", "Third."]
    assert list(read_text(path, by="paragraph")) == [
        "First doc.",
        "Second doc, line one.\nLine two.",
        "Third.",
    ]


def test_text_folder_is_read_in_sorted_order(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("bee\n", encoding="utf-8")
    (tmp_path / "a.txt").write_text("ant\n", encoding="utf-8")
    assert list(read_text(tmp_path)) == ["ant", "bee"]


def test_load_texts_mixes_sources_and_load_dialogues_rejects_text(tmp_path: Path) -> None:
    (tmp_path / "c.txt").write_text("a document\n", encoding="utf-8")
    datasets.Dataset.from_list(ROWS[1:]).to_parquet(str(tmp_path / "d.parquet"))
    assert list(load_texts([tmp_path / "c.txt", tmp_path / "d.parquet"])) == [
        "a document",
        "Café ☕?",
        "Oui.",
    ]
    with pytest.raises(ValueError, match="plain text has no dialogues"):
        load_dialogues(tmp_path / "c.txt")
    with pytest.raises(FileNotFoundError, match="missing.jsonl"):
        load_dialogues(tmp_path / "missing.jsonl")
