"""save/load round trips and clear errors on bad input."""

import json

import pytest
import torch

from rxt_core import ReactiveTransformer, StatelessLM, preset

from .conftest import random_stm


def test_save_load_round_trip_gives_identical_logits(model, tmp_path):
    tokenizer = tmp_path / "tok.json"
    tokenizer.write_text("{}")
    model.save_pretrained(tmp_path / "m", tokenizer_file=tokenizer)
    assert {p.name for p in (tmp_path / "m").iterdir()} == {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
    }
    loaded = ReactiveTransformer.from_pretrained(tmp_path / "m")
    assert loaded.config == model.config
    stm = random_stm(model, 1)
    ids = torch.tensor([[3, 10, 11, 4, 12]])
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids, stm)[0], model(ids, stm)[0], atol=0, rtol=0)
    assert torch.equal(loaded.update_memory(stm, [10], [11]), model.update_memory(stm, [10], [11]))
    assert torch.equal(loaded.init_memory(1), model.init_memory(1))
    assert loaded.fingerprint() == model.fingerprint()
    assert loaded.lm_head.weight.data_ptr() == loaded.embedding.weight.data_ptr(), (
        "tied weights must stay tied"
    )


def test_stateless_round_trip_and_kind_check(stateless, tmp_path):
    stateless.save_pretrained(tmp_path)
    loaded = StatelessLM.from_pretrained(tmp_path)
    ids = torch.tensor([[3, 10, 11, 4]])
    with torch.no_grad():
        assert torch.equal(loaded(ids)[0], stateless(ids)[0])
    with pytest.raises(ValueError, match="stateless"):
        ReactiveTransformer.from_pretrained(tmp_path)


def test_fingerprint_changes_with_weights(model):
    other = ReactiveTransformer(model.config)
    assert other.fingerprint() != model.fingerprint()


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        ReactiveTransformer.from_pretrained(tmp_path)


def test_config_json_is_readable(model, tmp_path):
    model.save_pretrained(tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert (
        cfg["model_type"] == "rxt" and cfg["attention"]["query_heads"] == model.config.attention.query_heads
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ([], "empty"),
        (list(range(6, 6 + 70)), "positions"),
        ([7, 99999], "outside the vocabulary"),
        ([7, -1], "outside the vocabulary"),
        ("hello", "sequence of token ids"),
        ([1.5, 2.0], "integer"),
        (torch.tensor([1.0, 2.0]), "integer"),
        (torch.zeros(2, 2, 2, dtype=torch.long), "1-D"),
    ],
)
def test_bad_queries_raise_value_error(model, query, message):
    with pytest.raises(ValueError, match=message):
        list(model.interact(query, model.init_memory(1)))


@pytest.mark.parametrize(
    ("make_stm", "message"),
    [
        (lambda m: torch.zeros(1, 2, 3), "shape"),
        (lambda m: torch.zeros(1, m.config.layers, m.config.stm_slots + 1, m.config.dim), "shape"),
        (lambda m: m.init_memory(1).double(), "dtype"),
        (lambda m: m.init_memory(1).to("meta"), "model is on"),
        (lambda m: m.init_memory(2), "batch size"),
        (lambda m: [[0.0]], "torch.Tensor"),
    ],
)
def test_bad_memory_raises_value_error(model, make_stm, message):
    with pytest.raises(ValueError, match=message):
        model.generate([[7, 8]], make_stm(model))
    with pytest.raises(ValueError, match=message):
        model.update_memory(make_stm(model), [7], [8])


def test_mismatched_batches_raise_value_error(model):
    stm = model.init_memory(2)
    with pytest.raises(ValueError, match="2 queries but 1 answers"):
        model.update_memory(stm, [[7], [8]], [[9]])
    with pytest.raises(ValueError, match="batch size"):
        model.generate([[7], [8], [9]], stm)
    with pytest.raises(ValueError, match="sampling settings"):
        from rxt_core import SamplingParams

        model.generate([[7], [8]], stm, [SamplingParams()])


def test_interaction_too_long_for_the_encoder(model):
    n = model.config.max_seq_len
    with pytest.raises(ValueError, match="positions"):
        model.update_memory(model.init_memory(1), list(range(6, 40)), list(range(6, 6 + n)))


def test_stateless_history_too_long(stateless):
    history = [([7] * 20, [8] * 20)] * 3
    with pytest.raises(ValueError, match="positions"):
        list(stateless.interact([9, 9], history))


def test_unknown_preset():
    with pytest.raises(ValueError, match="unknown preset"):
        preset("huge")
