"""The public gRPC server: `rxt.v1.ReactiveService`, `grpc.health.v1.Health` and reflection on
one port, served by a `grpc.aio` server that runs inside an ingress replica.

Why not Serve's gRPC proxy: on Ray 2.60 the proxy loses a client's cancellation when it lands
while the proxy is busy writing a message (ray-project/ray#42665 describes the same gap). Measured
here: 2 of 12 answers whose client disconnected after the first message ran to the end and were
written to memory. Our own server cancels the handler on every disconnect, and a turn takes one
hop fewer (client → ingress → decoder instead of client → proxy → ingress → decoder).

One server per ingress replica, so at most one ingress replica per node (the deployment sets
`max_replicas_per_node=1`); `SO_REUSEPORT` is off so a second server on a taken port fails loudly
instead of silently sharing it.
"""

from __future__ import annotations

import asyncio
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from protos.rxt.v1 import reactive_pb2 as pb
from protos.rxt.v1 import reactive_pb2_grpc

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ReactiveService"].full_name
HEALTH_NAME = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name


async def start_grpc_server(servicer: object, port: int, bind_timeout_s: float = 15.0) -> grpc.aio.Server:
    """Serve `servicer` (ReactiveService and Health methods) on all interfaces at `port`.

    Binding retries for `bind_timeout_s`: on a restart the previous replica may still be
    releasing the port."""
    deadline = time.monotonic() + bind_timeout_s
    while True:
        server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        reactive_pb2_grpc.add_ReactiveServiceServicer_to_server(servicer, server)
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
        reflection.enable_server_reflection((SERVICE_NAME, HEALTH_NAME, reflection.SERVICE_NAME), server)
        try:
            server.add_insecure_port(f"[::]:{port}")
        except RuntimeError as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(f"cannot listen on port {port}: it is in use ({exc})") from None
            await asyncio.sleep(0.2)
            continue
        await server.start()
        return server
