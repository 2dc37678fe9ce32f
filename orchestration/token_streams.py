"""What every decode engine gives its callers: an async iterator of one request's token events.

An engine (`DecodeLoop`: decode steps in a worker thread; `DecodeProcess`: in a process of its
own) submits requests to a `BatchScheduler` somewhere and hands each step's events back here;
this class routes them to the callers, one queue per request. A caller that stops iterating (its
client disconnected) cancels its request: generation stops at the next step.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterable

from .scheduler import GenerationRequest, StepStats, TokenEvent


class TokenStreams(ABC):
    def __init__(self, on_step: Callable[[StepStats], None] | None = None):
        self._on_step = on_step
        self._streams: dict[str, asyncio.Queue[TokenEvent | BaseException]] = {}

    async def generate(self, request: GenerationRequest) -> AsyncIterator[TokenEvent]:
        """Yield this request's events until (and including) the one that finishes it."""
        if request.request_id in self._streams:
            raise ValueError(f"request {request.request_id!r} is already running")
        queue: asyncio.Queue[TokenEvent | BaseException] = asyncio.Queue()
        self._streams[request.request_id] = queue
        finished = False
        try:
            await self._submit(request)
            while not finished:
                event = await queue.get()
                if isinstance(event, BaseException):
                    raise event
                finished = event.finish is not None
                yield event
        finally:
            del self._streams[request.request_id]
            if not finished:
                self._cancel(request.request_id)

    @abstractmethod
    async def _submit(self, request: GenerationRequest) -> None:
        """Hand the request to the scheduler; its events come back through `_deliver`."""

    @abstractmethod
    def _cancel(self, request_id: str) -> None:
        """Drop the request before the scheduler's next step."""

    @abstractmethod
    def close(self) -> None: ...

    def _deliver(self, events: Iterable[TokenEvent], stats: StepStats) -> None:
        for event in events:
            queue = self._streams.get(event.request_id)
            if queue is not None:  # else its caller has gone
                queue.put_nowait(event)
        if self._on_step is not None and stats.batch_size:
            self._on_step(stats)

    def _fail(self, exc: BaseException, request_ids: Iterable[str] | None = None) -> None:
        """End these requests' streams (all of them when None) with `exc`."""
        ids = list(self._streams) if request_ids is None else request_ids
        for request_id in ids:
            queue = self._streams.get(request_id)
            if queue is not None:
                queue.put_nowait(exc)
