"""Smoke test of `rxt bench latency`: it runs end to end on the tiny preset and writes the JSON and
PNG a reader of docs/benchmarks.md relies on. No timing assertions: timings are the benchmark's
output, not its correctness."""

import json

import pytest

from rxt_cli import bench_latency
from rxt_core.benchmark import _first_cpu_fields

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_bench_latency_writes_json_and_plot(tmp_path):
    out = tmp_path / "latency.json"
    argv = ["--preset", "tiny", "--turns", "3", "--query-len", "8", "--answer-len", "6"]
    argv += ["--repeats", "1", "--endpoint-repeats", "2", "--warmup", "0", "--batch-sizes", "1,2"]
    argv += ["--threads", "1", "-q"]
    argv += ["--write-precision", "bf16"]
    assert bench_latency.main([*argv, "--out", str(out)]) == 0

    result = json.loads(out.read_text())
    assert (tmp_path / "latency.png").read_bytes().startswith(PNG_MAGIC)
    assert set(result) >= {
        "config",
        "model",
        "machine",
        "loadavg",
        "summary",
        "turns",
        "endpoints",
        "batches",
        "dtypes",
        "update_variants",
    }
    assert len(result["loadavg"]["start"]) == 3
    # what tells one "AMD EPYC" host from another when comparing runs across sessions
    assert set(result["machine"]) >= {"cpu", "cpu_family", "cpu_model", "cpu_stepping", "threads"}
    assert result["machine"]["threads"] == 1

    turns = result["turns"]
    assert [t["turn"] for t in turns] == [1, 2, 3]
    for t in turns:
        # Every answer is forced to the full length, so the two models do the same work per turn.
        assert t["rxt_tokens"] == t["stateless_tokens"] == 6
        assert t["rxt_ttft_ms"] <= t["rxt_total_ms"]
        assert t["rxt_update_ms"] > 0
    # The stateless prompt is the whole history: 8 + 6 + 3 tokens more each turn.
    assert [t["stateless_prompt_tokens"] for t in turns] == [10, 27, 44]

    assert [b["batch"] for b in result["batches"]] == [1, 2]
    assert all(b["tokens_per_s"] > 0 and b["updates_per_s"] > 0 for b in result["batches"])
    assert [d["dtype"] for d in result["dtypes"]] == ["float32", "bfloat16"]
    variants = {(u["memory_attention"], u["gate"], u["precision"]) for u in result["update_variants"]}
    for precision in ("fp32", "bf16"):  # every variant is timed in both
        assert ("interlayer", "linear", precision) in variants and (
            "simple",
            "per-slot",
            precision,
        ) in variants
        assert ("simple", "slot-write", precision) in variants
    assert all(u["update_ms"] > 0 and u["gflop"] > 0 for u in result["update_variants"])
    # Turns 1 and N again, alternated: the target's ratio comes from these runs, not the loop's.
    ends = result["endpoints"]
    assert ends["turn"] == 3 and ends["runs"] == 2
    summary = result["summary"]
    assert summary["rxt_turn_ratio"] == pytest.approx(ends["rxt_last_ms"] / ends["rxt_first_ms"])
    assert summary["stateless_turn_ratio"] == pytest.approx(
        ends["stateless_last_ms"] / ends["stateless_first_ms"]
    )
    assert summary["rxt_turn_ratio_in_loop"] == pytest.approx(
        turns[-1]["rxt_total_ms"] / turns[0]["rxt_total_ms"]
    )
    assert {"rxt_turn_ratio", "stateless_turn_ratio", "rxt_per_token_ms", "rxt_update_ms"} <= set(summary)
    assert summary["matmul_floor_ms"] > 0
    assert summary["write_precision"] == "bf16"  # the turn loop's updates ran as asked
    assert set(summary["targets_met"]) >= {"rxt_turn_ratio<=1.05", "per_token_ms<=5", "update_ms<=15"}
    assert result["compiled_update"] is None  # only with --compile-writes


@pytest.mark.slow
def test_bench_latency_times_compiled_writes_beside_eager_ones(tmp_path, capsys):
    out = tmp_path / "latency.json"
    argv = ["--preset", "tiny", "--turns", "1", "--query-len", "8", "--answer-len", "6", "--repeats", "1"]
    argv += ["--warmup", "0", "--batch-sizes", "1", "--threads", "1", "--no-bf16", "-q"]
    argv += ["--write-precision", "fp32", "--compile-writes", "--out", str(out)]
    assert bench_latency.main(argv) == 0
    compiled = json.loads(out.read_text())["compiled_update"]
    assert compiled["precision"] == "fp32"
    assert compiled["eager_ms"] > 0 and compiled["compiled_ms"] > 0 and compiled["compile_s"] > 0
    assert "torch.compile" in capsys.readouterr().out


def test_bench_latency_times_the_memory_design_set_over_the_preset(tmp_path, capsys):
    """`--set` times another memory design at the preset's shapes (the bundled model's keep write,
    say), and the JSON and the summary say which was timed."""
    out = tmp_path / "keep.json"
    argv = ["--preset", "tiny", "--turns", "2", "--query-len", "8", "--answer-len", "6", "--repeats", "1"]
    argv += ["--endpoint-repeats", "1", "--warmup", "0", "--batch-sizes", "1", "--threads", "1", "-q"]
    argv += ["--no-bf16", "--set", "memory_attention=simple", "--set", "memory_write=keep"]
    assert bench_latency.main([*argv, "--out", str(out)]) == 0
    model = json.loads(out.read_text())["model"]
    assert model["memory_write"] == "keep" and model["memory_attention"] == "simple"
    assert model["overrides"] == {"memory_attention": "simple", "memory_write": "keep"}
    assert "memory_write=keep" in capsys.readouterr().out


def test_bench_latency_rejects_answers_beyond_the_positions(tmp_path):
    """tiny has 64 positions: a 40 + 30 token interaction cannot be measured honestly."""
    argv = ["--preset", "tiny", "--turns", "1", "--query-len", "40", "--answer-len", "30", "-q"]
    with pytest.raises(ValueError, match="do not fit"):
        bench_latency.main([*argv, "--out", str(tmp_path / "x.json")])


def test_turns_1_and_n_are_rerun_from_the_inputs_they_had_in_the_loop():
    """The side-by-side endpoint runs must replay turn N exactly: RxT's memory after N-1 updates
    and the stateless model's N-1 turns of history, not a fresh start."""
    import torch

    from rxt_core import SamplingParams
    from rxt_core.benchmark import LatencyBenchConfig, build_models, measure_turns

    bench = LatencyBenchConfig(
        preset="tiny", turns=3, query_len=8, answer_len=6, repeats=1, warmup=0, threads=1
    )
    rxt, stateless = build_models(bench)
    _, first, last = measure_turns(rxt, stateless, bench)
    assert first.history == [] and torch.equal(first.stm, rxt.init_memory(1))
    assert len(last.history) == 2 and last.query != first.query
    stm = first.stm  # replay the loop's two updates from the recorded history and RxT's answers
    for query, _ in last.history:
        answer = rxt.generate([query], stm, SamplingParams(max_new_tokens=bench.answer_len))[0]
        stm = rxt.update_memory(stm, query, answer, bench.write_precision)
    assert torch.allclose(last.stm, stm)


def test_cpuinfo_fields_come_from_the_first_processor_by_exact_name(tmp_path):
    # "model" must not pick up "model name" (a prefix), and a second processor must not override
    # the first: these fields tell apart hosts that share the model string "AMD EPYC".
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\nmodel\t\t: 2\n"
        "model name\t: AMD EPYC\nstepping\t: 1\nflags\t\t: fpu avx2 avx512_bf16\n\n"
        "processor\t: 1\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: other\n"
    )
    fields = _first_cpu_fields(("model name", "cpu family", "model", "stepping", "flags"), str(cpuinfo))
    assert fields == {
        "cpu family": "26",
        "model": "2",
        "model name": "AMD EPYC",
        "stepping": "1",
        "flags": "fpu avx2 avx512_bf16",
    }
    assert _first_cpu_fields(("model",), str(tmp_path / "missing")) == {}
