"""Typed dialogue records, their validation, and the JSONL format.

The contract (DESIGN.md): one dialogue a line, `{"turns": [{"query": "...", "answer": "..."}, ...]}`.
A turn may carry evaluation metadata: `recall` (the turn asks about an earlier fact) and
`stated` (the facts the query states or corrects). Other keys are ignored, so real corpora with
ids or sources load unchanged. Every validation error is a `ValueError` that starts with
`FILE:LINE:` (1-based) and says what is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


class TokenCounter(Protocol):
    """What the length check needs from a tokenizer (`RxTTokenizer` fits)."""

    def encode_interaction(self, query: str, answer: str) -> list[int]: ...


@dataclass(frozen=True, slots=True)
class Fact:
    """A fact the user stated: `fact` is the kind (e.g. "pet_name"), `value` the text."""

    fact: str
    value: str


@dataclass(frozen=True, slots=True)
class Recall:
    """The turn asks about an earlier fact, last mentioned `distance` turns before."""

    fact: str
    value: str
    distance: int


@dataclass(frozen=True, slots=True)
class Turn:
    query: str
    answer: str
    recall: Recall | None = None
    stated: tuple[Fact, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"query": self.query, "answer": self.answer}
        if self.recall is not None:
            r = self.recall
            out["recall"] = {"fact": r.fact, "value": r.value, "distance": r.distance}
        if self.stated:
            out["stated"] = [{"fact": f.fact, "value": f.value} for f in self.stated]
        return out


@dataclass(frozen=True, slots=True)
class Dialogue:
    turns: tuple[Turn, ...]

    def to_json(self) -> dict[str, Any]:
        return {"turns": [t.to_json() for t in self.turns]}


class DataError(ValueError):
    """Bad input data; the message names the source (file:line) and the problem."""


def parse_dialogue(record: Any, where: str) -> Dialogue:
    """Validate one decoded record; `where` (e.g. "data.jsonl:12") prefixes every error."""
    if not isinstance(record, dict):
        raise DataError(f"{where}: expected an object with a 'turns' list, got {_kind(record)}")
    if "turns" not in record:
        raise DataError(f"{where}: missing field 'turns'")
    turns = record["turns"]
    if not isinstance(turns, list | tuple):
        raise DataError(f"{where}: field 'turns' must be a list, got {_kind(turns)}")
    if not turns:
        raise DataError(f"{where}: empty dialogue (no turns)")
    return Dialogue(tuple(parse_turn(t, f"{where}: turn {i}") for i, t in enumerate(turns, 1)))


def parse_turn(record: Any, where: str) -> Turn:
    if not isinstance(record, dict):
        raise DataError(f"{where}: expected an object with 'query' and 'answer', got {_kind(record)}")
    query, answer = (_text(record, key, where) for key in ("query", "answer"))
    recall = record.get("recall")
    stated = record.get("stated") or ()
    try:
        return Turn(
            query,
            answer,
            None
            if recall is None
            else Recall(str(recall["fact"]), str(recall["value"]), int(recall["distance"])),
            tuple(Fact(str(f["fact"]), str(f["value"])) for f in stated),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(f"{where}: malformed 'recall' or 'stated' metadata ({e!r})") from None


def _text(record: dict[str, Any], key: str, where: str) -> str:
    if key not in record:
        raise DataError(f"{where}: missing field '{key}'")
    value = record[key]
    if not isinstance(value, str):
        raise DataError(f"{where}: field '{key}' must be a string, got {_kind(value)}")
    if not value.strip():
        raise DataError(f"{where}: field '{key}' is empty")
    return value


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def check_lengths(dialogue: Dialogue, tokenizer: TokenCounter, max_tokens: int, where: str) -> None:
    """Raise if a turn's `[Q] query [A] answer [EOS]` does not fit the model's positions."""
    for i, turn in enumerate(dialogue.turns, 1):
        n = len(tokenizer.encode_interaction(turn.query, turn.answer))
        if n > max_tokens:
            raise DataError(
                f"{where}: turn {i} is {n} tokens as [Q] query [A] answer [EOS], "
                f"longer than max_tokens={max_tokens}"
            )


def read_jsonl(
    path: str | Path, tokenizer: TokenCounter | None = None, max_tokens: int | None = None
) -> Iterator[Dialogue]:
    """Stream dialogues from a JSONL file, one per non-blank line, validating as it goes.

    With a tokenizer and `max_tokens`, a turn too long for the model is an error too.
    """
    if (tokenizer is None) != (max_tokens is None):
        raise ValueError("pass both tokenizer and max_tokens to check turn lengths, or neither")
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{where}: invalid JSON: {e.msg} (column {e.colno})") from None
            dialogue = parse_dialogue(record, where)
            if tokenizer is not None and max_tokens is not None:
                check_lengths(dialogue, tokenizer, max_tokens, where)
            yield dialogue


def write_jsonl(path: str | Path, dialogues: Iterable[Dialogue]) -> int:
    """Write one dialogue a line (UTF-8, no ASCII escaping); returns how many were written."""
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for d in dialogues:
            f.write(json.dumps(d.to_json(), ensure_ascii=False))
            f.write("\n")
            n += 1
    return n
