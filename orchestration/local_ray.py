"""Starting a local Ray for the service: `rxt serve`, `rxt bench serve` and the tests share it.

The environment below must be in place before Ray starts, because every Ray process (raylet,
Serve controller, replicas) inherits it and Serve reads its settings once, at import:

- `RAY_SERVE_THROUGHPUT_OPTIMIZED=1`, Ray Serve's documented high-throughput mode (Ray >= 2.56):
  replica-to-replica calls over gRPC instead of Ray actor calls, user code and the router on the
  replica's own event loop (no hop to a second loop thread per call and per streamed message),
  request logs buffered. Measured here (2 cores, 32 sessions x 8 turns, `rxt bench serve`,
  alternated runs): 49-73 ms of CPU per turn over all Ray processes instead of 100-108 ms, and
  203-309 instead of 141-155 answer tokens/s (docs/service.md).
- `RAY_SERVE_ENABLE_DIRECT_INGRESS=0`: that mode would also start Serve's HTTP proxy on port
  8000 and an HTTP port per ingress replica, although Serve's proxies are off here (the ingress
  serves gRPC itself); those ports are not ours to take.
- `RAY_worker_niceness=0`: Ray starts workers at niceness 15 (background work); here the workers
  *are* the service.
- `RAY_AUTH_MODE=disabled`: a local, single-user cluster.

A value already set in the environment wins, so an operator can switch any of these back.
On a cluster, set the same variables in the environment of `ray start` on every node.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

SERVICE_RAY_ENV = {
    "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
    "RAY_SERVE_ENABLE_DIRECT_INGRESS": "0",
    "RAY_worker_niceness": "0",
    "RAY_AUTH_MODE": "disabled",
}


def init_local_ray(**options: Any) -> None:
    """`ray.init` a new local cluster with the service's environment. `options` go to `ray.init`
    (e.g. `num_cpus`, `logging_level`); a short temp dir keeps Ray's Unix socket paths legal."""
    for name, value in SERVICE_RAY_ENV.items():
        os.environ.setdefault(name, value)
    import ray

    options.setdefault("_temp_dir", tempfile.mkdtemp(prefix="rxt-", dir="/tmp"))
    ray.init(address="local", include_dashboard=False, **options)
