"""bench-22m batch-1 update: the default (interlayer + linear gates) vs the shipped design (simple + slot
write), alternated round by round, bf16 and fp32, 2 threads. .venv/bin/python docs/results/session19/slot_vs_interlayer_update.py
With `keep` as argument (session 20), the keep write (simple + keep) joins the rotation."""

import statistics
import sys
import time

import torch

from rxt_core import ReactiveTransformer, preset

torch.set_num_threads(2)
torch.manual_seed(0)
models = {
    "interlayer+linear (bench-22m)": ReactiveTransformer(preset("bench-22m")).eval(),
    "simple+slot (shipped design)": ReactiveTransformer(
        preset("bench-22m", memory_attention="simple", memory_write="slot")
    ).eval(),
}
if "keep" in sys.argv[1:]:
    models["simple+keep (session 20)"] = ReactiveTransformer(
        preset("bench-22m", memory_attention="simple", memory_write="keep")
    ).eval()
q = torch.randint(6, 8192, (32,)).tolist()
a = torch.randint(6, 8192, (32,)).tolist()
res = {k: {"bf16": [], "fp32": []} for k in models}
for r in range(6):
    for name in list(models) if r % 2 == 0 else list(reversed(models)):
        m = models[name]
        stm = m.init_memory(1)
        for prec in ("bf16", "fp32"):
            for _ in range(2):
                m.update_memory(stm, q, a, prec)
            ts = []
            for _ in range(10):
                s = time.perf_counter()
                m.update_memory(stm, q, a, prec)
                ts.append((time.perf_counter() - s) * 1e3)
            res[name][prec].append(statistics.median(ts))
for name, d in res.items():
    print(name, {p: (round(statistics.median(v), 1), [round(x, 1) for x in v]) for p, v in d.items()})
