"""The service with `compile_writes`: the memory updater compiles its writes at start-up and the
service behaves as with eager writes — concurrent sessions' updates land in order, and a fork
of a head answers exactly as the head does (the compiled write produced one consistent memory)."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from protos.rxt.v1 import reactive_pb2 as pb

from .conftest import RunningService, free_port
from .test_service import create, settled, turn

pytestmark = [pytest.mark.ray, pytest.mark.slow]


@pytest.fixture(scope="module")
def compiled_service(ray_cluster, model_dir, tmp_path_factory):
    from orchestration.config import ServiceConfig

    db = tmp_path_factory.mktemp("db") / "rxt.db"
    config = ServiceConfig(
        model_dir=model_dir, database_url=f"sqlite:///{db}", port=free_port(), compile_writes=True
    )
    running = RunningService(config)
    running.start()
    # Serve handles live on an event loop, which must outlast serve.shutdown()
    running.loop = asyncio.new_event_loop()
    thread = threading.Thread(target=running.loop.run_forever, daemon=True)
    thread.start()
    yield running
    running.stop()
    running.loop.call_soon_threadsafe(running.loop.stop)
    thread.join(timeout=10)


def test_compiled_writes_serve_concurrent_sessions_in_order(compiled_service):
    from ray import serve

    async def write_mode() -> str:
        updater = serve.get_deployment_handle("MemoryUpdaterDeployment", compiled_service.config.app_name)
        return await updater.write_mode.remote()

    assert (
        asyncio.run_coroutine_threadsafe(write_mode(), compiled_service.loop).result(timeout=30) == "compiled"
    )
    stub = compiled_service.stub

    def conversation(i: int) -> tuple[str, list[int]]:
        sid = create(stub).session_id
        versions = [
            turn(stub, sid, f"hello {i}, turn {t}", max_new_tokens=8)[1].from_version for t in range(3)
        ]
        return sid, versions

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(conversation, range(8)))
    assert [versions for _, versions in results] == [[0, 1, 2]] * 8
    sid = results[0][0]
    assert settled(stub, sid).version == 3
    twin = stub.ForkSession(pb.ForkSessionRequest(session_id=sid))
    assert turn(stub, twin.session_id)[0] == turn(stub, sid)[0]
