"""Which code a benchmark measured: the git commit of this checkout and whether files differ from
it. A JSON from before a change and one from after otherwise look alike (session 18's A/Bs)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def code_version() -> dict | None:
    """{"commit": sha, "modified": bool}; None outside a git checkout (an installed package)."""
    try:
        commit = _git("rev-parse", "HEAD")
        modified = bool(_git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"commit": commit, "modified": modified}


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=10)
    return done.stdout.strip()
