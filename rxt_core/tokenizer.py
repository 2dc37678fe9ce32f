"""Byte-level BPE tokenizer with RxT's special tokens, and a streaming-safe decoder.

Special tokens have fixed ids, in this order: `[PAD]`=0, `[BOS]`=1, `[EOS]`=2, `[Q]`=3,
`[A]`=4, `[MASK]`=5 (`RxTConfig` assumes them). Sequence layouts:

    generation prompt:  [Q] query [A]                  (`encode_prompt`; the model then
                                                        generates the answer until [EOS])
    interaction:        [Q] query [A] answer [EOS]     (`encode_interaction`: what training
                                                        and the memory encoder see)
    plain document:     [BOS] text [EOS]               (`encode_document`, stage-1 text)

Text is encoded with `add_prefix_space=False`, so `decode(encode(s)) == s` for every string,
and special-token spellings inside user text ("[EOS]") are encoded as ordinary text: only
these helpers ever emit special ids. The file on disk is a standard `tokenizer.json`.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

SPECIAL_TOKENS = ("[PAD]", "[BOS]", "[EOS]", "[Q]", "[A]", "[MASK]")
PAD_ID, BOS_ID, EOS_ID, QUERY_ID, ANSWER_ID, MASK_ID = range(len(SPECIAL_TOKENS))
FILE_NAME = "tokenizer.json"


class RxTTokenizer:
    """A thin wrapper over a `tokenizers.Tokenizer` that knows the RxT layouts."""

    def __init__(self, tokenizer: Tokenizer, source: str = "tokenizer") -> None:
        for expected_id, token in enumerate(SPECIAL_TOKENS):
            if tokenizer.token_to_id(token) != expected_id:
                raise ValueError(
                    f"{source}: special token {token} must have id {expected_id}, "
                    f"has {tokenizer.token_to_id(token)}"
                )
        tokenizer.encode_special_tokens = True  # "[Q]" typed by a user is text, not a marker
        self._tok = tokenizer
        self._pieces = _byte_pieces(tokenizer)

    # -- building, saving, loading ---------------------------------------------------------

    @classmethod
    def train(
        cls, texts: Iterable[str], vocab_size: int = 8192, min_frequency: int = 2, show_progress: bool = False
    ) -> RxTTokenizer:
        """Train byte-level BPE on an iterator of texts (it is consumed once, lazily)."""
        floor = 256 + len(SPECIAL_TOKENS)
        if vocab_size < floor:
            raise ValueError(
                f"vocab_size must be at least {floor} (256 bytes + special tokens), got {vocab_size}"
            )
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=list(SPECIAL_TOKENS),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=show_progress,
        )
        tok.train_from_iterator(texts, trainer=trainer)
        return cls(tok)

    @classmethod
    def load(cls, path: str | Path) -> RxTTokenizer:
        """Load a `*.json` file, or the `tokenizer.json` inside a model folder."""
        path = _file_path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no tokenizer file")
        return cls(Tokenizer.from_file(str(path)), source=str(path))

    def save(self, path: str | Path) -> Path:
        """Write to `path` if it ends in `.json`, else to `path/tokenizer.json`; returns the file."""
        path = _file_path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._tok.save(str(path))
        return path

    # -- ids ------------------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size()

    # The special ids are fixed for every RxT tokenizer (checked on construction).
    pad_id: Final = PAD_ID
    bos_id: Final = BOS_ID
    eos_id: Final = EOS_ID
    query_id: Final = QUERY_ID
    answer_id: Final = ANSWER_ID
    mask_id: Final = MASK_ID

    def token_of(self, token_id: int) -> str:
        """The vocabulary entry of an id (byte-level form, e.g. 'Ġhello'); for debugging."""
        return self._tok.id_to_token(self._check_id(token_id))

    def pieces(self) -> list[str]:
        """Every vocabulary entry by id, in byte-level form ('Ġhello'): what `WordPieces.fill`
        reads."""
        return [self._tok.id_to_token(token_id) for token_id in range(self.vocab_size)]

    # -- encoding -------------------------------------------------------------------------

    def encode(self, text: str) -> list[int]:
        """Plain text to ids, no special tokens."""
        return self._tok.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """`encode` for many texts at once (parallel in Rust)."""
        return [e.ids for e in self._tok.encode_batch(list(texts), add_special_tokens=False)]

    def encode_query(self, query: str) -> list[int]:
        """`[Q] query`."""
        return [QUERY_ID, *self.encode(query)]

    def encode_prompt(self, query: str) -> list[int]:
        """`[Q] query [A]`: what generation starts from."""
        return [QUERY_ID, *self.encode(query), ANSWER_ID]

    def encode_interaction(self, query: str, answer: str) -> list[int]:
        """`[Q] query [A] answer [EOS]`."""
        return [QUERY_ID, *self.encode(query), ANSWER_ID, *self.encode(answer), EOS_ID]

    def encode_document(self, text: str) -> list[int]:
        """`[BOS] text [EOS]`: one plain-text document for stage-1 pre-training."""
        return [BOS_ID, *self.encode(text), EOS_ID]

    # -- decoding -------------------------------------------------------------------------

    def decode(self, ids: Iterable[int], skip_special_tokens: bool = True) -> str:
        """Ids to text; special tokens are dropped unless `skip_special_tokens=False`."""
        ids = [self._check_id(i) for i in ids]
        return self._tok.decode(ids, skip_special_tokens=skip_special_tokens)

    def stream_decoder(self, skip_special_tokens: bool = True) -> IncrementalDecoder:
        """A decoder that turns generated ids into text deltas as they arrive."""
        return IncrementalDecoder(self, skip_special_tokens)

    def _check_id(self, token_id: int) -> int:
        if not 0 <= token_id < len(self._pieces):
            raise ValueError(f"token id {token_id} is outside the vocabulary [0, {len(self._pieces)})")
        return token_id


class IncrementalDecoder:
    """Text deltas from a growing id sequence that never split a multi-byte UTF-8 character.

    Each id maps to its raw bytes, which go through an incremental UTF-8 decoder: bytes of a
    character cut across tokens (an emoji is often 2-4 byte tokens) are held back until the
    character is complete. `"".join(deltas) + finish()` equals `decode(all_ids)`.

        dec = tokenizer.stream_decoder()
        for token_id in generated:
            send(dec.push([token_id]))       # or dec.update(ids_so_far)
        send(dec.finish())
    """

    def __init__(self, tokenizer: RxTTokenizer, skip_special_tokens: bool = True) -> None:
        self._tokenizer = tokenizer
        self._skip = skip_special_tokens
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._seen = 0

    def push(self, new_ids: Iterable[int]) -> str:
        """Feed the ids generated since the last call; return the text they complete."""
        pieces = self._tokenizer._pieces
        out: list[str] = []
        for i in new_ids:
            piece = pieces[self._tokenizer._check_id(i)]
            self._seen += 1
            if isinstance(piece, bytes):
                out.append(self._utf8.decode(piece))
            elif not self._skip:
                out.append(self._utf8.decode(piece.encode()))
        return "".join(out)

    def update(self, ids_so_far: Sequence[int]) -> str:
        """Feed all ids generated so far (a growing list); return the new text."""
        if len(ids_so_far) < self._seen:
            raise ValueError(
                f"ids_so_far has {len(ids_so_far)} ids, fewer than the {self._seen} already decoded"
            )
        return self.push(ids_so_far[self._seen :])

    def finish(self) -> str:
        """Flush at the end of the stream: an incomplete character becomes U+FFFD."""
        return self._utf8.decode(b"", final=True)


def _file_path(path: str | Path) -> Path:
    """A path ending in .json is the file; anything else is a (model) folder holding it."""
    path = Path(path)
    return path if path.suffix == ".json" else path / FILE_NAME


def _byte_pieces(tokenizer: Tokenizer) -> list[bytes | str]:
    """Per id: the raw bytes of a BPE token, or the text of a special/added token (a str)."""
    byte_of = _unicode_to_byte()
    added = {t.content for t in tokenizer.get_added_tokens_decoder().values()}
    pieces: list[bytes | str] = []
    for i in range(tokenizer.get_vocab_size()):
        token = tokenizer.id_to_token(i)
        if token is None or token in added:
            pieces.append(token or "")
        else:
            pieces.append(bytes(byte_of[c] for c in token))
    return pieces


def _unicode_to_byte() -> dict[str, int]:
    """Invert byte-level BPE's byte -> printable-character map.

    Bytes that are printable Latin-1 characters stand for themselves; the other 68 bytes
    (controls, space, a few Latin-1 gaps) are shifted, in byte order, to U+0100 and up.
    """
    printable = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    shifted = sorted(set(range(256)) - set(printable))
    mapping = {chr(b): b for b in printable}
    mapping.update({chr(0x100 + n): b for n, b in enumerate(shifted)})
    return mapping
