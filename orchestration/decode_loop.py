"""Drives a `BatchScheduler` from an asyncio event loop.

Each caller awaits an async iterator of its own tokens while one background task runs decode
steps in a worker thread, so the event loop keeps streaming tokens (and accepting new turns)
while the model computes. A caller that stops iterating (its client disconnected) cancels its
row: generation stops at the next step.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor

from .scheduler import BatchScheduler, GenerationRequest, StepStats, TokenEvent

log = logging.getLogger(__name__)


class DecodeLoop:
    def __init__(self, scheduler: BatchScheduler, on_step: Callable[[StepStats], None] | None = None):
        self.scheduler = scheduler
        self._on_step = on_step
        self._streams: dict[str, asyncio.Queue[TokenEvent | BaseException]] = {}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rxt-decode")
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def generate(self, request: GenerationRequest) -> AsyncIterator[TokenEvent]:
        """Yield this request's events until (and including) the one that finishes it."""
        if request.request_id in self._streams:
            raise ValueError(f"request {request.request_id!r} is already running")
        queue: asyncio.Queue[TokenEvent | BaseException] = asyncio.Queue()
        self._streams[request.request_id] = queue
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
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="rxt-decode-loop")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self.scheduler.has_work():
                try:
                    events, stats = await loop.run_in_executor(self._executor, self.scheduler.step)
                except Exception as exc:  # a model failure fails the rows, not the replica
                    log.exception("decode step failed")
                    self._fail_all(exc)
                    continue
                for event in events:
                    queue = self._streams.get(event.request_id)
                    if queue is not None:
                        queue.put_nowait(event)
                if self._on_step is not None and stats.batch_size:
                    self._on_step(stats)

    def _fail_all(self, exc: Exception) -> None:
        """After a failed step the batch state is unknown: drop every row and tell its caller."""
        self.scheduler.reset()
        for queue in self._streams.values():
            queue.put_nowait(RuntimeError(f"generation failed: {exc}"))

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)
