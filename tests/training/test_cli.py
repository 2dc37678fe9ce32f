"""`rxt train` and `rxt eval` end to end on a tiny synthetic corpus, and bad input through the CLI."""

from __future__ import annotations

import json

import pytest
import torch

from rxt_cli import eval as eval_cli
from rxt_cli import train as train_cli
from rxt_core import ReactiveTransformer, StatelessLM, preset
from rxt_core.data.dialogue import write_jsonl
from rxt_core.data.synth import SynthConfig, generate
from rxt_core.tokenizer import RxTTokenizer

TINY = [
    "--preset",
    "tiny",
    "--set",
    "max_seq_len=96",
    "--batch-size",
    "4",
    "--warmup-steps",
    "1",
    "--no-progress",
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    short = SynthConfig(min_turns=3, max_turns=5)
    write_jsonl(root / "train.jsonl", generate("train", 24, 0, short))
    write_jsonl(root / "heldout.jsonl", generate("heldout", 6, 0, short))
    texts = [
        t for d in generate("train", 24, 0, short) for turn in d.turns for t in (turn.query, turn.answer)
    ]
    RxTTokenizer.train(texts, vocab_size=400).save(root / "tokenizer.json")
    return root


@pytest.mark.slow
def test_train_all_stages_then_baseline_then_eval(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    common = [
        "--data",
        str(corpus / "train.jsonl"),
        "--tokenizer",
        str(corpus / "tokenizer.json"),
        "--out",
        str(out),
    ]
    assert train_cli.main(["--stage", "all", *common, *TINY, "--stage-steps", "1=2,2=2,3=2,4=3"]) == 0
    for stage in (
        "stage1-joint-lm",
        "stage2-interaction-sft",
        "stage3-memory-pretrain",
        "stage4-memory-aware",
    ):
        history = json.loads((out / stage / "history.json").read_text())
        assert history["steps"] == len(history["history"]) > 0
    model = ReactiveTransformer.from_pretrained(out / "model")  # the final folder loads
    assert (out / "model" / "tokenizer.json").is_file()
    assert (
        train_cli.main(
            ["--stage", "baseline", *common, *TINY, "--steps", "2", "--baseline-max-seq-len", "512"]
        )
        == 0
    )
    baseline = StatelessLM.from_pretrained(out / "baseline" / "model")
    rxt_params = sum(p.numel() for p in model.parameters())
    assert sum(p.numel() for p in baseline.parameters()) >= 1.5 * rxt_params

    results = tmp_path / "results.json"
    args = ["--model", str(out / "model"), "--baseline", str(out / "baseline" / "model")]
    args += ["--data", str(corpus / "heldout.jsonl"), "--out", str(results), "--max-new-tokens", "4"]
    assert eval_cli.main([*args, "--replay-probe"]) == 0
    table = capsys.readouterr().out
    assert "RxT" in table and "Stateless baseline" in table and "answer perplexity" in table
    assert "recalled-value accuracy, own memory" in table
    assert "... its first tokens" in table and "... its later tokens" in table
    assert "... its first tokens, own memory" in table and "... its later tokens, own memory" in table
    scored = json.loads(results.read_text())
    probe = scored["models"][0]["memory_probe"]
    assert probe["value_tokens"] > 0 and 0 <= probe["own_value_accuracy"] <= 1
    firsts, laters = probe["copied_value_first_tokens"], probe["copied_value_later_tokens"]
    assert firsts > 0 and laters > 0 and firsts + laters == probe["copied_value_tokens"]
    assert "memory_probe" not in scored["models"][1]  # the baseline has no memory to probe
    replay = scored["models"][0]["replay_probe"]
    assert replay["lag0_own_first"]["tokens"] > 0 and replay["lag0_other_first"]["tokens"] > 0
    assert "replay_probe" not in scored["models"][1]
    assert "stated value replayed from memory" in table and "recalled from a question" in table
    expected = {}
    heldout = list(generate("heldout", 6, 0, SynthConfig(min_turns=3, max_turns=5)))
    retention = scored["models"][0]["write_retention"]  # every distance up to the longest dialogue's
    assert sorted(map(int, retention["share_left"])) == list(range(1, max(len(d.turns) for d in heldout)))
    assert all(0 < v <= 1 for v in retention["share_left"].values()) and 0 < retention["mean_write"] < 1
    assert "write_retention" not in scored["models"][1]
    assert "share of a write left after 1 / 2 / 4 / 8 turns" in table and "memory rewritten per turn" in table
    for d in heldout:
        for t in d.turns:
            if t.recall:
                expected[str(t.recall.distance)] = expected.get(str(t.recall.distance), 0) + 1
    for m in scored["models"]:
        assert {d: v["total"] for d, v in m["recall_by_distance"].items()} == expected
        assert m["perplexity"] > 1 and 0 <= m["mrl_reward"]["min"] <= m["mrl_reward"]["max"] <= 10
    # every recalled value (the reference answers all spell it) has exactly one first token
    assert probe["own_value_first_tokens"] == sum(expected.values())
    assert 0 <= probe["own_value_later_tokens"] < probe["value_tokens"]

    # --resume on finished stages skips them and leaves the models in place
    assert (
        train_cli.main(["--stage", "all", *common, *TINY, "--stage-steps", "1=2,2=2,3=2,4=3", "--resume"])
        == 0
    )
    assert "already trained" in capsys.readouterr().out


def test_bad_data_is_a_clear_cli_error(corpus, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"turns": [{"query": "hi", "answer": "hello"}]}\n{"turns": [{"answer": "x"}]}\n')
    args = [
        "--stage",
        "4",
        "--data",
        str(bad),
        "--tokenizer",
        str(corpus / "tokenizer.json"),
        "--out",
        str(tmp_path),
    ]
    assert train_cli.main([*args, *TINY, "--init", str(tmp_path / "none")]) == 2
    assert "not a model folder" in capsys.readouterr().err
    assert train_cli.main([*args, *TINY, "--reinit", "memory_attention."]) == 2
    assert "--reinit restarts modules of the --init model" in capsys.readouterr().err
    assert train_cli.main(["--stage", "1", *args[2:], *TINY]) == 2
    assert f"{bad}:2: turn 1: missing field 'query'" in capsys.readouterr().err


def test_eval_set_changes_a_setting_that_keeps_the_weights(corpus, tmp_path, capsys):
    """`rxt eval --set keep_threshold=100`: the keep write keeps nothing, so every dialogue reads
    the same initial memory and the probe's own-memory and other-memory accuracies are equal (at
    the saved threshold they differ); the JSON records the override. A setting that would change
    the weights is a clear error."""
    vocab = RxTTokenizer.load(corpus / "tokenizer.json").vocab_size
    config = preset("tiny", vocab_size=vocab, max_seq_len=96, memory_write="keep", memory_attention="simple")
    torch.manual_seed(0)
    model = ReactiveTransformer(config)
    torch.nn.init.constant_(model.memory_attention.salience.score.bias, 1.0)  # keep most tokens
    model.save_pretrained(tmp_path / "m", tokenizer_file=corpus / "tokenizer.json")
    base = ["--model", str(tmp_path / "m"), "--data", str(corpus / "heldout.jsonl"), "--max-new-tokens", "4"]
    probes = {}
    for name, flags in {"saved": [], "nothing kept": ["--set", "keep_threshold=100"]}.items():
        assert eval_cli.main([*base, *flags, "--out", str(tmp_path / "r.json")]) == 0
        result = json.loads((tmp_path / "r.json").read_text())["models"][0]
        assert result["overrides"] == ({"keep_threshold": 100} if flags else {})
        probes[name] = result["memory_probe"]
    assert probes["saved"]["own_value_accuracy"] != probes["saved"]["other_value_accuracy"]
    assert probes["nothing kept"]["own_value_accuracy"] == probes["nothing kept"]["other_value_accuracy"]
    capsys.readouterr()
    assert eval_cli.main([*base, "--set", "stm_slots=8"]) == 2
    assert "would change" in capsys.readouterr().err


def test_init_with_a_new_memory_write(corpus, tmp_path):
    """`--init DIR --set memory_write='"slot"'` trains a slot write on DIR's decoder and encoder;
    `--reinit memory_attention.` starts DIR's own write over. (lr 1e-9: the one step moves no
    weight by more than ~1e-9, so a real difference is the re-initialisation.)"""
    vocab = RxTTokenizer.load(corpus / "tokenizer.json").vocab_size
    trained = ReactiveTransformer(preset("tiny", vocab_size=vocab, max_seq_len=96))
    trained.save_pretrained(tmp_path / "trained")
    runs = {"slot": ["--set", 'memory_write="slot"'], "reinit": ["--reinit", "memory_attention."]}
    for name, flags in runs.items():
        args = [
            "--stage",
            "4",
            "--data",
            str(corpus / "train.jsonl"),
            "--tokenizer",
            str(corpus / "tokenizer.json"),
        ]
        args += ["--out", str(tmp_path / name), "--init", str(tmp_path / "trained"), "--steps", "1"]
        args += ["--batch-size", "4", "--lr", "1e-9", "--warmup-steps", "1", "--no-progress", *flags]
        assert train_cli.main(args) == 0
        model = ReactiveTransformer.from_pretrained(tmp_path / name / "stage4-memory-aware" / "model")
        assert model.config.memory_write == ("slot" if name == "slot" else "gated")
        for module in ("encoder", "decoder"):
            for key, tensor in getattr(trained, module).state_dict().items():
                torch.testing.assert_close(
                    getattr(model, module).state_dict()[key], tensor, atol=1e-6, rtol=0
                )
        if name == "reinit":
            before = trained.memory_attention.layers[0].attention.out.weight
            assert (model.memory_attention.layers[0].attention.out.weight - before).abs().max() > 1e-3


def test_precision_and_set_reach_the_training_job(tmp_path, capsys):
    argv = ["--stage", "4", "--data", "d.jsonl", "--tokenizer", "t.json", "--out", str(tmp_path)]
    argv += ["--precision", "bf16", "--set", "memory_write=slot", "--set", "dim=128"]
    (job,) = train_cli.build_jobs(train_cli.parser().parse_args(argv))
    assert job.loop.precision == "bf16"
    assert job.config_overrides == {"memory_write": "slot", "dim": 128}
    default = train_cli.build_jobs(train_cli.parser().parse_args(argv[:8]))[0]
    assert default.loop.precision == "fp32"  # CPU training stays fp32 unless asked
    with pytest.raises(SystemExit):
        train_cli.parser().parse_args([*argv[:8], "--precision", "fp16"])
    assert "invalid choice" in capsys.readouterr().err


def test_copy_and_recall_weights_reach_their_stages(tmp_path):
    argv = ["--stage", "all", "--data", "d.jsonl", "--tokenizer", "t.json", "--out", str(tmp_path)]
    jobs = train_cli.build_jobs(
        train_cli.parser().parse_args([*argv, "--copy-weight", "4", "--recall-weight", "3"])
    )
    assert {(j.joint.copy_weight, j.memory_aware.recall_weight) for j in jobs} == {(4.0, 3.0)}
    default = train_cli.build_jobs(train_cli.parser().parse_args(argv))[0]
    assert (default.joint.copy_weight, default.memory_aware.recall_weight) == (1.0, 1.0)  # plain means
    with pytest.raises(ValueError, match="recall_weight"):
        train_cli.build_jobs(train_cli.parser().parse_args([*argv, "--recall-weight", "0.5"]))


def test_gate_target_and_train_only_reach_stage_four(tmp_path):
    """What session 26's gate retraining passed: the later --train-only wins, and both default off."""
    argv = ["--stage", "4", "--data", "d.jsonl", "--tokenizer", "t.json", "--out", str(tmp_path)]
    extra = [
        "--gate-target",
        "better",
        "--train-only",
        "pointer.gate.",
        "--train-only",
        "pointer.gate.",
        "pointer.slots.follow",
    ]
    (job,) = train_cli.build_jobs(train_cli.parser().parse_args([*argv, *extra]))
    assert job.memory_aware.gate_target == "better"
    assert job.memory_aware.train_only == ("pointer.gate.", "pointer.slots.follow")
    (default,) = train_cli.build_jobs(train_cli.parser().parse_args(argv))
    assert (default.memory_aware.gate_target, default.memory_aware.train_only) == ("values", ())


def test_ack_noise_reaches_stage_four_and_refuses_a_rate_above_one(tmp_path):
    argv = ["--stage", "4", "--data", "d.jsonl", "--tokenizer", "t.json", "--out", str(tmp_path)]
    (job,) = train_cli.build_jobs(train_cli.parser().parse_args([*argv, "--ack-noise", "0.2"]))
    assert job.memory_aware.ack_noise == 0.2
    (default,) = train_cli.build_jobs(train_cli.parser().parse_args(argv))
    assert default.memory_aware.ack_noise == 0.0
    with pytest.raises(ValueError, match="ack_noise"):
        train_cli.build_jobs(train_cli.parser().parse_args([*argv, "--ack-noise", "1.5"]))


def test_training_fills_the_word_tables_from_its_tokenizer(corpus, tmp_path):
    """`--set keep_whole_words=true pointer_space_twins=true`: the model that trains has the
    tokenizer's word tables (empty, both rules would silently do nothing)."""
    from rxt_core.training.pipeline import build_model
    from rxt_core.word_pieces import WordPieces

    options = ['memory_write="keep"', 'memory_attention="simple"', "memory_pointer=true"]
    options += ["keep_whole_words=true", "pointer_space_twins=true"]
    argv = ["--stage", "1", "--data", str(corpus / "train.jsonl"), "--out", str(tmp_path)]
    argv += [
        "--tokenizer",
        str(corpus / "tokenizer.json"),
        *TINY,
        *[a for o in options for a in ("--set", o)],
    ]
    (job,) = train_cli.build_jobs(train_cli.parser().parse_args(argv))
    tokenizer = RxTTokenizer.load(corpus / "tokenizer.json")
    model = build_model(job, tokenizer)
    expected = WordPieces(tokenizer.vocab_size, tokenizer.query_id)
    expected.fill(tokenizer.pieces(), tokenizer.mask_id + 1)
    assert model.word_pieces.filled
    assert torch.equal(model.word_pieces.twins, expected.twins)
    assert torch.equal(model.word_pieces.opens, expected.opens)
