"""The public gRPC server itself (no Ray): a port already in use is an error that names the port,
never a second server silently sharing it (SO_REUSEPORT would split clients between the two)."""

from __future__ import annotations

import asyncio
import socket

import pytest
from grpc_health.v1 import health_pb2_grpc

from orchestration.grpc_server import start_grpc_server
from protos.rxt.v1 import reactive_pb2_grpc


class Servicer(reactive_pb2_grpc.ReactiveServiceServicer, health_pb2_grpc.HealthServicer):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::", 0))
        return s.getsockname()[1]


def test_a_second_server_on_a_taken_port_fails_loudly():
    async def body():
        port = free_port()
        first = await start_grpc_server(Servicer(), port)
        with pytest.raises(RuntimeError, match=f"cannot listen on port {port}: it is in use"):
            await start_grpc_server(Servicer(), port, bind_timeout_s=0.3)
        await first.stop(grace=None)
        second = await start_grpc_server(Servicer(), port, bind_timeout_s=5)  # free again: it binds
        await second.stop(grace=None)

    asyncio.run(body())
