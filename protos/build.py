"""Regenerate the Python modules of every `.proto` under `protos/`: `python -m protos.build`.

Outputs (`*_pb2.py`, `*_pb2.pyi`, `*_pb2_grpc.py`) are committed next to their `.proto`, inside
the `protos` package, so Ray workers import them like any other module. Imports between
generated modules are rewritten to relative ones, which keeps the `.proto` paths clean
(`rxt/v1/reactive.proto`, what reflection shows) while the modules live under `protos.`.

`--if-stale` regenerates only when a `.proto` changed: each `_pb2.py` starts with the SHA-256
of its source, so the check is a file read (no grpc_tools import) and survives `git checkout`
resetting modification times.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
STAMP = "# source-sha256: "
log = logging.getLogger("protos.build")


def sources() -> list[Path]:
    return sorted(ROOT.rglob("*.proto"))


def outputs(proto: Path) -> list[Path]:
    stem = proto.with_suffix("")
    return [Path(f"{stem}_pb2.py"), Path(f"{stem}_pb2.pyi"), Path(f"{stem}_pb2_grpc.py")]


def digest(proto: Path) -> str:
    return hashlib.sha256(proto.read_bytes()).hexdigest()


def is_stale(proto: Path) -> bool:
    pb2, *rest = outputs(proto)
    if not all(p.is_file() for p in (pb2, *rest)):
        return True
    with pb2.open() as f:
        first = f.readline().strip()
    return first != f"{STAMP}{digest(proto)}".strip()


def generate(proto: Path) -> None:
    from grpc_tools import protoc  # imported only when something must be built: it is slow

    include = Path(protoc.__file__).parent / "_proto"  # google/protobuf/*.proto
    relative = proto.relative_to(ROOT)
    args = [
        "protoc",
        f"-I{ROOT}",
        f"-I{include}",
        f"--python_out={ROOT}",
        f"--pyi_out={ROOT}",
        f"--grpc_python_out={ROOT}",
        str(relative),
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed on {relative}")
    for path in outputs(proto):
        _relativise_imports(path)
    pb2 = outputs(proto)[0]
    pb2.write_text(f"{STAMP}{digest(proto)}\n" + pb2.read_text())
    log.info("generated %s", ", ".join(p.name for p in outputs(proto)))


def _relativise_imports(path: Path) -> None:
    """`from rxt.v1 import reactive_pb2` -> `from . import reactive_pb2` (same folder) or the
    `protos.`-qualified form for other folders of this tree. Messages are registered under the
    module's real `__name__` (protoc writes 'rxt.v1.reactive_pb2'), so pickle — how Ray ships a
    request to a replica — finds their classes."""
    here = ".".join(path.parent.relative_to(ROOT).parts)

    def fix(match: re.Match) -> str:
        package, rest = match.group(1), match.group(2)
        if package == here:
            return f"from . import {rest}"
        if (ROOT / package.replace(".", "/")).is_dir():
            return f"from protos.{package} import {rest}"
        return match.group(0)  # google.protobuf and other installed packages

    text = re.sub(r"^from ([\w.]+) import (\w+_pb2\b.*)$", fix, path.read_text(), flags=re.M)
    text = re.sub(r"(BuildTopDescriptorsAndMessages\(DESCRIPTOR, )'[\w.]+'", r"\1__name__", text)
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m protos.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--if-stale", action="store_true", help="only rebuild protos whose source changed")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    todo = [p for p in sources() if not args.if_stale or is_stale(p)]
    for proto in todo:
        generate(proto)
    if args.if_stale and not todo:
        log.info("protos up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
