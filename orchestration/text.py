"""Text <-> token ids for the service, with streaming-safe text deltas.

The service needs three things of a tokenizer: `encode` a query, `decode` a whole answer (for
the interaction log) and `stream()` — a decoder that turns tokens into text deltas as they are
generated without ever emitting half a UTF-8 character. `rxt_core.tokenizer` provides them; this
module adapts its incremental decoder to one-token-at-a-time pushes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from rxt_core.tokenizer import IncrementalDecoder, RxTTokenizer


class TextStream(Protocol):
    def push(self, token: int) -> str:
        """The text that `token` completes ('' while a character is still incomplete)."""

    def flush(self) -> str:
        """Whatever is still held back at the end of the answer."""


class Tokenizer(Protocol):
    def encode(self, text: str) -> list[int]: ...
    def decode(self, ids: list[int]) -> str: ...
    def stream(self) -> TextStream: ...


class ServiceTokenizer:
    def __init__(self, tokenizer: RxTTokenizer):
        self._tok = tokenizer

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text)

    def decode(self, ids: list[int]) -> str:
        return self._tok.decode(ids)

    def stream(self) -> TextStream:
        return _Stream(self._tok.stream_decoder())


class _Stream:
    def __init__(self, decoder: IncrementalDecoder):
        self._decoder = decoder

    def push(self, token: int) -> str:
        return self._decoder.push([token])

    def flush(self) -> str:
        return self._decoder.finish()


def load_tokenizer(model_dir: str | Path) -> Tokenizer:
    """The `tokenizer.json` saved in a model folder."""
    return ServiceTokenizer(RxTTokenizer.load(model_dir))
