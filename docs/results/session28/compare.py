"""Two models question by question (held.py's PERQ files, one pair a held-out set): recall of each,
how many questions the second fixed and broke, per band of distance and pooled, and a two-sided
sign test on fixed vs broken (did the change help beyond chance?). Session 28.

    python docs/results/session28/compare.py A_set0.json,B_set0.json A_set1.json,B_set1.json ...
"""

import json
import math
import sys
from pathlib import Path

pooled: dict[str, list[int]] = {}
for pair in sys.argv[1:]:
    first, second = (json.loads(Path(path).read_text()) for path in pair.split(","))
    after = {(q[0], q[1]): q[3] for q in second}
    for band in ("1-8", "9-16"):
        rows = [q for q in first if (q[2] <= 8) == (band == "1-8")]
        hits = sum(q[3] for q in rows)
        fixed = sum(1 for q in rows if not q[3] and after[q[0], q[1]])
        broken = sum(1 for q in rows if q[3] and not after[q[0], q[1]])
        print(
            f"{pair} {band}: {len(rows)} questions, {hits / len(rows):.3f} -> "
            f"{(hits + fixed - broken) / len(rows):.3f} (fixed {fixed}, broken {broken})"
        )
        total = pooled.setdefault(band, [0, 0, 0, 0])
        for i, n in enumerate((len(rows), hits, fixed, broken)):
            total[i] += n
for band, (n, hits, fixed, broken) in pooled.items():
    changed = fixed + broken
    tail = sum(math.comb(changed, k) for k in range(min(fixed, broken) + 1)) / 2**changed if changed else 0.5
    print(
        f"pooled {band}: {n} questions, {hits / n:.3f} -> {(hits + fixed - broken) / n:.3f}, "
        f"fixed {fixed}, broken {broken}, sign test p = {min(1.0, 2 * tail):.3f}"
    )
