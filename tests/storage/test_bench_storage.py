"""`rxt bench storage` at a toy scale: it runs end to end and reports what the docs quote."""

from __future__ import annotations

import json

from rxt_cli.bench_storage import main

from .conftest import PG_URL


def test_bench_writes_a_table_and_json_for_each_backend(tmp_path, capsys):
    out = tmp_path / "bench.json"
    backends = "sqlite,postgres" if PG_URL else "sqlite"
    argv = ["--sessions", "3", "--versions", "2", "--shape", "2,8,16", "--backends", backends]
    argv += ["--half-sessions", "2", "--half-versions", "1", "--sqlite-dir", str(tmp_path), "--out", str(out)]
    assert main(argv) == 0

    report = json.loads(out.read_text())
    runs = {(r["backend"], r["storage_dtype"]): r for r in report["runs"]}
    expected = {("sqlite", "float32"), ("sqlite", "float16"), ("sqlite", "bfloat16")}
    assert expected | ({("postgres", "float32")} if PG_URL else set()) == set(runs)
    sqlite = runs[("sqlite", "float32")]
    assert (sqlite["sessions"], sqlite["versions"]) == (3, 2)
    assert sqlite["commit"]["n"] == sqlite["load"]["n"] == 6
    assert 0 < sqlite["commit"]["p50_ms"] <= sqlite["commit"]["p99_ms"]
    assert sqlite["bytes_per_version"] > 2 * 8 * 16 * 4  # the fp32 payload plus a header
    assert runs[("sqlite", "float16")]["bytes_per_version"] < sqlite["bytes_per_version"]

    precision = {p["storage_dtype"]: p for p in report["precision"]}
    assert precision["float32"]["max_abs_error"] == 0
    assert 0 < precision["float16"]["relative_l2_error"] < precision["bfloat16"]["relative_l2_error"] < 0.01

    table = capsys.readouterr().out
    assert "| sqlite | float32 | 3 x 2 | 1 |" in table
    assert list(tmp_path.glob("rxt-bench-*")) == []  # the SQLite databases were removed
