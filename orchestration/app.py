"""The Ray Serve application: a gRPC ingress, N decoder replicas and a memory-updater pool.

    client --gRPC--> ReactiveIngress --(session_id hash)--> DecoderDeployment
                            |                                     |  answer streams
                            v                                     v  back first
                       SQL store  <---------- commit ---- MemoryUpdaterDeployment

- `ReactiveIngress` runs the public gRPC server (`grpc_server.py`: why not Serve's proxy) and
  implements `rxt.v1.ReactiveService` and `grpc.health.v1.Health`; it validates requests, maps
  errors to status codes, and routes each session's work to a decoder by consistent hashing of
  the session id.
- `DecoderDeployment` wraps `Decoder`: continuous batching across sessions, an STM cache,
  per-session ordering. Routing by session is a cache hint only: any replica can serve any
  session correctly, because the store decides which memory version a turn reads.
- `MemoryUpdaterDeployment` wraps `MemoryUpdater`, batching updates of different sessions
  (`@serve.batch`) and committing each new version with optimistic concurrency.

Build it with `build_app(ServiceConfig(...))`; `serve deploy` uses `app_builder` with the config
as `args` (see deploy/serve_config.yaml); `start(config)` runs it on a local Ray.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
from grpc_health.v1 import health_pb2
from ray import serve
from ray.serve.config import RequestRouterConfig
from ray.serve.handle import DeploymentHandle

from agents.lifecycle import close_idle_sessions
from agents.registry import AgentRegistry
from protos.rxt.v1 import reactive_pb2 as pb

from . import grpc_codec as codec
from .batch_wait import BatchWait
from .config import ReplicaConfig, ServiceConfig
from .decoder import Decoder, TurnEvent, TurnRequest
from .errors import status_of
from .grpc_server import SERVICE_NAME, start_grpc_server
from .memory_updater import InitialMemory, MemoryUpdater, UpdateJob, UpdateResult
from .metrics import RayMetrics
from .runtime import load_model, open_store

log = logging.getLogger(__name__)

CONSISTENT_HASH = "ray.serve.experimental.consistent_hash_router.ConsistentHashRouter"
QUICK_SHUTDOWN = {"graceful_shutdown_wait_loop_s": 0.1, "graceful_shutdown_timeout_s": 1.0}
SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING


@serve.deployment(**QUICK_SHUTDOWN)
class MemoryUpdaterDeployment:
    def __init__(self, config: ServiceConfig):
        model, tokenizer = load_model(config)
        self.store = open_store(config)
        agents = AgentRegistry(config.agents, config.default_agent)
        self.writes_compiled = False
        if config.compile_writes:
            try:
                seconds = model.compile_writes(config.write_precision)
                self.writes_compiled = True
                log.info("memory writes compiled in %.0f s", seconds)
            except Exception as exc:  # a missing compiler must not take the service down
                log.warning("compiling memory writes failed, they stay eager: %s", exc)
        self.updater = MemoryUpdater(model, tokenizer, self.store, agents, config.write_precision)
        log.info("memory writes: %s on %s", self.updater.precision, model.device)
        self.metrics = RayMetrics()
        self._apply_batch.set_max_batch_size(config.update_batch_size)
        self.batch_wait = BatchWait(config.update_batch_wait_s)

    async def apply(self, job: UpdateJob) -> UpdateResult:
        # read by Serve when this job opens a batch (set before queueing it, on the same loop)
        self._apply_batch.set_batch_wait_timeout_s(self.batch_wait.arrival(time.monotonic()))
        return await self._apply_batch(job)

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.0)  # both set per replica/job above
    async def _apply_batch(self, jobs: list[UpdateJob]) -> list[UpdateResult]:
        self.metrics.update_batch(len(jobs))
        return await self.updater.apply(jobs)

    async def recover(self, session_id: str) -> list[UpdateResult]:
        return await self.updater.recover(session_id)

    async def initial_memory(self, agent: str) -> InitialMemory:
        return await self.updater.initial_memory(agent)

    def write_mode(self) -> str:
        """Whether `compile_writes` took effect on this replica: "compiled" or "eager"."""
        return "compiled" if self.writes_compiled else "eager"

    def ready(self) -> bool:
        return True


@serve.deployment(
    request_router_config=RequestRouterConfig(request_router_class=CONSISTENT_HASH),
    **QUICK_SHUTDOWN,
)
class DecoderDeployment:
    def __init__(self, config: ServiceConfig, updater: DeploymentHandle):
        # With a decode process, the replica's own copy only names the model (config, fingerprint):
        # on the CPU, so a GPU holds one copy of the weights, the child's.
        model, tokenizer = load_model(config, "cpu" if config.decode_engine == "process" else None)

        async def apply(job: UpdateJob) -> UpdateResult:
            return await updater.apply.remote(job)

        async def recover(session_id: str) -> list[UpdateResult]:
            return await updater.recover.remote(session_id)

        self.decoder = Decoder(model, tokenizer, open_store(config), config, apply, recover, RayMetrics())

    async def interact(self, request: TurnRequest) -> AsyncIterator[TurnEvent]:
        async for event in self.decoder.interact(request):
            yield event

    async def rollback(self, session_id: str, version: int):
        return await self.decoder.rollback(session_id, version)

    async def fork(self, session_id: str, version: int | None, new_session_id: str | None):
        return await self.decoder.fork(session_id, version, new_session_id)

    async def delete(self, session_id: str) -> None:
        await self.decoder.delete(session_id)

    def ready(self) -> bool:
        return True

    def __del__(self) -> None:
        self.decoder.close()


@serve.deployment(max_replicas_per_node=1, **QUICK_SHUTDOWN)  # one gRPC server per node and port
class ReactiveIngress:
    """rxt.v1.ReactiveService and grpc.health.v1.Health on `config.port`. Every method catches
    expected errors and answers with their status code; the replica keeps serving."""

    async def __init__(self, config: ServiceConfig, decoder: DeploymentHandle, updater: DeploymentHandle):
        self.config = config
        self.decoder, self.updater = decoder, updater
        self.store = open_store(config)
        self.agents = AgentRegistry(config.agents, config.default_agent)
        self._reaper = asyncio.create_task(self._reap_idle_sessions())
        self._server = await start_grpc_server(self, config.port)

    async def __del__(self) -> None:
        self._reaper.cancel()
        if server := getattr(self, "_server", None):  # None if the constructor failed
            await server.stop(grace=0.5)

    # ------------------------------------------------------------------ rxt.v1.ReactiveService
    async def CreateSession(self, request: pb.CreateSessionRequest, grpc_context) -> pb.Session:
        try:
            agent = self.agents.get(request.agent)
            initial = await self.updater.initial_memory.remote(agent.name)
            info = await self.store.create_session(
                initial.stm,
                fingerprint=initial.fingerprint,
                session_id=request.session_id or None,
                agent=agent.name,
            )
            return codec.session(info)
        except Exception as exc:
            await _abort(grpc_context, exc)

    async def Interact(self, request: pb.InteractRequest, grpc_context) -> AsyncIterator[pb.InteractResponse]:
        try:
            turn = codec.turn_request(request, self.config.max_query_chars)
            stream = self._decoder(turn.session_id, stream=True).interact.remote(turn)
            finished = False
            try:
                async for event in stream:
                    finished = event.done
                    yield codec.interact_response(event)
            finally:
                if not finished:  # the client went away: stop generating (the turn is not written)
                    stream.cancel()
        except Exception as exc:
            await _abort(grpc_context, exc)

    async def GetSession(self, request: pb.GetSessionRequest, grpc_context) -> pb.Session:
        try:
            sid = codec.require_session_id(request.session_id)
            # Pending first: if it was empty, the head read after it includes every update.
            pending = bool(await self.store.list_pending(sid, limit=1))
            info = await self.store.get_session(sid)
            return codec.session(info, update_pending=pending)
        except Exception as exc:
            await _abort(grpc_context, exc)

    async def ListSnapshots(self, request: pb.ListSnapshotsRequest, grpc_context) -> pb.ListSnapshotsResponse:
        try:
            sid = codec.require_session_id(request.session_id)
            info = await self.store.get_session(sid)
            versions = await self.store.list_versions(sid)
            log_ = await self.store.list_interactions(sid)
            return codec.snapshots(versions, log_, info.head_version)
        except Exception as exc:
            await _abort(grpc_context, exc)

    async def ForkSession(self, request: pb.ForkSessionRequest, grpc_context) -> pb.Session:
        try:
            sid = codec.require_session_id(request.session_id)
            version = codec.require_version(request.version) if request.HasField("version") else None
            info = await self._decoder(sid).fork.remote(sid, version, None)
            return codec.session(info)
        except Exception as exc:
            await _abort(grpc_context, exc)

    async def RollbackSession(self, request: pb.RollbackSessionRequest, grpc_context) -> pb.Session:
        try:
            sid = codec.require_session_id(request.session_id)
            info = await self._decoder(sid).rollback.remote(sid, codec.require_version(request.version))
            return codec.session(info)
        except Exception as exc:
            await _abort(grpc_context, exc)

    async def DeleteSession(self, request: pb.DeleteSessionRequest, grpc_context) -> pb.DeleteSessionResponse:
        try:
            sid = codec.require_session_id(request.session_id)
            await self._decoder(sid).delete.remote(sid)
        except Exception as exc:
            await _abort(grpc_context, exc)
        return pb.DeleteSessionResponse()

    async def ListAgents(self, request: pb.ListAgentsRequest, grpc_context) -> pb.ListAgentsResponse:
        return pb.ListAgentsResponse(agents=[codec.agent(a, self.agents.default) for a in self.agents])

    # ------------------------------------------------------------------ grpc.health.v1.Health
    async def Check(
        self, request: health_pb2.HealthCheckRequest, grpc_context
    ) -> health_pb2.HealthCheckResponse:
        if request.service not in ("", SERVICE_NAME):
            await grpc_context.abort(
                grpc.StatusCode.NOT_FOUND,
                f"unknown service {request.service!r}; this server offers {SERVICE_NAME!r}",
            )
        return health_pb2.HealthCheckResponse(status=await self._status())

    async def List(
        self, request: health_pb2.HealthListRequest, grpc_context
    ) -> health_pb2.HealthListResponse:
        status = health_pb2.HealthCheckResponse(status=await self._status())
        return health_pb2.HealthListResponse(statuses={"": status, SERVICE_NAME: status})

    async def Watch(
        self, request: health_pb2.HealthCheckRequest, grpc_context
    ) -> AsyncIterator[health_pb2.HealthCheckResponse]:
        """Streams the status now and then whenever it changes (checked every second)."""
        if request.service not in ("", SERVICE_NAME):
            yield health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVICE_UNKNOWN)
            return
        last = None
        while True:
            status = await self._status()
            if status != last:
                yield health_pb2.HealthCheckResponse(status=status)
                last = status
            await asyncio.sleep(1.0)

    async def _status(self) -> int:
        """SERVING when a decoder and an updater replica answer within 2 s."""
        try:
            async with asyncio.timeout(2.0):
                await asyncio.gather(self.decoder.ready.remote(), self.updater.ready.remote())
            return SERVING
        except Exception:
            return NOT_SERVING

    # ------------------------------------------------------------------ helpers
    def _decoder(self, session_id: str, stream: bool = False) -> DeploymentHandle:
        """The decoder replica that owns this session on the hash ring (a cache hint)."""
        return self.decoder.options(session_id=session_id, stream=stream)

    async def _reap_idle_sessions(self) -> None:
        while True:
            await asyncio.sleep(self.config.reap_interval_s)
            if self.config.session_idle_ttl_s is None and not any(a.idle_ttl_s for a in self.agents):
                continue
            try:
                await close_idle_sessions(self.store, self.agents, self.config.session_idle_ttl_s)
            except Exception:
                log.exception("closing idle sessions failed")


async def _abort(grpc_context: grpc.aio.ServicerContext, exc: BaseException):
    """End the RPC with the failure's status code; log and answer INTERNAL for a bug."""
    status = status_of(exc)
    if status is None:
        log.exception("internal error", exc_info=exc)
        status = (grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}: {exc}")
    await grpc_context.abort(*status)


# ---------------------------------------------------------------------- building and starting
def _options(replicas: ReplicaConfig, config: ServiceConfig) -> dict[str, Any]:
    return {
        "num_replicas": replicas.replicas,
        "max_ongoing_requests": replicas.max_ongoing_requests,
        "ray_actor_options": {"num_cpus": replicas.num_cpus, "num_gpus": replicas.num_gpus},
        "logging_config": {"enable_access_log": config.access_log},
    }


def build_app(config: ServiceConfig) -> serve.Application:
    updater = MemoryUpdaterDeployment.options(**_options(config.updater, config)).bind(config)
    decoder = DecoderDeployment.options(**_options(config.decoder, config)).bind(config, updater)
    return ReactiveIngress.options(**_options(config.ingress, config)).bind(config, decoder, updater)


def app_builder(args: dict[str, Any]) -> serve.Application:
    """Entry point of `serve deploy` / `serve run orchestration.app:app_builder key=value`."""
    return build_app(ServiceConfig(**args))


def start(config: ServiceConfig) -> None:
    """Run the application (Ray must be up); returns once the gRPC server on `config.port` serves.
    Serve's proxies are off: the ingress replicas serve gRPC themselves."""
    serve.start(proxy_location="Disabled")
    serve.run(build_app(config), name=config.app_name, route_prefix=None)
