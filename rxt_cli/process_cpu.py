"""CPU time of every process on this machine, grouped by its role in the service (Linux /proc).

`rxt bench serve` takes a snapshot before and after each concurrency level and reports the CPU
each role spent per turn: on a machine with few cores the service's throughput is bounded by
the sum, so this is where to look first (docs/service.md, session 9). Only processes on this
host are seen: against a remote `--address` the service's replicas do not appear.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from pathlib import Path

PROC = Path("/proc")
REPLICA = re.compile(r"ray::ServeReplica:[^:\s]+:(\w+)")
RAY_CORE = ("gcs_server", "raylet", "dashboard", "log_monitor", "runtime_env", "ray/_private", "ray::")
CLIENT, SERVE_CONTROLLER, RAY, OTHER = "bench client", "Serve controller", "Ray (other)", "other processes"
DECODE_CHILD = "decode child"  # a decoder replica's decode process (orchestration/decode_process.py)


def role_of(cmdline: str, pid: int, own_pid: int) -> str:
    """A Serve replica's deployment name, this process, a replica's decode child, the Serve
    controller, the rest of Ray, or anything else."""
    if pid == own_pid:
        return CLIENT
    if match := REPLICA.search(cmdline):
        return match.group(1)
    if "-m orchestration.decode_process" in cmdline:
        return DECODE_CHILD
    if "ServeController" in cmdline:
        return SERVE_CONTROLLER
    if any(mark in cmdline for mark in RAY_CORE):
        return RAY
    return OTHER


def available() -> bool:
    return (PROC / "self" / "stat").exists()


def snapshot() -> dict[int, tuple[str, float]]:
    """pid -> (role, user + system CPU seconds so far); empty where /proc does not exist."""
    if not available():
        return {}
    tick, own = os.sysconf("SC_CLK_TCK"), os.getpid()
    seen = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended meanwhile
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        pid = int(entry.name)
        seconds = (int(fields[11]) + int(fields[12])) / tick  # in clock ticks (10 ms)
        if pid == own:  # this process to the nanosecond: a short level can spend less than a tick
            seconds = time.process_time()
        seen[pid] = (role_of(cmdline, pid, own), seconds)
    return seen


def cpu_seconds_by_role(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> Counter:
    """CPU seconds each role spent between two snapshots (processes started in between count
    from zero; processes that ended in between are lost)."""
    spent: Counter = Counter()
    for pid, (role, seconds) in after.items():
        earlier = before.get(pid)
        spent[role] += seconds - (earlier[1] if earlier and earlier[0] == role else 0.0)
    return spent
