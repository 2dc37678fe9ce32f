"""One entry point that reads dialogues or texts from any supported source, chosen by path.

*.jsonl                          JSONL dialogues (the contract)
*.parquet, a folder of parquet   Hugging Face rows (`turns` or `query`/`answer` columns)
a `save_to_disk` folder          Hugging Face `datasets.load_from_disk`
*.txt, a folder of .txt          plain text (texts only: it has no dialogues)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from .corpus import Split, dialogue_texts, read_text
from .dialogue import Dialogue, TokenCounter, read_jsonl
from .hf import read_hf


def load_dialogues(
    path: str | Path,
    split: str | None = None,
    tokenizer: TokenCounter | None = None,
    max_tokens: int | None = None,
) -> Iterator[Dialogue]:
    """Stream validated `Dialogue`s from a JSONL file or Hugging Face data on disk."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.suffix == ".jsonl":
        return read_jsonl(path, tokenizer, max_tokens)
    if path.suffix == ".txt" or (path.is_dir() and _is_text_folder(path)):
        raise ValueError(f"{path}: plain text has no dialogues; read it with read_text() for stage 1")
    return read_hf(path, split, tokenizer, max_tokens)


def load_texts(paths: Iterable[str | Path], by: Split = "line") -> Iterator[str]:
    """Stream texts from any mix of sources: documents of text corpora, turns of dialogues."""
    for path in map(Path, paths):
        if path.suffix == ".txt" or (path.is_dir() and _is_text_folder(path)):
            yield from read_text(path, by)
        else:
            yield from dialogue_texts(load_dialogues(path))


def _is_text_folder(path: Path) -> bool:
    saved = (path / "state.json").exists() or (path / "dataset_dict.json").exists()
    return not saved and any(path.rglob("*.txt")) and not any(path.rglob("*.parquet"))
