"""Text <-> token ids for the service, with streaming-safe text deltas.

The service needs three things of a tokenizer: `encode` a query, `decode` a whole answer (for
the interaction log) and `stream()` — a decoder that turns tokens into text deltas as they are
generated without ever emitting half a UTF-8 character or a wrong space (a token's text can
depend on the next one). This module is the only place that knows the tokenizer library.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from tokenizers import Tokenizer as HFTokenizer
from tokenizers.decoders import DecodeStream

TOKENIZER_FILE = "tokenizer.json"


class TextStream(Protocol):
    def push(self, token: int) -> str:
        """The text that `token` completes ('' while it is still ambiguous)."""

    def flush(self) -> str:
        """Whatever is still held back at the end of the answer."""


class Tokenizer(Protocol):
    def encode(self, text: str) -> list[int]: ...
    def decode(self, ids: list[int]) -> str: ...
    def stream(self) -> TextStream: ...


class FileTokenizer:
    """A `tokenizer.json` (Hugging Face tokenizers format) saved with the model."""

    def __init__(self, tokenizer: HFTokenizer):
        self._tok = tokenizer

    @classmethod
    def load(cls, model_dir: str | Path) -> FileTokenizer:
        path = Path(model_dir) / TOKENIZER_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: the model folder has no tokenizer")
        return cls(HFTokenizer.from_file(str(path)))

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        return self._tok.decode(ids, skip_special_tokens=True)

    def stream(self) -> TextStream:
        return _Stream(self._tok)


class _Stream:
    def __init__(self, tokenizer: HFTokenizer):
        self._tok = tokenizer
        self._stream = DecodeStream(skip_special_tokens=True)

    def push(self, token: int) -> str:
        return self._stream.step(self._tok, token) or ""

    def flush(self) -> str:
        return ""  # DecodeStream emits a chunk as soon as it is valid text: nothing is held at the end


def load_tokenizer(model_dir: str | Path) -> Tokenizer:
    return FileTokenizer.load(model_dir)
