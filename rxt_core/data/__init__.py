"""Dialogue data for RxT: typed records, loaders, plain-text corpora and a synthetic generator.

    from rxt_core.data import load_dialogues, generate
    for dialogue in load_dialogues("train.jsonl"):   # or a parquet file / save_to_disk folder
        ...

`datasets`/`pyarrow` are imported only when Hugging Face data is read.
"""

from .corpus import dialogue_texts, read_text
from .dialogue import DataError, Dialogue, Fact, Recall, Turn, parse_dialogue, read_jsonl, write_jsonl
from .hf import read_hf
from .sources import load_dialogues, load_texts
from .synth import SPLITS, SynthConfig, generate

__all__ = [
    "SPLITS",
    "DataError",
    "Dialogue",
    "Fact",
    "Recall",
    "SynthConfig",
    "Turn",
    "dialogue_texts",
    "generate",
    "load_dialogues",
    "load_texts",
    "parse_dialogue",
    "read_hf",
    "read_jsonl",
    "read_text",
    "write_jsonl",
]
