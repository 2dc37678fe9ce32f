"""Dialogues from Hugging Face `datasets` saved on disk and from parquet files.

Rows have a `turns` column (a list of `{query, answer}` structs, like the JSONL contract) or
`query`/`answer` columns (one single-turn dialogue per row, for stage-2 interaction data).
`datasets`/`pyarrow` are imported only here and only when called, so `rxt_core` works without
them. Errors name the file (or dataset folder) and the 1-based row.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .dialogue import DataError, Dialogue, TokenCounter, check_lengths, parse_dialogue


def read_hf(
    path: str | Path,
    split: str | None = None,
    tokenizer: TokenCounter | None = None,
    max_tokens: int | None = None,
) -> Iterator[Dialogue]:
    """Stream dialogues from a `save_to_disk` folder, a parquet file or a folder of parquet files.

    `split` picks one split of a saved `DatasetDict` (default: "train", or its only split).
    """
    if (tokenizer is None) != (max_tokens is None):
        raise ValueError("pass both tokenizer and max_tokens to check turn lengths, or neither")
    path = Path(path)
    for where, row in _rows(path, split):
        dialogue = _to_dialogue(row, where)
        if tokenizer is not None and max_tokens is not None:
            check_lengths(dialogue, tokenizer, max_tokens, where)
        yield dialogue


def _rows(path: Path, split: str | None) -> Iterator[tuple[str, dict[str, Any]]]:
    if path.is_file() and path.suffix == ".parquet":
        yield from _parquet_rows(path)
    elif path.is_dir() and ((path / "state.json").exists() or (path / "dataset_dict.json").exists()):
        yield from _saved_rows(path, split)
    elif path.is_dir() and (files := sorted(path.rglob("*.parquet"))):
        for file in files:
            yield from _parquet_rows(file)
    else:
        raise DataError(f"{path}: not a parquet file, a `save_to_disk` folder or a folder of parquet files")


def _saved_rows(path: Path, split: str | None) -> Iterator[tuple[str, dict[str, Any]]]:
    datasets = _require("datasets")
    ds = datasets.load_from_disk(str(path))
    if isinstance(ds, datasets.DatasetDict):
        names = list(ds.keys())
        chosen = split or ("train" if "train" in ds else names[0] if len(names) == 1 else None)
        if chosen not in ds:
            raise DataError(f"{path}: choose a split with split=...; it has {names}")
        ds, where = ds[chosen], f"{path}[{chosen}]"
    else:
        where = str(path)
    _check_columns(ds.column_names, where)
    for i, row in enumerate(ds, 1):
        yield f"{where}:row {i}", row


def _parquet_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    pq = _require("pyarrow.parquet")
    file = pq.ParquetFile(path)
    _check_columns(file.schema_arrow.names, str(path))
    i = 0
    for batch in file.iter_batches(batch_size=1024):
        for row in batch.to_pylist():
            i += 1
            yield f"{path}:row {i}", row


def _check_columns(columns: Iterable[str], where: str) -> None:
    columns = set(columns)
    if "turns" not in columns and not {"query", "answer"} <= columns:
        raise DataError(
            f"{where}: needs a 'turns' column or 'query' and 'answer' columns, has {sorted(columns)}"
        )


def _to_dialogue(row: dict[str, Any], where: str) -> Dialogue:
    if "turns" in row:
        return parse_dialogue(row, where)
    return parse_dialogue({"turns": [{"query": row["query"], "answer": row["answer"]}]}, where)


def _require(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"reading Hugging Face data needs `pip install datasets` ({e})") from e
