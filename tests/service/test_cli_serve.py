"""`rxt serve` as a user runs it: a subprocess that starts its own Ray, prints its address,
serves, and shuts down cleanly on Ctrl-C."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import grpc
import pytest

from protos.rxt.v1 import reactive_pb2 as pb
from protos.rxt.v1 import reactive_pb2_grpc

from .conftest import free_port


@pytest.mark.slow
def test_rxt_serve_starts_serves_and_stops_on_ctrl_c(model_dir, tmp_path):
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "rxt_cli.main",
        "serve",
        "--model",
        str(model_dir),
        "--data-dir",
        str(tmp_path),
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        deadline = time.monotonic() + 240
        while not any("listening on" in line for line in lines):
            line = proc.stdout.readline()
            assert line and time.monotonic() < deadline, "".join(lines)
            lines.append(line)
        assert f"localhost:{port}" in lines[-1]
        with grpc.insecure_channel(f"localhost:{port}") as channel:
            stub = reactive_pb2_grpc.ReactiveServiceStub(channel)
            session = stub.CreateSession(pb.CreateSessionRequest())
            messages = list(
                stub.Interact(pb.InteractRequest(session_id=session.session_id, query="hi", max_new_tokens=4))
            )
            assert messages[-1].done
        assert (tmp_path / "rxt.db").is_file()  # SQLite under the data directory
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        assert "rxt serve: stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_rxt_serve_refuses_a_missing_model_and_a_busy_port(model_dir, tmp_path):
    serve = [sys.executable, "-m", "rxt_cli.main", "serve", "--data-dir", str(tmp_path)]
    done = subprocess.run(
        [*serve, "--model", str(tmp_path / "nothing")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "no model at" in done.stderr
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cmd = [*serve, "--model", str(model_dir), "--port", str(port)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and f"port {port} is not free" in done.stderr


def test_rxt_serve_flags_build_the_service_config(tmp_path):
    from rxt_cli import serve

    config = serve.config_from(
        serve.parse(
            ["--data-dir", str(tmp_path), "--decoders", "2", "--compile-writes", "--decode-engine", "thread"]
        )
    )
    assert config.compile_writes and config.decoder.replicas == 2 and config.decode_engine == "thread"
    assert config.database_url == f"sqlite:///{tmp_path.resolve() / 'rxt.db'}"
    defaults = serve.config_from(serve.parse([]))
    assert not defaults.compile_writes  # eager writes unless asked
    assert defaults.decode_engine == "process"
