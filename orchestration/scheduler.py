"""Continuous batching: one decode loop shared by the turns of many sessions.

Every call to `BatchScheduler.step` is one decode step for all running rows:

    1. feed each running row the token it sampled last step (one batched `decode_step`);
    2. admit waiting requests: prefill them together (each with its own STM), append their rows;
    3. sample one token per row and report it; rows that finished or were cancelled leave.

Rows of different sessions share the matrix multiplications but nothing else: each has its own
memory cross-attention K/V (from its own STM), its own self-attention cache, positions and
sampling settings, so a row's tokens are the ones it would get running alone. Requests join and
leave between steps, so a short answer never waits for a long one.

The class is synchronous and knows nothing of Ray or asyncio (`DecodeLoop` drives it from an
event loop); `add` and `cancel` may be called from other threads while `step` runs.
"""

from __future__ import annotations

import enum
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import torch

from rxt_core import generation
from rxt_core.sampling import SamplingParams, forbid_early_eos, sample

from .decode_rows import DecodeRows


class FinishReason(enum.Enum):
    STOP = "stop"  # the model emitted EOS
    LENGTH = "length"  # max_new_tokens or the position limit
    CANCELLED = "cancelled"  # the caller went away


@dataclass(frozen=True)
class GenerationRequest:
    """One turn to answer: the prompt ids ([Q] query [A]) and the STM [1, L, S, D] it reads."""

    request_id: str
    prompt: list[int]
    stm: torch.Tensor
    params: SamplingParams = SamplingParams()


@dataclass(frozen=True)
class TokenEvent:
    """A row's news from one step: a new token, and/or that it finished (and why)."""

    request_id: str
    token: int | None
    finish: FinishReason | None = None


@dataclass(frozen=True)
class StepStats:
    batch_size: int  # rows that sampled a token this step
    admitted: int  # rows that joined (were prefilled) this step
    waiting: int  # requests still queued after this step
    seconds: float


@dataclass
class _Row:
    request: GenerationRequest
    limit: int  # tokens this row may still produce
    produced: int = 0


@dataclass
class BatchScheduler:
    model: torch.nn.Module
    max_batch: int = 64
    generator: torch.Generator | None = None
    _waiting: deque[GenerationRequest] = field(default_factory=deque, init=False)
    _cancelled: set[str] = field(default_factory=set, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _rows: list[_Row] = field(default_factory=list, init=False)
    _batch: DecodeRows = field(default_factory=DecodeRows, init=False)  # their decode state
    _pending: torch.Tensor | None = field(default=None, init=False)  # last sampled token per row

    def __post_init__(self) -> None:
        if self.max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {self.max_batch}")

    # ------------------------------------------------------------ thread-safe API
    def add(self, request: GenerationRequest) -> None:
        """Queue a request; it joins the batch at the next step with room."""
        with self._lock:
            self._waiting.append(request)

    def cancel(self, request_id: str) -> None:
        """Drop a request (queued or running) before the next step; it yields no more tokens."""
        with self._lock:
            self._cancelled.add(request_id)

    @property
    def running(self) -> int:
        return len(self._rows)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def has_work(self) -> bool:
        return bool(self._rows or self._waiting)

    def reset(self) -> None:
        """Forget every queued and running request (after a failed step)."""
        with self._lock:
            self._waiting.clear()
            self._cancelled.clear()
        self._rows, self._batch, self._pending = [], DecodeRows(), None

    # ------------------------------------------------------------ the decode step
    def step(self) -> tuple[list[TokenEvent], StepStats]:
        """One decode step for every running row (see the module docstring)."""
        start = time.perf_counter()
        events = self._drop_cancelled()
        with torch.inference_mode(), generation.autocast_for(self.model.device):
            logits = self._decode()
            admitted, new_logits = self._admit(events)
            if new_logits is not None:
                logits = new_logits if logits is None else torch.cat([logits, new_logits])
            if logits is not None:
                events += self._sample(logits)
        stats = StepStats(
            batch_size=0 if logits is None else logits.shape[0],
            admitted=admitted,
            waiting=self.waiting,
            seconds=time.perf_counter() - start,
        )
        return events, stats

    def _drop_cancelled(self) -> list[TokenEvent]:
        with self._lock:
            cancelled, self._cancelled = self._cancelled, set()
            kept = [r for r in self._waiting if r.request_id not in cancelled]
            dropped = [r.request_id for r in self._waiting if r.request_id in cancelled]
            self._waiting = deque(kept)
        keep = [i for i, row in enumerate(self._rows) if row.request.request_id not in cancelled]
        dropped += [row.request.request_id for row in self._rows if row.request.request_id in cancelled]
        self._keep(keep)
        return [TokenEvent(rid, None, FinishReason.CANCELLED) for rid in dropped]

    def _decode(self) -> torch.Tensor | None:
        if not self._rows:
            return None
        return generation.decode_step(self.model, self._pending, self._batch.state)

    def _admit(self, events: list[TokenEvent]) -> tuple[int, torch.Tensor | None]:
        with self._lock:
            room = self.max_batch - len(self._rows)
            joining = [self._waiting.popleft() for _ in range(min(room, len(self._waiting)))]
        config = self.model.config
        rows = [
            _Row(r, generation.answer_limit(config, len(r.prompt), r.params.max_new_tokens)) for r in joining
        ]
        for row in rows:
            if row.limit <= 0:  # no position left to answer in
                events.append(TokenEvent(row.request.request_id, None, FinishReason.LENGTH))
        rows = [row for row in rows if row.limit > 0]
        if not rows:
            return 0, None
        stm = torch.cat([row.request.stm for row in rows]).to(self.model.device)
        prompts = [row.request.prompt for row in rows]
        logits, state = generation.prefill(self.model, prompts, self.model.memory_kv(stm, prompts))
        self._batch.append(state)
        self._rows += rows
        return len(rows), logits

    def _sample(self, logits: torch.Tensor) -> list[TokenEvent]:
        eos = self.model.config.eos_id
        params = [row.request.params for row in self._rows]
        logits = generation.without_control_tokens(logits, self.model.config)
        logits = forbid_early_eos(logits, params, [row.produced for row in self._rows], eos)
        tokens = sample(logits, params, self.generator)
        events, keep = [], []
        for i, (row, token) in enumerate(zip(self._rows, tokens.tolist(), strict=True)):
            rid = row.request.request_id
            if token == eos:
                events.append(TokenEvent(rid, None, FinishReason.STOP))
                continue
            row.produced += 1
            finished = row.produced >= row.limit
            events.append(TokenEvent(rid, token, FinishReason.LENGTH if finished else None))
            if not finished:
                keep.append(i)
        self._pending = tokens
        self._keep(keep)
        return events

    def _keep(self, keep: list[int]) -> None:
        """Shrink the batch to the rows at `keep` (their caches, memory K/V, pending tokens);
        the rows that stay may change places (`DecodeRows.keep`)."""
        if len(keep) == len(self._rows):
            return
        order = self._batch.keep(keep)
        self._rows = [self._rows[i] for i in order]
        if not order:
            self._pending = None
            return
        self._pending = self._pending[torch.tensor(order, device=self._pending.device)]
