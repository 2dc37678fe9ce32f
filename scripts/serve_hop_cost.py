"""CPU cost of one Ray Serve call between two replicas, by what it carries.

    .venv/bin/python scripts/serve_hop_cost.py [--calls 400] [--kib 128]

Starts a local Ray with the service's environment (orchestration/local_ray.py: Serve's throughput
mode, which Serve reads when it is imported: hence the import order below), deploys a caller and an echo replica, and times `--calls` calls of the echo carrying
nothing, a torch tensor, the same bytes as a numpy array, and an `UpdateJob` (the memory
updater's argument), one after another and all at once. Prints wall time per call and the CPU
seconds per call summed over every process on the machine (from /proc), alternating the arms
twice. Why it exists: orchestration/wire.py.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import torch

from orchestration.local_ray import init_local_ray
from orchestration.memory_updater import UpdateJob
from rxt_cli import process_cpu

init_local_ray(num_cpus=2, logging_level="ERROR")  # before Ray Serve is imported: it reads its mode once
from ray import serve  # noqa: E402


def payload(kind: str, nbytes: int):
    stm = torch.randn(nbytes // 4)
    return {
        "nothing": None,
        "tensor": stm,
        "numpy": stm.numpy(),
        "UpdateJob": UpdateJob("s", 1, 0, stm.view(1, 1, 1, -1), list(range(32)), list(range(12))),
    }[kind]


@serve.deployment
class Echo:
    async def call(self, x):
        return x


@serve.deployment
class Caller:
    def __init__(self, echo):
        self.echo = echo

    async def run(self, kind: str, nbytes: int, calls: int, together: bool) -> float:
        x = payload(kind, nbytes)
        start = time.perf_counter()
        if together:
            await asyncio.gather(*(self.echo.call.remote(x) for _ in range(calls)))
        else:
            for _ in range(calls):
                await self.echo.call.remote(x)
        return time.perf_counter() - start


async def main(args: argparse.Namespace) -> None:
    handle = serve.run(Caller.bind(Echo.bind()), name="hop-cost")
    await handle.run.remote("nothing", 0, 50, False)  # warm up
    nbytes = args.kib * 1024
    print(f"{'payload':>10}  {'calls':>8}  {'wall ms/call':>12}  {'CPU ms/call':>11}")
    for _ in range(2):
        for kind in ("nothing", "tensor", "numpy", "UpdateJob"):
            for together in (False, True):
                before = process_cpu.snapshot()
                wall = await handle.run.remote(kind, nbytes, args.calls, together)
                cpu = sum(process_cpu.cpu_seconds_by_role(before, process_cpu.snapshot()).values())
                mode = "together" if together else "in turn"
                print(
                    f"{kind:>10}  {mode:>8}  {wall / args.calls * 1e3:12.2f}  {cpu / args.calls * 1e3:11.2f}"
                )
    serve.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--kib", type=int, default=128, help="payload size (the bundled model's STM: 128)")
    asyncio.run(main(parser.parse_args()))
