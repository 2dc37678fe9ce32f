"""Where the bundled model lives: `models/rxt-nano` at the project root (committed weights).

`RXT_MODEL_DIR` overrides it, so installed copies and containers can point elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path


def bundled_model_dir() -> Path:
    override = os.environ.get("RXT_MODEL_DIR")
    return Path(override) if override else Path(__file__).resolve().parents[1] / "models" / "rxt-nano"
