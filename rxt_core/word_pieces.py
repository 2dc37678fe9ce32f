"""What the memory write knows of words: which token continues the word of the token before it,
and which has a space-led twin ('Z' -> 'ĠZ'). Two tables from the tokenizer's vocabulary, kept as
buffers beside the weights (rxt_core's model knows no tokenizer; `rxt train` fills them from its
tokenizer, `training.pipeline.with_word_tables`; a model built by hand calls `fill`).

Why (session 30): the keep write keeps single tokens, and a value's pieces are scored one by one,
so a name could be kept without its first piece ("Chovel is my neighbour." kept "ho vel", and the
recall said "Nhovel"): `RxTConfig.keep_whole_words` keeps every piece of a word any of whose
pieces is kept. And a word that opens the user's sentence is spelled without the space that every
later mention of it has, so the pointer had no id to copy for it: `RxTConfig.pointer_space_twins`
stores a query's first token as its space-led twin (in the pointer's id layer only; the encoder
still reads the token as it was).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

SPACE = "Ġ"  # the byte-level BPE's spelling of a leading space


class WordPieces(nn.Module):
    def __init__(self, vocab_size: int, query_id: int):
        super().__init__()
        self.query_id = query_id
        # empty until `fill`: every id its own twin, no piece starts or ends a word's letters
        self.register_buffer("twins", torch.arange(vocab_size))
        self.register_buffer("opens", torch.zeros(vocab_size, dtype=torch.bool))  # starts with one
        self.register_buffer("closes", torch.zeros(vocab_size, dtype=torch.bool))  # ends with one

    @torch.no_grad()
    def fill(self, pieces: list[str], first_ordinary: int) -> None:
        """Fill the tables from the vocabulary's pieces by id (byte-level form, `RxTTokenizer.
        pieces`); ids below `first_ordinary` (the special tokens) are nobody's words."""
        if len(pieces) != len(self.twins):
            raise ValueError(f"{len(pieces)} pieces for a vocabulary of {len(self.twins)}")
        index = {piece: token_id for token_id, piece in enumerate(pieces)}
        ordinary = [token_id >= first_ordinary and bool(piece) for token_id, piece in enumerate(pieces)]
        opens = [own and _word_char(piece[0]) for own, piece in zip(ordinary, pieces, strict=True)]
        closes = [own and _word_char(piece[-1]) for own, piece in zip(ordinary, pieces, strict=True)]
        twins = [
            index.get(SPACE + piece, token_id) if opening and piece[0].isalpha() else token_id
            for token_id, (piece, opening) in enumerate(zip(pieces, opens, strict=True))
        ]
        self.opens.copy_(torch.tensor(opens))
        self.closes.copy_(torch.tensor(closes))
        self.twins.copy_(torch.tensor(twins))

    @property
    def filled(self) -> bool:
        """Whether `fill` has run (an empty table makes both rules do nothing, silently)."""
        return bool(self.opens.any())

    def continues(self, ids: torch.Tensor) -> torch.Tensor:
        """[B, T]: the tokens of `ids` [B, T] that go on the word of the token before them (no
        space or punctuation between)."""
        return self.opens[ids] & F.pad(self.closes[ids[:, :-1]], (1, 0), value=False)

    def with_query_twins(self, ids: torch.Tensor) -> torch.Tensor:
        """[B, T]: `ids` with the first token of each query (the one after [Q]) as its twin."""
        opens_query = F.pad(ids[:, :-1] == self.query_id, (1, 0), value=False)
        return torch.where(opens_query, self.twins[ids], ids)


def _word_char(char: str) -> bool:
    """An ASCII letter or digit. Byte-level BPE spells every other byte as some printable
    character, many of them letters ('Ġ', a space; 'Ã', half of 'é'): those do not count."""
    return char.isascii() and char.isalnum()


def whole_words(kept: torch.Tensor, continues: torch.Tensor) -> torch.Tensor:
    """[B, T]: `kept` [B, T] extended to every piece of each word that has a kept piece, words
    being the runs that `continues` [B, T] (`WordPieces.continues`) joins."""
    word = torch.cumsum(~continues, dim=1)  # each token's word number in its row
    any_kept = torch.zeros(kept.shape[0], kept.shape[1] + 1, dtype=torch.bool, device=kept.device)
    any_kept.scatter_reduce_(1, word, kept, reduce="amax")
    return any_kept.gather(1, word)
