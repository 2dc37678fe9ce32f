"""The decoder: answers turns of many sessions at once, and serialises each session's operations.

One `Decoder` per replica holds the model, a bounded cache of hot session STMs and a continuous-
batching decode loop. A turn:

    1. refuse it (ABORTED) if the session already has an operation in progress on this replica;
    2. wait until the previous turn's memory update has landed (measured: `memory_wait_s`), and
       replay any turn the store logged but never applied (e.g. after a crash) — so turn t+1 is
       always generated from STM_t;
    3. read the head version from the store; use the cached STM only if it is that version,
       else load it (a miss) — the store is the truth, the cache never serves stale memory;
    4. stream the answer's text as tokens come out of the shared decode loop;
    5. log the finished turn in the store (pending), hand it to the memory updater, and only
       then send the last message (usage, versions). The update runs while the client reads.

A cancelled turn (client disconnect) stops generating at the next step and is NOT written to
memory: nothing is logged, the session's head stays where it was, and the next turn reads the
same memory the cancelled one did. Partial answers would teach the memory things the user
never saw in full.

Session-changing operations (rollback, delete, fork of the head) go through the same replica
and the same per-session guard, after the pending update has landed, so they never interleave
with a turn.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import torch

from agents.registry import AgentRegistry
from agents.spec import AgentSpec
from rxt_core import ReactiveTransformer, SamplingParams
from rxt_core.interaction import prompt_ids
from storage import AsyncSessionStore
from storage.records import SessionInfo

from .config import ServiceConfig
from .decode_loop import DecodeLoop
from .decode_process import DecodeProcess
from .errors import FailedPrecondition, InvalidArgument
from .memory_updater import UpdateJob, UpdateResult
from .metrics import Metrics
from .runtime import device_for
from .scheduler import BatchScheduler, FinishReason, GenerationRequest, StepStats
from .sessions import SessionTurns, StmCache
from .text import Tokenizer
from .token_streams import TokenStreams
from .write_gate import write_gate

log = logging.getLogger(__name__)

ApplyUpdate = Callable[[UpdateJob], Awaitable[UpdateResult]]
Recover = Callable[[str], Awaitable[list[UpdateResult]]]


@dataclass(frozen=True)
class TurnRequest:
    """A validated Interact request; unset sampling fields take the agent's defaults."""

    session_id: str
    query: str
    max_new_tokens: int | None = None
    min_new_tokens: int | None = None
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    expected_version: int | None = None


@dataclass(frozen=True)
class _Turn:
    """Everything one admitted turn needs after its checks."""

    session_id: str
    info: SessionInfo
    query: str
    query_ids: list[int]
    prompt: list[int]
    stm: torch.Tensor
    params: SamplingParams
    start: float
    waited: float


@dataclass(frozen=True)
class TurnEvent:
    """A text delta; the last event of a turn has `done` and the turn's summary."""

    text: str
    done: bool = False
    query_tokens: int = 0
    answer_tokens: int = 0
    from_version: int = 0
    next_version: int = 0
    finish: FinishReason | None = None
    memory_wait_s: float = 0.0
    ttft_s: float = 0.0


class Decoder:
    def __init__(
        self,
        model: ReactiveTransformer,
        tokenizer: Tokenizer,
        store: AsyncSessionStore,
        config: ServiceConfig,
        apply_update: ApplyUpdate,
        recover: Recover,
        metrics: Metrics | None = None,
    ):
        self.model, self.tokenizer, self.store, self.config = model, tokenizer, store, config
        self.agents = AgentRegistry(config.agents, config.default_agent)
        self.fingerprint = model.fingerprint()
        self.cache = StmCache(config.stm_cache_size)
        self.turns = SessionTurns()
        self.metrics = metrics or Metrics()
        self.loop = decode_engine(model, config, on_step=self.metrics.decode_step)
        self._apply_update, self._recover = apply_update, recover
        self._writes = write_gate(store)
        self._streaming = 0  # answers being generated now: they share stream_messages_per_s

    # ------------------------------------------------------------------ turns
    async def interact(self, request: TurnRequest) -> AsyncIterator[TurnEvent]:
        sid = request.session_id
        start = time.perf_counter()
        claim = self.turns.begin(sid, "turn")
        try:
            query_ids = self.tokenizer.encode(request.query)
            try:
                prompt = prompt_ids(query_ids, self.model.config)
            except ValueError as exc:
                raise InvalidArgument(f"query is too long: {exc}") from None
            if not query_ids:
                raise InvalidArgument("query has no tokens")
            waited, info = await self._settle(sid)
            if info.closed:
                raise FailedPrecondition(
                    f"session {sid!r} is closed (idle too long or closed by request); fork it to continue"
                )
            params = self._sampling(self._agent(info), request)
            if request.expected_version is not None and request.expected_version != info.head_version:
                raise FailedPrecondition(
                    f"session {sid!r} is at version {info.head_version}, not the expected {request.expected_version}"
                )
            stm = await self._stm(sid, info.head_version)
            turn = _Turn(sid, info, request.query, query_ids, prompt, stm, params, start, waited)
            async for event in self._generate(turn):
                if event.done:
                    # Release before the last message: a client may send its next call the
                    # moment it arrives, before this generator is resumed to finish. The turn's
                    # memory update is already registered, so that call still waits for it.
                    self.turns.end(sid, claim)
                yield event
        finally:
            self.turns.end(sid, claim)

    async def _generate(self, turn: _Turn) -> AsyncIterator[TurnEvent]:
        text = self.tokenizer.stream()
        answer: list[int] = []
        ttft = 0.0
        finish = FinishReason.CANCELLED
        request = GenerationRequest(uuid.uuid4().hex, turn.prompt, turn.stm, turn.params)
        held: list[str] = []  # text not sent yet: deltas go out at most every stream_interval()
        sent_at = None
        self._streaming += 1
        try:
            async for event in self.loop.generate(request):
                if event.token is not None:
                    if not answer:
                        ttft = time.perf_counter() - turn.start
                        self.metrics.first_token(ttft)
                    answer.append(event.token)
                    held.append(text.push(event.token))
                    now = time.perf_counter()
                    due = sent_at is None or now - sent_at >= self.stream_interval()
                    if due and (delta := "".join(held)):
                        held.clear()
                        sent_at = now
                        yield TurnEvent(delta)
                if event.finish is not None:
                    finish = event.finish
        finally:
            self._streaming -= 1
            if finish is FinishReason.CANCELLED:
                self.metrics.turn("cancelled", len(answer))
        if finish is FinishReason.CANCELLED:  # the scheduler dropped it; the client is gone
            return
        tail = "".join(held) + text.flush()
        sid, version, number = turn.session_id, turn.info.head_version, turn.info.next_turn
        timings = {"ttft_ms": ttft * 1e3, "memory_wait_ms": turn.waited * 1e3}
        answer_text = self.tokenizer.decode(answer)
        async with self._writes:
            await self.store.append_interaction(
                sid, number, turn.query, answer_text, version, timings=timings
            )
        self._start_update(UpdateJob(sid, number, version, turn.stm, turn.query_ids, answer))
        self.metrics.turn("completed", len(answer), time.perf_counter() - turn.start - ttft)
        yield TurnEvent(
            tail,
            done=True,
            query_tokens=len(turn.query_ids),
            answer_tokens=len(answer),
            from_version=version,
            next_version=version + 1,  # the store numbers a new head one past the highest version
            finish=finish,
            memory_wait_s=turn.waited,
            ttft_s=ttft,
        )

    def stream_interval(self) -> float:
        """Seconds between two text messages of one answer: `stream_interval_s`, or each
        streaming answer's share of `stream_messages_per_s` when that is longer."""
        return max(self.config.stream_interval_s, self._streaming / self.config.stream_messages_per_s)

    # ------------------------------------------------------------------ memory
    async def _settle(self, sid: str) -> tuple[float, SessionInfo]:
        """Wait for the session's in-flight memory update (if any), then read its head, replaying
        any turn the store logged but never applied. Returns (seconds waited, head info).

        Waiting *before* reading costs one store read per turn, and no update can land after
        the read: the next update needs another turn, and the caller holds the session's claim."""
        start = time.perf_counter()
        await self.turns.wait_for_update(sid, self.config.memory_wait_timeout_s)
        waited = time.perf_counter() - start
        info = await self.store.get_session(sid)
        if self._may_have_pending(info) and await self.store.list_pending(sid, limit=1):
            for result in await self._recover(sid):
                if result.stm is not None:
                    self.cache.put(sid, result.version, result.stm)
            info = await self.store.get_session(sid)
            waited = time.perf_counter() - start
        self.metrics.memory_wait(waited)
        return waited, info

    def _may_have_pending(self, info: SessionInfo) -> bool:
        """False when every logged turn is known to be applied: the session has none, or its
        last one is the turn whose update this replica committed as the current head. Saves a
        store query per turn; anything else (another replica, a failed update) asks the store."""
        if info.next_turn == 0:
            return False
        return self.turns.last_applied(info.session_id) != (info.next_turn - 1, info.head_version)

    def _start_update(self, job: UpdateJob) -> None:
        logged = time.perf_counter()

        async def run() -> None:
            try:
                result = await self._apply_update(job)
            except Exception:  # the turn stays pending in the store; the next turn replays it
                log.exception("memory update of %s turn %d failed", job.session_id, job.turn)
                return
            self.metrics.memory_update(time.perf_counter() - logged, ok=result.error is None)
            if result.error is not None:
                log.warning("memory update of %s turn %d refused: %s", job.session_id, job.turn, result.error)
            else:
                self.turns.applied(job.session_id, job.turn, result.version)
                if result.stm is not None:
                    self.cache.put(job.session_id, result.version, result.stm)

        # A fresh context: the update outlives the request that caused it, so it must not be
        # treated as part of it (Ray Serve cancels a cancelled request's child calls).
        task = asyncio.get_running_loop().create_task(run(), context=contextvars.Context())
        self.turns.set_update(job.session_id, task)

    async def _stm(self, sid: str, version: int) -> torch.Tensor:
        stm = self.cache.get(sid, version)
        self.metrics.cache(hit=stm is not None)
        if stm is None:
            dtype = self.model.embedding.weight.dtype
            snapshot = await self.store.load_stm(sid, version, fingerprint=self.fingerprint, dtype=dtype)
            stm = snapshot.stm.unsqueeze(0)
            self.cache.put(sid, version, stm)
        return stm.to(self.model.device)

    # ------------------------------------------------------------------ other session operations
    async def rollback(self, sid: str, version: int) -> SessionInfo:
        async with self._exclusive(sid, "rollback") as info:
            await self.store.load_stm(sid, version, fingerprint=self.fingerprint)  # NOT_FOUND early
            info = await self.store.rollback(sid, version, expected_head_version=info.head_version)
            self.cache.discard(sid)
            return info

    async def delete(self, sid: str) -> None:
        async with self._exclusive(sid, "delete", settle=False):
            await self.store.delete_session(sid)
            self.cache.discard(sid)

    async def fork(self, sid: str, version: int | None, new_session_id: str | None = None) -> SessionInfo:
        if version is not None:  # a fixed version never changes: no need to wait for anything
            return await self.store.fork_session(sid, version, new_session_id=new_session_id)
        async with self._exclusive(sid, "fork") as info:
            return await self.store.fork_session(sid, info.head_version, new_session_id=new_session_id)

    @asynccontextmanager
    async def _exclusive(self, sid: str, what: str, settle: bool = True) -> AsyncIterator[SessionInfo]:
        """Hold the session's guard, with its pending memory update landed (if `settle`)."""
        claim = self.turns.begin(sid, what)
        try:
            if settle:
                _, info = await self._settle(sid)
            else:
                info = await self.store.get_session(sid)
            yield info
        finally:
            self.turns.end(sid, claim)

    # ------------------------------------------------------------------ helpers
    def _agent(self, info: SessionInfo) -> AgentSpec:
        try:
            return self.agents.get(info.agent)
        except LookupError:
            raise FailedPrecondition(
                f"session {info.session_id!r} belongs to agent {info.agent!r}, which this service no longer offers"
            ) from None

    def _sampling(self, agent: AgentSpec, request: TurnRequest) -> SamplingParams:
        fields = {
            name: value
            for name in ("max_new_tokens", "min_new_tokens", "temperature", "top_k", "top_p")
            if (value := getattr(request, name)) is not None
        }
        limit = self.config.max_new_tokens_limit
        if fields.get("max_new_tokens", 1) > limit:
            raise InvalidArgument(f"max_new_tokens must be at most {limit}, got {fields['max_new_tokens']}")
        try:
            return SamplingParams(**{**agent.sampling.model_dump(), **fields})
        except ValueError as exc:
            raise InvalidArgument(f"bad sampling settings: {_first_error(exc)}") from None

    def close(self) -> None:
        self.loop.close()


def decode_engine(
    model: ReactiveTransformer, config: ServiceConfig, on_step: Callable[[StepStats], None]
) -> TokenStreams:
    """The configured engine. Both decode on `device_for(config)`: the thread engine with `model`
    itself (the replica loads it there), the process engine with a copy the child makes there
    (the replica's `model` stays on the CPU)."""
    if config.decode_engine == "process":
        return DecodeProcess(
            model,
            config.max_batch_size,
            config.torch_threads,
            on_step=on_step,
            niceness=config.decode_niceness,
            device=device_for(config),
        )
    return DecodeLoop(BatchScheduler(model, config.max_batch_size), on_step=on_step)


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return f"{'.'.join(map(str, first['loc']))}: {first['msg']} (got {first.get('input')!r})"
    return str(exc)
