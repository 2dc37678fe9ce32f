"""How long the memory updater waits to fill a batch: long under load, not at all when idle.

A batch of one costs per update about twice what a batch of four does (the bundled model on a
Zen 4 core: 6.1 vs 2.9 ms a row, `docs/results/session18/update_cost.py`), so under load waiting
for company pays: at 64 sessions a 20 ms wait gave ~10% more tokens/s (docs/service.md, session
18). But the next turn of a session waits for its update, so with no company coming the wait is
pure latency. `BatchWait` therefore waits only while updates arrive closer together than the
wait itself (a smoothed mean of the gaps between arrivals), so that another is expected in time.
"""

from __future__ import annotations

import math


class BatchWait:
    def __init__(self, max_wait_s: float, smoothing: float = 0.2):
        """`smoothing`: weight of the newest gap in the running mean (0 < smoothing <= 1)."""
        if max_wait_s < 0 or not 0 < smoothing <= 1:
            raise ValueError(f"need max_wait_s >= 0 and 0 < smoothing <= 1, got {max_wait_s}, {smoothing}")
        self.max_wait_s, self.smoothing = max_wait_s, smoothing
        self.mean_gap_s = math.inf  # no arrivals yet: nothing is coming
        self._last: float | None = None

    def arrival(self, now: float) -> float:
        """Record an update arriving at `now` (seconds, monotonic); returns how long a batch that
        starts with it should wait for more."""
        if self._last is not None:
            gap = now - self._last
            fresh = math.isinf(self.mean_gap_s)
            self.mean_gap_s = gap if fresh else self.mean_gap_s + self.smoothing * (gap - self.mean_gap_s)
        self._last = now
        return self.max_wait_s if self.mean_gap_s < self.max_wait_s else 0.0
