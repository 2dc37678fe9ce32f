"""The `rxt` console script: dispatch, help, and the in-process demo driven through stdin."""

import subprocess
import sys

import pytest

from rxt_cli.main import COMMANDS
from rxt_core import ReactiveTransformer, preset
from rxt_core.tokenizer import RxTTokenizer


def rxt(*args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "rxt_cli.main", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_help_lists_every_command():
    out = rxt("--help")
    assert out.returncode == 0
    for name in COMMANDS:
        assert name in out.stdout


def test_unknown_command_fails_with_usage():
    out = rxt("frobnicate")
    assert out.returncode == 2 and "unknown command" in out.stderr


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-model")
    texts = ["my name is Ada and I live in Paris", "what is my name?", "hello there, how are you?"] * 50
    tokenizer = RxTTokenizer.train(texts, vocab_size=300)
    tokenizer.save(folder / "tokenizer.json")
    config = preset("tiny", vocab_size=tokenizer.vocab_size)
    ReactiveTransformer(config).save_pretrained(folder)
    return folder


def test_demo_streams_answers_and_keeps_going_after_bad_input(tiny_model_dir):
    long_query = "word " * 200  # longer than the tiny model's 64 positions
    session = f"hello there\n{long_query}\n/reset\nwhat is my name?\n/quit\n"
    out = rxt("demo", "--model", str(tiny_model_dir), "--max-new-tokens", "5", "--timings", stdin=session)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("rxt> ") == 3  # two answers + the refused long query's prompt
    assert "positions" in out.stdout  # the long query got a clear error, the demo went on
    assert "memory cleared" in out.stdout
    assert "memory update" in out.stdout


def test_demo_without_tokenizer_is_a_clear_error(tmp_path):
    ReactiveTransformer(preset("tiny")).save_pretrained(tmp_path)
    out = rxt("demo", "--model", str(tmp_path))
    assert out.returncode == 2 and "tokenizer.json" in out.stderr


def test_set_overrides_parse_json_or_plain_strings_and_refuse_a_missing_value():
    from rxt_cli import bench_serve
    from rxt_cli.overrides import parse_overrides

    assert parse_overrides(["update_batch_wait_s=0.02", 'write_precision="fp32"', "memory_write=slot"]) == {
        "update_batch_wait_s": 0.02,
        "write_precision": "fp32",
        "memory_write": "slot",
    }
    assert parse_overrides(['attention={"heads": 4}', "compile_writes=true"]) == {
        "attention": {"heads": 4},
        "compile_writes": True,
    }
    with pytest.raises(ValueError, match="FIELD=JSON"):
        parse_overrides(["compile_writes"])
    assert bench_serve.main(["--start", "--model", "models/rxt-nano", "--set", "compile_writes"]) == 2
