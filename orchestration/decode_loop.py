"""Drives a `BatchScheduler` for asyncio callers.

Decode steps run back to back in one dedicated thread for as long as any row has work; each
step's tokens are handed to the event loop, which fans them out to per-request async
iterators. The steps never wait for the event loop: when it is busy streaming other sessions'
messages (or Ray's own work), generation goes on, and the tokens queue until it gets to them.
(Each step used to be a separate `run_in_executor` call started from the loop, so every step
also waited for the loop to come round.) A caller that stops iterating (its client
disconnected) cancels its row: generation stops at the next step.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable

from .scheduler import BatchScheduler, GenerationRequest, StepStats, TokenEvent

log = logging.getLogger(__name__)


class DecodeLoop:
    def __init__(self, scheduler: BatchScheduler, on_step: Callable[[StepStats], None] | None = None):
        self.scheduler = scheduler
        self._on_step = on_step
        self._streams: dict[str, asyncio.Queue[TokenEvent | BaseException]] = {}
        self._wake = threading.Event()
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    async def generate(self, request: GenerationRequest) -> AsyncIterator[TokenEvent]:
        """Yield this request's events until (and including) the one that finishes it."""
        if request.request_id in self._streams:
            raise ValueError(f"request {request.request_id!r} is already running")
        queue: asyncio.Queue[TokenEvent | BaseException] = asyncio.Queue()
        self._streams[request.request_id] = queue
        self._start(asyncio.get_running_loop())
        self.scheduler.add(request)
        self._wake.set()
        finished = False
        try:
            while not finished:
                event = await queue.get()
                if isinstance(event, BaseException):
                    raise event
                finished = event.finish is not None
                yield event
        finally:
            del self._streams[request.request_id]
            if not finished:
                self.scheduler.cancel(request.request_id)
                self._wake.set()

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._closed:
            raise RuntimeError("the decode loop is closed")
        self._loop = loop  # where tokens go: the loop of the latest caller
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="rxt-decode", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        """The decode thread: steps while there is work, sleeps until woken otherwise."""
        while not self._closed:
            self._wake.wait()
            self._wake.clear()
            while self.scheduler.has_work() and not self._closed:
                try:
                    events, stats = self.scheduler.step()
                except Exception as exc:  # a model failure fails the rows, not the replica
                    log.exception("decode step failed")
                    self.scheduler.reset()  # the batch state is unknown: drop every row
                    self._hand_over(self._fail_all, exc)
                    continue
                self._hand_over(self._dispatch, events, stats)

    def _hand_over(self, callback: Callable, *args) -> None:
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # that event loop is closed: nobody is listening any more
            log.debug("decode events dropped: their event loop is closed")

    def _dispatch(self, events: list[TokenEvent], stats: StepStats) -> None:
        """On the event loop: each event to its caller's queue."""
        for event in events:
            queue = self._streams.get(event.request_id)
            if queue is not None:
                queue.put_nowait(event)
        if self._on_step is not None and stats.batch_size:
            self._on_step(stats)

    def _fail_all(self, exc: Exception) -> None:
        """On the event loop: tell every caller its generation failed."""
        for queue in self._streams.values():
            queue.put_nowait(RuntimeError(f"generation failed: {exc}"))

    def close(self) -> None:
        self._closed = True
        self._wake.set()
