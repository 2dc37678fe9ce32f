"""The decode engine in a process of its own, so the decode steps never wait for the GIL.

In a decoder replica the event loop (Serve's request handling, streaming, detokenising) and the
decode steps share one process. Every torch op releases the GIL and must take it back, so a busy
event loop slows each step: a Python thread busy 20-25% of the time beside batch-1 decoding made
its steps 1.3-3.0x slower, while the same neighbour in another process made no difference
(`scripts/decode_steps.py gil`, docs/service.md). `DecodeProcess` runs the `BatchScheduler` in a
child process holding its own copy of the model; the replica and the child talk over a socket pair:

    replica -> child: ("add", GenerationRequest) | ("cancel", request_id) | ("close",)
    child -> replica: ("step", events, stats) | ("failed", message, request_ids)

Messages are plain pickles (tensors by value: a request carries its STM, a few hundred KB at
most). In the child a reader thread hands requests to the scheduler (whose add/cancel are
thread-safe) while the main thread steps; in the replica the socket is an asyncio stream of the
event loop (writes never block it; no thread of its own). If the child dies, its requests fail
and the next request starts a new one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from rxt_core import ReactiveTransformer, RxTConfig

from .scheduler import BatchScheduler, GenerationRequest, StepStats
from .token_streams import TokenStreams

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DecodeSpec:
    """What the child needs to rebuild the replica's scheduler: the model by value."""

    config: dict
    weights: dict[str, torch.Tensor]  # on the CPU
    dtype: torch.dtype
    device: str
    fingerprint: str
    max_batch: int
    threads: int
    niceness: int

    @classmethod
    def of(
        cls, model: ReactiveTransformer, max_batch: int, threads: int, niceness: int, device: torch.device
    ) -> DecodeSpec:
        weights = {name: t.detach().cpu() for name, t in model.state_dict().items()}
        dtype = next(model.parameters()).dtype
        config = model.config.model_dump(mode="json")
        fingerprint = model.fingerprint()
        return cls(config, weights, dtype, str(device), fingerprint, max_batch, threads, niceness)

    def build(self) -> BatchScheduler:
        os.nice(self.niceness)
        torch.set_num_threads(self.threads)
        model = ReactiveTransformer(RxTConfig(**self.config)).to(self.dtype)
        model.load_state_dict(self.weights)
        model = model.to(self.device).eval()
        if model.fingerprint() != self.fingerprint:
            raise RuntimeError("the decode process's model differs from the replica's")
        return BatchScheduler(model, self.max_batch)


class DecodeProcess(TokenStreams):
    def __init__(
        self,
        model: ReactiveTransformer,
        max_batch: int,
        threads: int,
        on_step: Callable[[StepStats], None] | None = None,
        niceness: int = 0,
        device: torch.device | None = None,
        start_timeout_s: float = 300.0,
    ):
        """`device`: where the child decodes (default: the model's device)."""
        super().__init__(on_step)
        self._spec = DecodeSpec.of(model, max_batch, threads, niceness, device or model.device)
        self._start_timeout_s = start_timeout_s
        self._child: subprocess.Popen | None = None
        self._socket: socket.socket | None = None  # started, not yet read by an event loop
        self._connected: socket.socket | None = None  # the one the event loop's stream uses
        self._writer: asyncio.StreamWriter | None = None
        self._reading: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._restart = asyncio.Lock()
        self._start()

    @property
    def pid(self) -> int | None:
        return None if self._child is None else self._child.pid

    # ------------------------------------------------------------ TokenStreams
    async def _submit(self, request: GenerationRequest) -> None:
        loop = asyncio.get_running_loop()
        if self._loop not in (None, loop):
            raise RuntimeError("a DecodeProcess serves the one event loop that first used it")
        self._loop = loop
        if self._writer is None:
            async with self._restart:
                if self._socket is None and self._writer is None:  # the child died: start another
                    await loop.run_in_executor(None, self._start)
                if self._writer is None:
                    reader, self._writer = await asyncio.open_connection(sock=self._socket)
                    self._connected, self._socket = self._socket, None
                    self._reading = loop.create_task(self._read(reader), name="rxt-decode-events")
        self._send(("add", replace(request, stm=request.stm.cpu())))
        await self._writer.drain()

    def _cancel(self, request_id: str) -> None:
        if self._writer is not None:
            self._send(("cancel", request_id))

    def close(self) -> None:
        """Ask the child to finish and wait for it (it also exits when the socket closes)."""
        loop_open = self._loop is not None and not self._loop.is_closed()
        if self._writer is not None and loop_open and not self._writer.transport.is_closing():
            self._send(("close",))
            self._writer.close()
        if self._reading is not None and loop_open:
            self._reading.cancel()
        for sock in (self._socket, self._connected):
            if sock is not None:
                sock.close()
        self._writer = self._socket = self._connected = None
        if self._child is not None:
            _end(self._child)

    # ------------------------------------------------------------ the child's life
    def _start(self) -> None:
        """Start a child and hand it the model (blocking: the child imports torch, seconds)."""
        ours, theirs = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self._child = subprocess.Popen(
            [sys.executable, "-m", __name__, str(theirs.fileno())], pass_fds=[theirs.fileno()], env=env
        )
        theirs.close()
        ours.settimeout(self._start_timeout_s)
        try:
            _write_frame(ours, self._spec)
            status, detail = _read_frame(ours)
        except TimeoutError:
            self._child.kill()
            status, detail = "error", f"it did not start within {self._start_timeout_s:.0f} s"
        except EOFError:
            status, detail = "error", f"it exited with code {self._child.wait()}"
        if status != "ready":
            ours.close()
            raise RuntimeError(f"the decode process failed to start: {detail}")
        ours.settimeout(None)
        self._socket = ours
        log.info("decode process %d ready", self._child.pid)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                (size,) = _HEADER.unpack(await reader.readexactly(_HEADER.size))
                kind, *body = pickle.loads(await reader.readexactly(size))
                if kind == "step":
                    self._deliver(*body)
                else:  # "failed"
                    message, request_ids = body
                    log.error("decode step failed: %s", message)
                    self._fail(RuntimeError(f"generation failed: {message}"), request_ids)
        except (asyncio.IncompleteReadError, OSError):  # the stream broke: the child is gone or useless
            code = await asyncio.get_running_loop().run_in_executor(None, _end, self._child)
            log.error("the decode process exited (code %s); the next request starts another", code)
            self._writer.close()
            self._writer = None
            self._fail(RuntimeError(f"generation failed: the decode process exited (code {code})"))

    def _send(self, message: tuple) -> None:
        body = pickle.dumps(message)
        self._writer.write(_HEADER.pack(len(body)) + body)


def _end(child: subprocess.Popen) -> int:
    """The child's exit code, killing it if it has not exited within a few seconds."""
    try:
        return child.wait(timeout=5)
    except subprocess.TimeoutExpired:
        child.kill()
        return child.wait()


# Messages are length-prefixed pickles.
_HEADER = struct.Struct("!I")


def _write_frame(sock: socket.socket, message: object) -> None:
    body = pickle.dumps(message)
    sock.sendall(_HEADER.pack(len(body)) + body)


def _read_frame(sock: socket.socket) -> object:
    (size,) = _HEADER.unpack(_recv_exactly(sock, _HEADER.size))
    return pickle.loads(_recv_exactly(sock, size))


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    buffer = bytearray(size)
    view, got = memoryview(buffer), 0
    while got < size:
        n = sock.recv_into(view[got:])
        if n == 0:
            raise EOFError("the other side closed the socket")
        got += n
    return bytes(buffer)


# ---------------------------------------------------------------- in the child
def _serve(sock: socket.socket) -> None:
    spec: DecodeSpec = _read_frame(sock)
    try:
        scheduler = spec.build()
    except Exception as exc:
        _write_frame(sock, ("error", f"{type(exc).__name__}: {exc}"))
        return
    _write_frame(sock, ("ready", None))
    work, closing = threading.Event(), threading.Event()
    live: set[str] = set()  # requests added and not finished: the ones a failed step drops
    lock = threading.Lock()

    def read() -> None:
        try:
            while True:
                kind, *body = _read_frame(sock)
                if kind == "add":
                    with lock:
                        live.add(body[0].request_id)
                        scheduler.add(body[0])
                elif kind == "cancel":
                    scheduler.cancel(body[0])
                else:  # "close"
                    break
                work.set()
        except (EOFError, OSError):  # the replica has gone
            pass
        except Exception:
            log.exception("the decode process cannot read its requests")
        finally:
            closing.set()
            work.set()

    threading.Thread(target=read, name="rxt-decode-reader", daemon=True).start()
    try:
        while not closing.is_set():
            if not scheduler.has_work():
                work.wait()
                work.clear()
                continue
            try:
                events, stats = scheduler.step()
            except Exception as exc:  # a model failure fails the rows, not the process
                with lock:
                    dropped = sorted(live)
                    live.clear()
                    scheduler.reset()
                _write_frame(sock, ("failed", f"{type(exc).__name__}: {exc}", dropped))
                continue
            with lock:
                live.difference_update(e.request_id for e in events if e.finish is not None)
            if events or stats.batch_size:
                _write_frame(sock, ("step", events, stats))
    except OSError:  # the replica has gone mid-step
        pass


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the replica, which closes the socket
    _serve(socket.socket(fileno=int(sys.argv[1])))
