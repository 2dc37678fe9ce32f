"""`rxt serve`: run the gRPC service on this machine — local Ray, the Serve application, SQLite
under a data directory and the bundled model — until Ctrl-C.

Clients connect to the printed address (default localhost:50051): `rxt chat`, grpcurl (server
reflection is on), or stubs generated from protos/rxt/v1/reactive.proto. For a cluster with
PostgreSQL and GPU replicas use `serve deploy deploy/serve_config.yaml` instead (docs/service.md).
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading
from pathlib import Path

from orchestration.config import DEFAULT_DATA_DIR, DEFAULT_PORT, ReplicaConfig, ServiceConfig


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="rxt serve", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="holds rxt.db (default: %(default)s)"
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="gRPC port (default: %(default)s)")
    p.add_argument("--model", type=Path, default=None, help="model folder (default: the bundled model)")
    p.add_argument("--database-url", default=None, help="SQLAlchemy URL (default: SQLite in --data-dir)")
    p.add_argument("--decoders", type=int, default=1, help="decoder replicas (default: 1)")
    p.add_argument("--updaters", type=int, default=1, help="memory-updater replicas (default: 1)")
    p.add_argument(
        "--num-gpus", type=float, default=0.0, help="GPUs per decoder/updater replica (default: 0)"
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads per model replica (default: 1)")
    p.add_argument("--max-batch-size", type=int, default=64, help="rows per decode step (default: 64)")
    p.add_argument(
        "--compile-writes",
        action="store_true",
        help="torch.compile the memory writes: faster updates, about a minute more to start",
    )
    p.add_argument(
        "--decode-engine",
        choices=["process", "thread"],
        default="process",
        help="decode steps in a child process of each decoder replica, or in a thread of it (default: %(default)s)",
    )
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs for local Ray (default: all)")
    p.add_argument("--verbose", action="store_true", help="show Ray and Serve logs")
    return p.parse_args(argv)


def config_from(args: argparse.Namespace) -> ServiceConfig:
    data_dir = args.data_dir.expanduser().resolve()
    fields = {
        "port": args.port,
        "database_url": args.database_url or f"sqlite:///{data_dir / 'rxt.db'}",
        "decoder": ReplicaConfig(replicas=args.decoders, num_gpus=args.num_gpus),
        "updater": ReplicaConfig(replicas=args.updaters, num_gpus=args.num_gpus),
        "torch_threads": args.threads,
        "max_batch_size": args.max_batch_size,
        "compile_writes": args.compile_writes,
        "decode_engine": args.decode_engine,
    }
    if args.model is not None:
        fields["model_dir"] = args.model.expanduser().resolve()
    return ServiceConfig(**fields)


def check(config: ServiceConfig) -> str | None:
    """A reason the service cannot start, found before Ray spends seconds starting."""
    if not (config.model_dir / "config.json").is_file():
        return f"no model at {config.model_dir}; pass --model DIR (a folder saved by save_pretrained)"
    if not (config.model_dir / "tokenizer.json").is_file():
        return f"{config.model_dir} has no tokenizer.json"
    with socket.socket(socket.AF_INET6 if socket.has_ipv6 else socket.AF_INET) as s:
        try:
            s.bind(("::" if socket.has_ipv6 else "0.0.0.0", config.port))
        except OSError as exc:
            return f"port {config.port} is not free ({exc.strerror}); choose another with --port"
    return None


def main(argv: list[str]) -> int:
    args = parse(argv)
    config = config_from(args)
    problem = check(config)
    if problem:
        print(f"rxt serve: {problem}", file=sys.stderr)
        return 2
    if config.database_url.startswith("sqlite:///"):
        Path(config.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    from orchestration.local_ray import init_local_ray

    print(f"rxt serve: starting Ray and the service (model {config.model_dir}) ...", flush=True)
    init_local_ray(
        num_cpus=args.num_cpus,
        logging_level="INFO" if args.verbose else "WARNING",
        log_to_driver=args.verbose,
        configure_logging=args.verbose,
    )
    import ray
    from ray import serve

    from orchestration.app import start

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # explicit: a background job inherits SIGINT ignored
        signal.signal(sig, lambda *_: stop.set())
    try:
        start(config)
        print(f"RxT Serve listening on {config.address} (gRPC, reflection on)", flush=True)
        print(f"  database {config.database_url}", flush=True)
        print("  try: rxt chat --address " + config.address + "   Ctrl-C stops", flush=True)
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        print("\nrxt serve: shutting down ...", flush=True)
        serve.shutdown()
        ray.shutdown()
    print("rxt serve: stopped", flush=True)
    return 0
