"""`rxt data` end to end: synth, tokenizer, check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rxt_cli.data import main
from rxt_core.data.dialogue import read_jsonl
from rxt_core.data.open_values import OPEN_POOLS
from rxt_core.data.synth import FACTS_BY_NAME, split_pools
from rxt_core.tokenizer import RxTTokenizer
from tests.data.test_spliced import _joined_from


def test_synth_writes_three_reproducible_splits(tmp_path: Path) -> None:
    argv = ["synth", "--train", "60", "--heldout", "20", "--seed", "9", "--max-turns", "8"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    assert main([*argv, "--out", str(tmp_path / "b"), "--valid", "5"]) == 0
    for split, n in (("train", 60), ("valid", 20), ("heldout", 20)):
        dialogues = list(read_jsonl(tmp_path / "a" / f"{split}.jsonl"))
        assert len(dialogues) == n
        assert max(len(d.turns) for d in dialogues) <= 8
    assert (tmp_path / "a" / "train.jsonl").read_bytes() == (tmp_path / "b" / "train.jsonl").read_bytes()
    assert len(list(read_jsonl(tmp_path / "b" / "valid.jsonl"))) == 5
    meta = json.loads((tmp_path / "a" / "synth.json").read_text())
    assert meta["seed"] == 9 and meta["config"]["max_turns"] == 8


@pytest.mark.parametrize(
    ("flag", "field", "slots"),
    [
        ("--novel-values", "novel_value_prob", None),  # every slot
        ("--open-values", "open_value_prob", OPEN_POOLS),  # the closed slots only
        ("--spliced-values", "spliced_value_prob", OPEN_POOLS),
    ],
)
def test_synth_value_flags_reach_train_valid_and_echo_but_never_heldout(
    flag: str, field: str, slots: frozenset[str] | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["synth", "--train", "80", "--heldout", "40", "--seed", "4", "--echo", "50"]
    assert main([*argv, "--out", str(tmp_path / "plain")]) == 0
    assert main([*argv, "--out", str(tmp_path / "novel"), flag, "0.5"]) == 0
    train_pools = split_pools("train")
    known = {v for values in train_pools.pools.values() for v in values}
    for split in ("train", "valid", "echo"):
        plain = (tmp_path / "plain" / f"{split}.jsonl").read_bytes()
        assert (tmp_path / "novel" / f"{split}.jsonl").read_bytes() != plain, split
    stated = [
        f.value
        for d in read_jsonl(tmp_path / "novel" / "train.jsonl")
        for t in d.turns
        for f in t.stated
        if slots is None or FACTS_BY_NAME[f.fact].pool in slots
    ]
    assert sum(v not in known for v in stated) > 0.3 * len(stated)  # P = 0.5: 0.45-0.49 measured
    # The held-out split is the benchmark: byte for byte the same with or without the flag.
    heldout = (tmp_path / "novel" / "heldout.jsonl").read_bytes()
    assert heldout == (tmp_path / "plain" / "heldout.jsonl").read_bytes()
    meta = json.loads((tmp_path / "novel" / "synth.json").read_text())
    assert meta["config"][field] == 0.5
    assert main([*argv, "--out", str(tmp_path / "bad"), flag, "1.5"]) == 1
    assert f"{field} must be in [0, 1], got 1.5" in capsys.readouterr().err


def test_synth_spliced_phrases_reach_the_dialogues_plans(tmp_path: Path) -> None:
    argv = ["synth", "--train", "120", "--heldout", "0", "--seed", "4", "--spliced-values", "1"]
    assert main([*argv, "--out", str(tmp_path / "words")]) == 0
    assert main([*argv, "--out", str(tmp_path / "phrases"), "--spliced-phrases", "1"]) == 0
    phrases = [p.split() for p in split_pools("train")["plan"]]

    def joined_share(folder: str) -> float:
        dialogues = read_jsonl(tmp_path / folder / "train.jsonl")
        plans = [
            f.value
            for d in dialogues
            for t in d.turns
            for f in t.stated
            if FACTS_BY_NAME[f.fact].pool == "plan"
        ]
        return sum(_joined_from(v, phrases) for v in plans) / len(plans)

    assert joined_share("phrases") > 0.9 and joined_share("words") < 0.1
    assert (
        json.loads((tmp_path / "phrases" / "synth.json").read_text())["config"]["spliced_phrase_prob"] == 1.0
    )


def test_tokenizer_and_check_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["synth", "--out", str(tmp_path), "--train", "200", "--heldout", "10", "--seed", "1"]) == 0
    (tmp_path / "extra.txt").write_text("plain text for stage one\n", encoding="utf-8")
    out = tmp_path / "model"
    data = [str(tmp_path / "train.jsonl"), str(tmp_path / "extra.txt")]
    assert main(["tokenizer", "--data", *data, "--vocab-size", "600", "--out", str(out)]) == 0
    tokenizer = RxTTokenizer.load(out)
    assert tokenizer.vocab_size <= 600 and tokenizer.query_id == 3

    capsys.readouterr()
    tok_args = ["--tokenizer", str(out), "--max-tokens", "256"]
    assert main(["check", str(tmp_path / "heldout.jsonl"), *tok_args]) == 0
    assert "dialogues: 10" in capsys.readouterr().out

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"turns": [{"query": "q", "answer": "a"}]}\n{"turns": []}\n', encoding="utf-8")
    assert main(["check", str(bad)]) == 1
    assert f"{bad}:2: empty dialogue" in capsys.readouterr().err
