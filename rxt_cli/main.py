"""Entry point of the `rxt` console script.

Each sub-command lives in its own module with a `main(argv) -> int` function and owns its own
argparse parser. Modules are imported only when their command runs, so `rxt --help` stays fast
and `rxt bench latency` never imports Ray or SQLAlchemy.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("rxt_cli.serve", "run the gRPC service (local Ray, SQLite, the bundled model)"),
    "chat": ("rxt_cli.chat", "interactive terminal client for a running service"),
    "demo": ("rxt_cli.demo", "chat with a model in-process (no service)"),
    "train": ("rxt_cli.train", "train a model through the four-stage curriculum"),
    "eval": ("rxt_cli.eval", "evaluate RxT (and a baseline) on dialogues"),
    "data": ("rxt_cli.data", "make synthetic dialogues, train a tokenizer"),
    "bench": ("rxt_cli.bench", "benchmarks: latency, storage, serve"),
}


def _usage() -> str:
    lines = ["usage: rxt COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<7} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run `rxt COMMAND --help` for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"rxt: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
