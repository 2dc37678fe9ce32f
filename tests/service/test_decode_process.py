"""The decode engine in a child process: the same tokens as the scheduler alone, cancellation
reaching the child, and failures (a bad step, a dead child) that fail their requests only."""

import asyncio
import os
import signal
from dataclasses import replace

import pytest
import torch

from orchestration.decode_process import DecodeProcess
from rxt_core import ReactiveTransformer, preset

from .test_scheduler import alone, answer, request


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return ReactiveTransformer(preset("tiny", max_seq_len=512)).eval()


@pytest.fixture
def engine(model):
    steps = []
    engine = DecodeProcess(model, max_batch=8, threads=1, on_step=steps.append)
    engine.steps = steps
    yield engine
    engine.close()


def run(coro):
    async def bounded():
        async with asyncio.timeout(60):  # a lost event would leave the caller waiting forever
            return await coro

    return asyncio.run(bounded())


def test_concurrent_requests_share_steps_and_get_the_tokens_they_would_get_alone(model, engine):
    reqs = [request(model, n, max_new_tokens=10) for n in range(4)]

    async def main():
        return await asyncio.gather(*(answer(engine, r) for r in reqs))

    for req, got in zip(reqs, run(main()), strict=True):
        assert got == alone(model, req)
    assert max(s.batch_size for s in engine.steps) >= 2


def test_a_request_its_caller_abandons_stops_generating_in_the_child(model, engine):
    long = request(model, 0, max_new_tokens=400, min_new_tokens=400)  # no early EOS
    short = request(model, 1, max_new_tokens=6)

    async def main():
        assert len(await answer(engine, long, stop_after=2)) == 2
        await asyncio.sleep(0.3)  # the cancel reaches the child
        steps = len(engine.steps)
        await asyncio.sleep(0.3)
        assert len(engine.steps) == steps < 100  # stopped, long before its 400 tokens
        engine.steps.clear()
        return await answer(engine, short)

    assert run(main()) == alone(model, short)
    assert engine.steps and all(s.batch_size == 1 for s in engine.steps)  # the long row is gone


def test_a_failed_step_fails_its_rows_and_the_child_keeps_serving(model, engine):
    good = request(model, 1)
    bad = replace(request(model, 0), stm=torch.randn(1, 1, 3, 5))  # an STM of the wrong shape
    pid = engine.pid

    async def main():
        with pytest.raises(RuntimeError, match="generation failed"):
            await answer(engine, bad)
        return await answer(engine, good)

    assert run(main()) == alone(model, good)
    assert engine.pid == pid


def test_a_dead_child_fails_its_requests_and_the_next_request_starts_another(model, engine):
    long, after = request(model, 0, max_new_tokens=40), request(model, 2)
    first = engine.pid

    async def main():
        stream = engine.generate(long)
        await anext(stream)
        os.kill(first, signal.SIGKILL)
        with pytest.raises(RuntimeError, match="decode process exited"):
            async for _ in stream:
                pass
        return await answer(engine, after)

    assert run(main()) == alone(model, after)
    assert engine.pid not in (None, first)


def test_the_child_runs_at_its_niceness(model):
    """Below the memory updater, whose work each session's next turn waits for (docs/service.md)."""
    engine = DecodeProcess(model, max_batch=2, threads=1, niceness=4)
    try:
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, engine.pid) == min(ours + 4, 19)
    finally:
        engine.close()


def test_close_ends_the_child(model):
    engine = DecodeProcess(model, max_batch=2, threads=1)
    pid = engine.pid
    engine.close()
    with pytest.raises(ProcessLookupError):  # exited and reaped
        os.kill(pid, 0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_cpu_model_decodes_on_the_gpu_in_the_child(model):
    """The decoder replica keeps its copy on the CPU; the child decodes on the device it is given."""
    engine = DecodeProcess(model, max_batch=8, threads=1, device=torch.device("cuda"))
    reqs = [request(model, n, max_new_tokens=10) for n in range(3)]

    async def main():
        return await asyncio.gather(*(answer(engine, r) for r in reqs))

    try:
        got = run(main())
    finally:
        engine.close()
    on_gpu = ReactiveTransformer(model.config).to("cuda").eval()
    on_gpu.load_state_dict(model.state_dict())
    for req, tokens in zip(reqs, got, strict=True):
        assert tokens == alone(on_gpu, replace(req, stm=req.stm.cuda()))
