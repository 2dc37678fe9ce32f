#!/usr/bin/env bash
# Run the service with the embedded defaults: local Ray, SQLite under ~/.rxt, the bundled model,
# gRPC on port 50051. Extra args go to `rxt serve` (see `rxt serve --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
. .venv/bin/activate
export RAY_AUTH_MODE=${RAY_AUTH_MODE:-disabled}
exec rxt serve "$@"
