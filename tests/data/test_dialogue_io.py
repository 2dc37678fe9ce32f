"""JSONL dialogues: round trips, lazy reading, and errors that name the file and line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rxt_core.data.dialogue import Dialogue, Fact, Recall, Turn, read_jsonl, write_jsonl

GOOD = {
    "turns": [{"query": "Hi, I'm Maya.", "answer": "Hello, Maya!"}, {"query": "Who am I?", "answer": "Maya."}]
}


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_round_trip_keeps_text_and_metadata(tmp_path: Path) -> None:
    dialogues = [
        Dialogue(
            (
                Turn("I live in Zürich 🏔️.", "Zürich, nice!", stated=(Fact("city", "Zürich"),)),
                Turn("Where do I live?", "You live in Zürich.", recall=Recall("city", "Zürich", 1)),
            )
        ),
        Dialogue((Turn("What is 2 plus 2?", "4."),)),
    ]
    path = tmp_path / "d.jsonl"
    assert write_jsonl(path, dialogues) == 2
    assert list(read_jsonl(path)) == dialogues
    assert "Zürich" in path.read_text(encoding="utf-8")  # UTF-8, not \\u escapes


def test_blank_lines_and_extra_fields_are_tolerated(tmp_path: Path) -> None:
    record = {"id": 7, "source": "web", "turns": [{"query": "q", "answer": "a", "lang": "en"}]}
    path = _write_lines(tmp_path / "d.jsonl", ["", json.dumps(record), "   ", json.dumps(GOOD)])
    dialogues = list(read_jsonl(path))
    assert [len(d.turns) for d in dialogues] == [1, 2]
    assert dialogues[0].turns[0] == Turn("q", "a")


def test_reading_is_lazy_and_stops_at_the_bad_line(tmp_path: Path) -> None:
    path = _write_lines(tmp_path / "d.jsonl", [json.dumps(GOOD), json.dumps(GOOD), "{broken"])
    reader = read_jsonl(path)
    assert next(reader).turns[0].query == "Hi, I'm Maya."
    assert next(reader).turns[1].answer == "Maya."
    with pytest.raises(ValueError, match=re.escape(f"{path}:3: invalid JSON")):
        next(reader)


BAD_LINES = [
    ("{not json", "invalid JSON"),
    ('["a", "list"]', "expected an object with a 'turns' list, got list"),
    ('{"dialogue": []}', "missing field 'turns'"),
    ('{"turns": "hello"}', "field 'turns' must be a list, got str"),
    ('{"turns": []}', "empty dialogue (no turns)"),
    ('{"turns": ["hello"]}', "turn 1: expected an object with 'query' and 'answer', got str"),
    ('{"turns": [{"query": "q", "answer": "a"}, {"answer": "a"}]}', "turn 2: missing field 'query'"),
    ('{"turns": [{"query": "q"}]}', "turn 1: missing field 'answer'"),
    ('{"turns": [{"query": 42, "answer": "a"}]}', "turn 1: field 'query' must be a string, got int"),
    ('{"turns": [{"query": "q", "answer": null}]}', "turn 1: field 'answer' must be a string, got null"),
    ('{"turns": [{"query": "  ", "answer": "a"}]}', "turn 1: field 'query' is empty"),
    ('{"turns": [{"query": "q", "answer": "a", "recall": {"fact": "x"}}]}', "turn 1: malformed 'recall'"),
]


@pytest.mark.parametrize(("line", "problem"), BAD_LINES)
def test_bad_input_names_file_line_and_problem(tmp_path: Path, line: str, problem: str) -> None:
    path = _write_lines(tmp_path / "bad.jsonl", [json.dumps(GOOD), "", line])
    with pytest.raises(ValueError, match=re.escape(f"{path}:3: {problem}")):
        list(read_jsonl(path))


def test_max_tokens_rejects_a_turn_longer_than_the_model(tmp_path: Path, tokenizer) -> None:
    long_answer = "word " * 300
    lines = [
        json.dumps(GOOD),
        json.dumps({"turns": [{"query": "q", "answer": "a"}, {"query": "q", "answer": long_answer}]}),
    ]
    path = _write_lines(tmp_path / "d.jsonl", lines)
    n = len(tokenizer.encode_interaction("q", long_answer))
    assert n > 256
    with pytest.raises(ValueError, match=re.escape(f"{path}:2: turn 2 is {n} tokens") + ".*max_tokens=256"):
        list(read_jsonl(path, tokenizer, max_tokens=256))
    assert len(list(read_jsonl(path, tokenizer, max_tokens=n))) == 2


def test_length_check_needs_both_tokenizer_and_limit(tmp_path: Path, tokenizer) -> None:
    path = _write_lines(tmp_path / "d.jsonl", [json.dumps(GOOD)])
    with pytest.raises(ValueError, match="both tokenizer and max_tokens"):
        list(read_jsonl(path, tokenizer))
