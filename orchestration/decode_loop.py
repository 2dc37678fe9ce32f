"""Drives a `BatchScheduler` from an asyncio event loop.

Each caller awaits an async iterator of its own tokens while one decode thread runs steps for as
long as any row has work, handing each step's tokens to the event loop as it goes. The thread
does not wait for the event loop to schedule each step: the event loop of a replica is also busy
streaming answers, accepting turns and talking to the store, and a step that had to be scheduled
from it (as when every step was a `run_in_executor` call) started late whenever it was busy
(session 11: ~8 ms per one-session turn, docs/service.md). It may run at most `max_lead` steps
ahead of the event loop, though: when the loop falls behind (many sessions on few cores), the
thread waits instead of taking the CPU from the streaming, and from the memory updater whose
writes the next turns wait for. New turns join between steps (`BatchScheduler.add` is
thread-safe). A caller that stops iterating (its client disconnected) cancels its row:
generation stops at the next step.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable

from .scheduler import BatchScheduler, GenerationRequest, StepStats, TokenEvent

log = logging.getLogger(__name__)


class DecodeLoop:
    def __init__(
        self,
        scheduler: BatchScheduler,
        on_step: Callable[[StepStats], None] | None = None,
        max_lead: int = 2,
    ):
        if max_lead < 1:
            raise ValueError(f"max_lead must be >= 1, got {max_lead}")
        self.scheduler = scheduler
        self._on_step = on_step
        self.max_lead = max_lead
        self._room = threading.Condition()
        self._undelivered = 0  # steps posted to the event loop that it has not run yet
        self._streams: dict[str, asyncio.Queue[TokenEvent | BaseException]] = {}
        self._event_loop: asyncio.AbstractEventLoop | None = None  # where steps are delivered
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None

    async def generate(self, request: GenerationRequest) -> AsyncIterator[TokenEvent]:
        """Yield this request's events until (and including) the one that finishes it."""
        if request.request_id in self._streams:
            raise ValueError(f"request {request.request_id!r} is already running")
        if self._closed:
            raise RuntimeError("the decode loop is closed")
        queue: asyncio.Queue[TokenEvent | BaseException] = asyncio.Queue()
        self._streams[request.request_id] = queue
        loop = asyncio.get_running_loop()
        if loop is not self._event_loop:
            with self._room:  # steps posted to an earlier loop will never be delivered there
                self._event_loop, self._undelivered = loop, 0
                self._room.notify()
        self.scheduler.add(request)
        self._ensure_running()
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

    def _ensure_running(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="rxt-decode", daemon=True)
            self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        """The decode thread: sleep until there is work, then step until there is none."""
        while not self._closed:
            self._wake.wait()
            self._wake.clear()  # an add() after this sets it again: no wake-up is lost
            while self.scheduler.has_work() and not self._closed:
                self._wait_for_room()
                try:
                    events, stats = self.scheduler.step()
                except Exception as exc:  # a model failure fails the rows, not the replica
                    log.exception("decode step failed")
                    self._post(self._fail, self.scheduler.reset(), exc)
                    continue
                self._post(self._deliver, events, stats)

    def _wait_for_room(self) -> None:
        """Block while the event loop has `max_lead` steps to deliver (not for a closed loop)."""
        with self._room:
            while self._undelivered >= self.max_lead and not self._closed:
                loop = self._event_loop
                if loop is None or loop.is_closed():
                    self._undelivered = 0
                    return
                self._room.wait(timeout=0.1)

    def _post(self, callback: Callable, *args) -> None:
        """Run `callback(*args)` on the event loop, counted until it runs."""
        loop = self._event_loop
        with self._room:
            self._undelivered += 1
        try:
            if loop is None or loop.is_closed():
                raise RuntimeError("no event loop")
            loop.call_soon_threadsafe(self._delivered, callback, *args)
        except RuntimeError:  # nobody is listening any more (the loop closed)
            self._delivered(lambda *_: None)

    def _delivered(self, callback: Callable, *args) -> None:
        with self._room:
            self._undelivered = max(0, self._undelivered - 1)
            self._room.notify()
        callback(*args)

    def _deliver(self, events: list[TokenEvent], stats: StepStats) -> None:
        """On the event loop: hand each row's event to its caller."""
        for event in events:
            queue = self._streams.get(event.request_id)
            if queue is not None:
                queue.put_nowait(event)
        if self._on_step is not None and stats.batch_size:
            self._on_step(stats)

    def _fail(self, request_ids: list[str], exc: Exception) -> None:
        """On the event loop, after a failed step: tell the callers of the rows it dropped (the
        batch state is unknown after a failure, so the scheduler dropped every row)."""
        for request_id in request_ids:
            if (queue := self._streams.get(request_id)) is not None:
                queue.put_nowait(RuntimeError(f"generation failed: {exc}"))

    def close(self) -> None:
        """Stop the decode thread after its current step (it does not wait for it)."""
        self._closed = True
        self._wake.set()
        with self._room:
            self._room.notify()
