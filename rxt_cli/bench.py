"""`rxt bench {latency,storage,serve}`: each benchmark is its own module with `main(argv)`."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = {
    "latency": ("rxt_cli.bench_latency", "per-turn latency of RxT vs a stateless LM, tokens/s by batch size"),
    "storage": ("rxt_cli.bench_storage", "STM snapshot commit/load latency on SQLite and PostgreSQL"),
    "serve": ("rxt_cli.bench_serve", "concurrent sessions through the gRPC service"),
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in BENCHMARKS:
        print("usage: rxt bench {" + ",".join(BENCHMARKS) + "} [ARGS...]\n")
        for name, (_, help_) in BENCHMARKS.items():
            print(f"  {name:<8} {help_}")
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    module = importlib.import_module(BENCHMARKS[argv[0]][0])
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
