#!/usr/bin/env bash
# Create .venv (if missing) and install the project into it.
# torch is installed first, pinned to the CPU wheel, unless a CUDA torch is already importable
# (GPU machines): a bare "torch" requirement would otherwise pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
if [[ ! -x .venv/bin/python ]]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
stamp=.venv/.rxt-installed
if [[ ! -f $stamp || pyproject.toml -nt $stamp ]]; then
  python -m pip install --quiet --upgrade pip
  python -c "import torch" 2>/dev/null || python -m pip install --quiet "torch==${RXT_TORCH_VERSION:-2.13.0}"
  python -m pip install --quiet -e ".[dev]"
  touch "$stamp"
fi
python -m protos.build --if-stale
