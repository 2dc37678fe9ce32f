"""Plain-text corpora for stage 1 (joint LM pre-training) and tokenizer training.

A corpus is a `.txt` file or a folder of them (read in sorted order). Documents are either one
per line (`by="line"`) or paragraphs separated by blank lines (`by="paragraph"`, the lines of a
paragraph kept with their newlines). Blank documents are skipped; reading is lazy.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

from .dialogue import Dialogue

Split = Literal["line", "paragraph"]


def read_text(path: str | Path, by: Split = "line") -> Iterator[str]:
    """Stream the documents of a text file, or of every `*.txt` under a folder."""
    path = Path(path)
    files = sorted(path.rglob("*.txt")) if path.is_dir() else [path]
    if not files:
        raise ValueError(f"{path}: no .txt files in this folder")
    for file in files:
        yield from _documents(file, by)


def _documents(file: Path, by: Split) -> Iterator[str]:
    if by not in ("line", "paragraph"):
        raise ValueError(f"by must be 'line' or 'paragraph', got {by!r}")
    with open(file, encoding="utf-8") as f:
        if by == "line":
            yield from (doc for line in f if (doc := line.strip()))
            return
        block: list[str] = []
        for line in f:
            if line.strip():
                block.append(line.rstrip("\n"))
            elif block:
                yield "\n".join(block)
                block = []
        if block:
            yield "\n".join(block)


def dialogue_texts(dialogues: Iterable[Dialogue]) -> Iterator[str]:
    """Every query and answer as its own text (what the tokenizer trains on)."""
    for dialogue in dialogues:
        for turn in dialogue.turns:
            yield turn.query
            yield turn.answer
