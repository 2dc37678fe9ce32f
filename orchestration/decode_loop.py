"""Drives a `BatchScheduler` from an asyncio event loop, its decode steps in a worker thread.

One background task runs the steps in a thread, so the event loop keeps streaming tokens (and
accepting new turns) while the model computes. The step shares the process (and its GIL) with
the event loop; `DecodeProcess` is the same engine with the steps in a process of their own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from .scheduler import BatchScheduler, GenerationRequest, StepStats
from .token_streams import TokenStreams

log = logging.getLogger(__name__)


class DecodeLoop(TokenStreams):
    def __init__(self, scheduler: BatchScheduler, on_step: Callable[[StepStats], None] | None = None):
        super().__init__(on_step)
        self.scheduler = scheduler
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rxt-decode")
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def _submit(self, request: GenerationRequest) -> None:
        self.scheduler.add(request)
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="rxt-decode-loop")

    def _cancel(self, request_id: str) -> None:
        self.scheduler.cancel(request_id)
        self._wake.set()

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
                    # After a failed step the batch state is unknown: drop every row.
                    self.scheduler.reset()
                    self._fail(RuntimeError(f"generation failed: {exc}"))
                    continue
                self._deliver(events, stats)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)
