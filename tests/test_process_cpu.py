"""rxt bench serve's CPU accounting: every process on the host, grouped by its role."""

import subprocess
import sys
import time

import pytest

from rxt_cli import process_cpu
from rxt_cli.process_cpu import CLIENT, DECODE_CHILD, OTHER, RAY, SERVE_CONTROLLER, role_of

pytestmark = pytest.mark.skipif(not process_cpu.available(), reason="needs Linux /proc")


@pytest.mark.parametrize(
    ("cmdline", "role"),
    [
        ("ray::ServeReplica:rxt:DecoderDeployment", "DecoderDeployment"),
        ("ray::ServeReplica:rxt:MemoryUpdaterDeployment.apply", "MemoryUpdaterDeployment"),
        ("ray::ServeController.listen_for_change", SERVE_CONTROLLER),
        ("/venv/lib/python3.11/site-packages/ray/core/src/ray/gcs/gcs_server --log_dir=/tmp", RAY),
        ("/venv/bin/python -u /venv/lib/python3.11/site-packages/ray/dashboard/agent.py", RAY),
        ("/repo/.venv/bin/python -m orchestration.decode_process 17", DECODE_CHILD),
        ("postgres: 15/main: walwriter", OTHER),
    ],
)
def test_processes_are_grouped_by_their_role(cmdline, role):
    assert role_of(cmdline, pid=100, own_pid=1) == role


def _burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_cpu_spent_between_snapshots_lands_on_the_process_that_spent_it():
    before = process_cpu.snapshot()
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\nend = time.process_time() + 0.4\nwhile time.process_time() < end: pass\ninput()",
        ],
        stdin=subprocess.PIPE,
    )
    _burn(0.3)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # until the child has burnt its share (it stays alive)
        spent = process_cpu.cpu_seconds_by_role(before, process_cpu.snapshot())
        if spent[OTHER] >= 0.35:
            break
        time.sleep(0.1)
    child.communicate(b"\n", timeout=30)
    assert spent[CLIENT] >= 0.25, spent  # this process's busy loop
    assert spent[OTHER] >= 0.35, spent  # the child's
