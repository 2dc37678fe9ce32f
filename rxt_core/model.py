"""The Reactive Transformer: a Generator-Decoder that reads a fixed-size Short-Term Memory, and a
Memory Encoder + Memory Attention network that write each finished interaction into it.

    answer = interact(query, stm)                      # user-facing, cost independent of turn
    stm    = update_memory(stm, query, answer)         # after the answer has streamed

STM is a tensor [batch, layers, slots, dim] (one more layer, the slots' token ids, with
`memory_pointer`); every call takes and returns it explicitly, so the caller (a service, a test,
a training loop) owns where memory lives.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from functools import partial

import torch
from torch import nn

from . import generation
from .checkpoint import PretrainedMixin
from .config import RxTConfig
from .decoder import Decoder
from .encoder import MemoryEncoder
from .interaction import TokenIds, answer_marker, as_batch, as_id_list, interaction_ids, pad_batch, prompt_ids
from .memory_attention import MemoryAttention
from .memory_pointer import FROM_USER, WRITTEN_NOW, MemoryPointer, id_bits, id_rows, slot_ids
from .precision import WritePrecision, write_autocast
from .rope import RotaryEmbedding
from .sampling import SamplingParams
from .word_pieces import WordPieces


class ReactiveTransformer(PretrainedMixin, nn.Module):
    kind = "rxt"

    def __init__(self, config: RxTConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.dim)  # shared by all components
        self.rope = RotaryEmbedding(config.head_dim, config.max_seq_len, config.rope_theta)
        self.decoder = Decoder(config, self.rope, reads_memory=True)
        self.encoder = MemoryEncoder(config, self.rope)
        self.memory_attention = MemoryAttention(config, self.rope)
        self.lm_head = nn.Linear(config.dim, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.lm_head.weight = self.embedding.weight
        self.pointer = MemoryPointer(config) if config.memory_pointer else None
        # the tokenizer's word tables (keep_whole_words, pointer_space_twins), filled by WordPieces.fill
        words = config.keep_whole_words or config.pointer_space_twins
        self.word_pieces = WordPieces(config.vocab_size, config.query_id) if words else None
        content_shape = (config.layers, config.stm_slots, config.dim)
        if config.stm_init == "learned":
            self.stm_init = nn.Parameter(torch.randn(content_shape) * config.stm_init_std)
        self._init_weights()
        self._compiled_write = None  # set by compile_writes()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear) and module.weight is not self.embedding.weight:
                nn.init.normal_(module.weight, std=0.02)
        nn.init.normal_(self.embedding.weight, std=0.02)

    # ---------------------------------------------------------------- memory
    @property
    def stm_shape(self) -> tuple[int, int, int]:
        """[layers, slots, dim] of one session's STM; the memory pointer's id layer is one more."""
        layers = self.config.layers + (self.pointer is not None)
        return (layers, self.config.stm_slots, self.config.dim)

    def init_memory(self, batch_size: int = 1, generator: torch.Generator | None = None) -> torch.Tensor:
        """STM_0 for new sessions, [batch, layers, slots, dim], by `config.stm_init`:
        - "learned": the trained initial memory (identical for every session);
        - "normal":  N(0, stm_init_std) noise, reproducible with `generator`;
        - "zeros":   all zeros."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        dtype, device = self.embedding.weight.dtype, self.device
        shape = (batch_size, self.config.layers, *self.stm_shape[1:])
        match self.config.stm_init:
            case "learned":
                content = self.stm_init.detach().unsqueeze(0).expand(shape).clone()
            case "normal":
                noise = torch.randn(shape, generator=generator, dtype=dtype)
                content = (noise * self.config.stm_init_std).to(device)
            case _:
                content = torch.zeros(shape, dtype=dtype, device=device)
        return self.with_empty_ids(content).detach()

    def with_empty_ids(self, content: torch.Tensor) -> torch.Tensor:
        """The STM for memory content [B, layers, S, D]: itself, or with the memory pointer the
        content and an id layer of empty slots (the pad id in every slot)."""
        if self.pointer is None:
            return content
        pad = torch.full(content.shape[:1] + content.shape[2:3], self.config.pad_id, device=content.device)
        empty = self._id_rows(pad, content.dtype)
        return torch.cat((content, empty[:, None]), dim=1)

    def _id_rows(self, ids: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        return id_rows(ids, self.config.vocab_size, self.config.dim, dtype)

    def slot_ids(self, stm: torch.Tensor) -> torch.Tensor:
        """[B, S]: the token id each slot holds (pad_id: empty); memory pointer models only."""
        if self.pointer is None:
            raise ValueError("this model's STM holds no token ids (config.memory_pointer is off)")
        return slot_ids(stm[:, self.config.layers], self.config.vocab_size, self.config.pad_id)

    def check_memory(self, stm: torch.Tensor, batch_size: int | None = None) -> None:
        """Raise a ValueError naming the problem if `stm` cannot be this model's memory."""
        if not isinstance(stm, torch.Tensor):
            raise ValueError(f"stm must be a torch.Tensor, got {type(stm).__name__}")
        expected = self.stm_shape
        if stm.dim() != 4 or tuple(stm.shape[1:]) != expected:
            raise ValueError(
                f"stm must have shape [batch, {', '.join(map(str, expected))}], got {tuple(stm.shape)}"
            )
        if batch_size is not None and stm.shape[0] != batch_size:
            raise ValueError(f"stm has batch size {stm.shape[0]} but {batch_size} queries were given")
        if stm.dtype != self.embedding.weight.dtype:
            raise ValueError(
                f"stm dtype {stm.dtype} does not match the model's {self.embedding.weight.dtype}"
            )
        if stm.device != self.device:
            raise ValueError(f"stm is on {stm.device} but the model is on {self.device}")

    def encode(self, input_ids: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
        """Encoder hidden states of every layer for right-padded interactions [B, T]."""
        positions = torch.arange(input_ids.shape[1], device=input_ids.device).expand_as(input_ids)
        return self.encoder(self.embedding(input_ids), positions, mask)

    def write_memory(
        self,
        stm: torch.Tensor,
        input_ids: torch.Tensor,
        mask: torch.Tensor,
        layers: Sequence[int] | None = None,
        flag_written: bool = False,
    ) -> torch.Tensor:
        """Differentiable memory update from padded interaction ids (what training calls).
        `layers`: only those content layers (and the ids), as MemoryAttention writes them.
        `flag_written`: this interaction's kept tokens also carry the WRITTEN_NOW mark
        (`memory_pointer.slot_marks`; `_pointer_memory` reads it): for a transient copy only, never
        an STM that is kept. With `pointer_source` the query's tokens carry FROM_USER; with
        `pointer_space_twins` the id layer holds a query's first token as its space-led twin; with
        `keep_whole_words` the keep write keeps whole words (word_pieces.py)."""
        encoded = self.encode(input_ids, mask)
        positions = torch.arange(input_ids.shape[1], device=input_ids.device).expand_as(input_ids)
        # the pointer's id layer stores the tokens' ids, not learned content
        words, config = self.word_pieces, self.config
        continues = words.continues(input_ids) if config.keep_whole_words else None
        stored = words.with_query_twins(input_ids) if config.pointer_space_twins else input_ids
        token_rows = None if self.pointer is None else self._id_rows(stored, stm.dtype)
        marks = id_bits(config.vocab_size)
        if flag_written:
            token_rows[..., marks + WRITTEN_NOW] = 1
        if self.pointer is not None and config.pointer_source:
            token_rows[..., marks + FROM_USER] = self._query_side(input_ids).to(stm.dtype)
        return self.memory_attention(stm, encoded, positions, mask, token_rows, layers, continues)

    def update_memory(
        self,
        stm: torch.Tensor,
        query_ids: TokenIds | Sequence[TokenIds],
        answer_ids: TokenIds | Sequence[TokenIds],
        precision: WritePrecision = "auto",
    ) -> torch.Tensor:
        """STM_t from STM_{t-1} and the finished interaction(s). Batched: pass lists of queries and
        answers, one per STM row. Returns a new tensor in `stm`'s dtype; `stm` is not modified.
        `precision` is what the write computes in: "auto" = bf16 where the device multiplies bf16
        in hardware (CUDA; CPUs with avx512_bf16 / AMX, for writes large enough to gain), else
        fp32 (`rxt_core.precision`)."""
        queries, answers = self._batch_args(query_ids, stm), self._batch_args(answer_ids, stm, answers=True)
        if len(queries) != len(answers):
            raise ValueError(f"{len(queries)} queries but {len(answers)} answers")
        self.check_memory(stm, len(queries))
        rows = [interaction_ids(q, a, self.config) for q, a in zip(queries, answers, strict=True)]
        ids, mask = pad_batch(rows, self.config.pad_id, self.device)
        write = self.write_memory if self._compiled_write is None else partial(self._compiled_write, self)
        with torch.inference_mode(), write_autocast(precision, stm):
            return write(stm, ids, mask).to(stm.dtype)

    def compile_writes(
        self, precision: WritePrecision = "auto", warm_batches: Sequence[int] = (1, 2)
    ) -> float:
        """Route `update_memory`'s writes through torch.compile. A write is dozens of element-wise
        ops over the whole STM, which inductor fuses: on a 2-core Xeon with AMX (session 10) the
        bench-22m update went 29.0 -> 18.5 ms in bf16 and 32.5 -> 25.1 ms in fp32, the bundled
        model's 1.5-1.9x faster. Compiling costs about a minute of CPU, so it is opt-in, and done
        here for `warm_batches` rows in `precision` (other batch sizes compile on first use; shapes
        are dynamic, so interaction lengths do not recompile). Training calls `write_memory`,
        which stays eager. Returns the seconds spent."""
        from torch.fx.experimental import _config as shape_config

        start = time.perf_counter()
        # the unbound method, so a deep copy of this model writes with its own weights
        self._compiled_write = torch.compile(ReactiveTransformer.write_memory, dynamic=True)
        query = answer = [self.config.vocab_size - 1] * 4
        try:
            # without duck sizing, a warm-up batch that equals the layer count (say) does not
            # tie the two together in the compiled graph, which would recompile for every batch
            with shape_config.patch(use_duck_shape=False):
                for rows in warm_batches:
                    self.update_memory(self.init_memory(rows), [query] * rows, [answer] * rows, precision)
        except Exception:
            self._compiled_write = None  # e.g. no C++ compiler: writes stay eager
            raise
        return time.perf_counter() - start

    # ---------------------------------------------------------------- decoding
    def forward(
        self, input_ids: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Training forward: logits [B, T, V] of the causal decoder reading `memory`
        [B, layers, M, D] (the STM, or in stage 1 the encoder's states), and the MoE aux loss.
        A memory pointer model given its STM (with the id layer) returns log-probabilities that
        mix in copying from memory; given the encoder's states, plain logits (nothing to copy)."""
        positions = torch.arange(input_ids.shape[1], device=input_ids.device).expand_as(input_ids)
        memory_kv = self._memory_kv(memory, input_ids, self._prompt_mask(input_ids))
        hidden, aux = self.decoder(self.embedding(input_ids), positions, memory_kv, memory_mask)
        return self.next_token_logits(hidden, memory_kv, input_ids), aux

    def memory_kv(
        self, memory: torch.Tensor, prompts: Sequence[Sequence[int]] | None = None
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Memory cross-attention K/V of every decoder layer, projected once per turn, before the
        prompt; for an STM with the pointer's id layer, one more pair: the pointer's slot keys and
        the slots' token ids (every entry is per row, so a batch can be cut and joined by row).
        With `pointer_reads_query` the pointer's pair needs the rows' `prompts` ([Q] query [A])."""
        if prompts is None or not self.config.pointer_reads_query:  # only that pointer reads them
            return self._memory_kv(memory, None, None)
        ids, mask = pad_batch([list(p) for p in prompts], self.config.pad_id, memory.device)
        return self._memory_kv(memory, ids, mask)

    def _memory_kv(
        self, memory: torch.Tensor, prompt_ids, prompt_mask
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        layers = self.config.layers
        memory_kv = self.decoder.project_memory(memory[:, :layers])
        if self.pointer is not None and memory.shape[1] == layers + 1:
            memory_kv.append(self._pointer_memory(memory, prompt_ids, prompt_mask))
        return memory_kv

    def _pointer_memory(self, stm: torch.Tensor, prompt_ids, prompt_mask) -> tuple[torch.Tensor, ...]:
        """The pointer's memory entry (`SlotPointer.project`). With `pointer_reads_query`, from the
        STM with the prompts' query written in as the keep write will write it after the turn: the kept query
        tokens become the newest slots, so the answer can copy a value the query has just stated
        (an unseen name is as hard for the vocabulary head to spell in an acknowledgement as in a
        recall). Only the pointer reads this copy; the decoder's cross-attention reads `stm`."""
        last, config = self.config.layers - 1, self.config
        if not config.pointer_reads_query:
            return self.pointer.project(stm[:, last], stm[:, config.layers])
        if prompt_ids is None:
            raise ValueError("this model's pointer reads the query (pointer_reads_query): pass the prompts")
        # the write of the one content layer the pointer reads, and of the ids
        flagging = self.pointer.slots.reads_marks
        copy = self.write_memory(stm, prompt_ids, prompt_mask, layers=[last], flag_written=flagging)
        return self.pointer.project(*copy.unbind(1))

    def _prompt_mask(self, input_ids: torch.Tensor) -> torch.Tensor | None:
        """[B, T]: the `[Q] query [A]` tokens of interactions [B, T] (none in a row without [A],
        so a text row's pointer never sees tokens it has yet to predict); None unless the pointer
        reads the query."""
        return self._query_side(input_ids) if self.config.pointer_reads_query else None

    def _query_side(self, input_ids: torch.Tensor) -> torch.Tensor:
        """[B, T]: the `[Q] query [A]` tokens of interactions [B, T] (none in a row without [A])."""
        marker = answer_marker(input_ids, self.config.answer_id, missing=-1)
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        return (positions <= marker) & (input_ids != self.config.pad_id)

    def next_token_logits(self, hidden: torch.Tensor, memory_kv, tokens: torch.Tensor) -> torch.Tensor:
        """[..., V] from the decoder's normed hidden states [..., D] at the tokens `tokens` [...]:
        the vocabulary head, mixed with copying from memory when `memory_kv` carries the
        pointer's entry."""
        logits = self.lm_head(hidden)
        if memory_kv is None or len(memory_kv) == self.config.layers:
            return logits
        if hidden.dim() == 2:  # one position per row (decoding)
            return self.pointer(hidden[:, None], logits[:, None], memory_kv[-1], tokens[:, None])[:, 0]
        return self.pointer(hidden, logits, memory_kv[-1], tokens)

    def prompts(self, query_ids: TokenIds | Sequence[TokenIds], stm: torch.Tensor) -> list[list[int]]:
        queries = self._batch_args(query_ids, stm)
        self.check_memory(stm, len(queries))
        return [prompt_ids(q, self.config) for q in queries]

    def generate(
        self,
        query_ids: Sequence[TokenIds],
        stm: torch.Tensor,
        sampling: SamplingParams | Sequence[SamplingParams] | None = None,
        generator: torch.Generator | None = None,
    ) -> list[list[int]]:
        """Answer a batch of queries, each with its own STM row; returns the answer ids per row."""
        prompts = self.prompts(query_ids, stm)
        answers: list[list[int]] = [[] for _ in prompts]
        for step in self._stream(prompts, stm, sampling, generator):
            for row, token in enumerate(step):
                if token is not None:
                    answers[row].append(token)
        return answers

    def stream(self, query_ids, stm, sampling=None, generator=None) -> Iterator[list[int | None]]:
        """Batched streaming: yields per step one token (or None once finished) per row. Input is
        validated before the first step, so bad input raises here, not mid-stream."""
        return self._stream(self.prompts(query_ids, stm), stm, sampling, generator)

    def _stream(self, prompts, stm, sampling, generator) -> Iterator[list[int | None]]:
        params = _params_per_row(sampling, len(prompts))
        with torch.inference_mode(), generation.autocast_for(self.device):
            memory_kv = self.memory_kv(stm, prompts)
        return generation.stream(self, prompts, params, memory_kv, generator)

    def interact(
        self,
        query_ids: TokenIds,
        stm: torch.Tensor,
        sampling: SamplingParams | None = None,
        generator: torch.Generator | None = None,
        **sampling_fields,
    ) -> Iterator[int]:
        """Stream the answer to one query, token id by token id, reading `stm` [1, L, S, D].
        Sampling options may be given as a SamplingParams or as keywords
        (max_new_tokens, temperature, top_k, top_p). Memory is not updated here: call
        `update_memory` with the answer once it has streamed."""
        if sampling_fields:
            sampling = SamplingParams(**{**(sampling or SamplingParams()).model_dump(), **sampling_fields})
        query = as_id_list(query_ids, "query_ids", self.config)
        steps = self.stream([query], stm, sampling, generator)
        return (step[0] for step in steps if step[0] is not None)

    def _batch_args(self, ids, stm, answers: bool = False) -> list[list[int]]:
        what = "answer_ids" if answers else "query_ids"
        single = isinstance(ids, torch.Tensor) and ids.dim() == 1
        single |= isinstance(ids, Sequence) and bool(ids) and all(isinstance(i, int) for i in ids)
        single |= isinstance(ids, Sequence) and not ids and answers
        if single:
            return [as_id_list(ids, what, self.config, allow_empty=answers)]
        return as_batch(ids, what, self.config, allow_empty=answers)


def _params_per_row(sampling, batch: int) -> list[SamplingParams]:
    if sampling is None:
        return [SamplingParams()] * batch
    if isinstance(sampling, SamplingParams):
        return [sampling] * batch
    if len(sampling) != batch:
        raise ValueError(f"{len(sampling)} sampling settings for a batch of {batch}")
    return list(sampling)
