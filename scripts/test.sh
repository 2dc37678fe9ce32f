#!/usr/bin/env bash
# Run the whole test suite (installs everything into .venv first). Extra args go to pytest.
# PostgreSQL tests run when RXT_TEST_DATABASE_URL is set (.ci/run sets it); otherwise they are
# skipped with a visible reason.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
. .venv/bin/activate
export RAY_AUTH_MODE=${RAY_AUTH_MODE:-disabled}
ruff check .
ruff format --check .
exec python -m pytest "$@"
