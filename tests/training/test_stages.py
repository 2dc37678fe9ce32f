"""Every stage learns a tiny task, resumes exactly, and cuts gradients where it says it does."""

from __future__ import annotations

import json
import math

import pytest
import torch

from rxt_core import ReactiveTransformer, StatelessLM
from rxt_core.training.baseline import BaselineStage, baseline_config
from rxt_core.training.batching import TokenTurn, interaction_batch, lm_batch, turn_batch
from rxt_core.training.config import JointConfig, LoopConfig, MemoryAwareConfig, MemoryPretrainConfig
from rxt_core.training.copy_targets import copied_targets, recalled_targets
from rxt_core.training.joint import JointStage, interaction_rows, text_rows
from rxt_core.training.loop import Runtime, train
from rxt_core.training.losses import weighted_next_token_nll
from rxt_core.training.memory_aware import MemoryAwareStage
from rxt_core.training.memory_pretrain import MemoryPretrainStage
from rxt_core.training.pipeline import load_token_dialogues
from tests.training.conftest import WordTokenizer


def loop(steps: int, **kw) -> LoopConfig:
    return LoopConfig(steps=steps, batch_size=4, lr=5e-3, warmup_steps=2, log_every=100, **kw)


def run(stage, cfg: LoopConfig, tmp_path, resume: bool = False):
    runtime = Runtime(tmp_path / "ckpt", resume_from=tmp_path / "ckpt" if resume else None, progress=False)
    return train(stage, cfg, runtime)


def falls(history, k: int = 3) -> bool:
    losses = [h["loss"] for h in history]
    return sum(losses[-k:]) / k < sum(losses[:k]) / k


def test_stage1_joint_lm_loss_falls(config, tokenizer, dialogues, tmp_path):
    texts = [t.query for d in dialogues for t in d.turns] + [t.answer for d in dialogues for t in d.turns]
    rows = text_rows(texts, tokenizer, config)
    assert all(r[0] == config.bos_id and r[-1] == config.eos_id for r in rows)
    state = run(
        JointStage("1", ReactiveTransformer(config), rows, loop(12), JointConfig()), loop(12), tmp_path
    )
    assert state.step == 12
    assert falls(state.history)
    assert {"ar_loss", "mlm_loss"} <= state.history[-1].keys()


def test_stage2_interaction_sft_loss_falls(config, token_dialogues, tmp_path):
    rows = interaction_rows(token_dialogues, config)
    assert rows[0][0] == config.query_id and rows[0][-1] == config.eos_id
    state = run(
        JointStage("2", ReactiveTransformer(config), rows, loop(12), JointConfig()), loop(12), tmp_path
    )
    assert falls(state.history)


@pytest.mark.parametrize("swap_prob", [0.0, 0.5, 1.0])
def test_swap_prob_gives_rows_another_rows_memory(config, token_dialogues, swap_prob):
    rows = interaction_rows(token_dialogues, config)
    stage = JointStage("2", ReactiveTransformer(config), rows, loop(1), JointConfig(swap_prob=swap_prob))
    memory = torch.arange(64.0).reshape(64, 1, 1, 1).expand(64, 2, 3, 4)  # row i holds the value i
    mask = torch.rand(64, 3) < 0.5
    swapped, swapped_mask = stage._swap_rows(memory, mask, torch.Generator().manual_seed(0))
    source = swapped[:, 0, 0, 0].long()  # which row's memory each row now reads
    own, previous = torch.arange(64), torch.arange(64).roll(1)
    assert bool(((source == own) | (source == previous)).all())
    assert torch.equal(swapped_mask, mask[source])  # the padding mask travels with the memory
    share = float((source == previous).float().mean())
    assert {0.0: share == 0.0, 0.5: 0.25 < share < 0.75, 1.0: share == 1.0}[swap_prob]


def test_copied_targets_are_the_answer_tokens_that_occur_in_the_query(config):
    tok = WordTokenizer("my dog is Rex . a good text row".split())
    interaction = tok.encode_interaction("my dog is Rex .", "Rex is a good dog .")
    text = [config.bos_id, *tok.encode("my dog is Rex . Rex is a good dog ."), config.eos_id]
    batch = lm_batch([interaction, text], config.pad_id)
    copied = copied_targets(batch.ids, batch.mask, config)
    answer_start = interaction.index(config.answer_id) + 1
    predicted = [tok.inverse.get(int(i), "?") for i in batch.ids[0, 1:][copied[0]]]
    assert predicted == ["Rex", "is", "dog", "."]  # not "a", "good", [EOS] or the query itself
    assert bool(copied[0, : answer_start - 1].logical_not().all())
    assert not bool(copied[1].any())  # stage-1 text rows have no [A], so no copies


def test_weighted_nll_weighs_each_target(config):
    tok = WordTokenizer("my dog is Rex . a good".split())
    batch = lm_batch([tok.encode_interaction("my dog is Rex .", "Rex is a good dog .")], config.pad_id)
    copied = copied_targets(batch.ids, batch.mask, config)
    logits = torch.zeros(1, batch.ids.shape[1], config.vocab_size)
    target = batch.ids[0, 1:]
    others = batch.targets[0] & ~copied[0]
    logits[0, :-1][others, target[others]] = 1e4  # the others predicted exactly: NLL 0
    n_copy, n_other = int(copied.sum()), int(others.sum())
    plain, weighted, right = weighted_next_token_nll(logits, batch, 1 + 2 * copied.float())
    uniform = math.log(config.vocab_size)
    assert plain.item() == pytest.approx(n_copy * uniform, rel=1e-5)
    assert weighted.item() == pytest.approx(3 * n_copy * uniform, rel=1e-5)  # the copies weigh 3
    assert int(right) == n_other  # a copy's logits tie: argmax picks id 0, never a target


def test_copy_weight_fits_the_copied_tokens_sooner(config, token_dialogues, tmp_path):
    rows = interaction_rows(token_dialogues, config)
    batch = lm_batch(rows[:32], config.pad_id)
    copied = copied_targets(batch.ids, batch.mask, config)
    nll = {}
    for weight in (1.0, 4.0):
        torch.manual_seed(0)
        model = ReactiveTransformer(config)
        state = run(
            JointStage("2", model, rows, loop(12), JointConfig(copy_weight=weight)),
            loop(12),
            tmp_path / str(weight),
        )
        assert falls(state.history)
        with torch.no_grad():
            memory = torch.stack(model.encode(batch.ids, batch.mask), dim=1)
            logits, _ = model(batch.ids, memory, batch.mask)
        per_token = torch.nn.functional.cross_entropy(
            logits[:, :-1].transpose(1, 2), batch.ids[:, 1:], reduction="none"
        )
        nll[weight] = (per_token[copied].mean().item(), per_token[batch.targets & ~copied].mean().item())
    assert nll[4.0][0] < nll[1.0][0]  # the copies are fitted better...
    assert nll[4.0][1] > nll[1.0][1]  # ...at the other tokens' expense (same seed, same steps)
    with pytest.raises(ValueError):
        JointConfig(copy_weight=0.5)


def _turns(tok: WordTokenizer, pairs: list[tuple[str, str]]) -> list[TokenTurn]:
    return [TokenTurn(tok.encode(q), tok.encode(a)) for q, a in pairs]


def test_recalled_targets_are_answer_tokens_of_earlier_turns_not_in_the_query(config, tokenizer):
    ann = _turns(
        tokenizer,
        [("I am Ann .", "Hi Ann ."), ("How are you ?", "I am fine ."), ("Who am I ?", "I am Ann .")],
    )
    bob = _turns(
        tokenizer,
        [("I am Bob .", "Hi Bob ."), ("How are you ?", "I am fine ."), ("Who am I ?", "You are Ann .")],
    )
    batches = [interaction_batch([a, b], config) for a, b in zip(ann, bob, strict=True)]
    recalled = recalled_targets(batches, config)

    def words(t: int, row: int) -> list[str]:
        return [tokenizer.inverse[int(i)] for i in batches[t].ids[row, 1:][recalled[t][row]]]

    assert words(0, 0) == []  # nothing was said before the first turn
    assert words(1, 0) == ["I", "am", "."]  # said in turn 1; "fine" is new
    assert words(2, 0) == ["Ann", "."]  # "I am" are in this turn's query: no memory needed
    assert words(2, 1) == ["are", "."]  # "You" never said, Ann only in the other row; never [EOS]
    assert all(not bool((r & ~b.targets).any()) for r, b in zip(recalled, batches, strict=True))


def _nll_by_kind(model, dialogues, config) -> tuple[float, float]:
    """Teacher-forced mean NLL of the recalled answer targets and of the other ones."""
    turns = max(len(d) for d in dialogues)
    batches = [turn_batch(dialogues, t, config) for t in range(turns)]
    recalled = recalled_targets(batches, config)
    sums, counts = [0.0, 0.0], [0, 0]
    with torch.no_grad():
        stm = model.init_memory(len(dialogues))
        for batch, r in zip(batches, recalled, strict=True):
            logits, _ = model(batch.ids, stm)
            nll = torch.nn.functional.cross_entropy(
                logits[:, :-1].transpose(1, 2), batch.ids[:, 1:], reduction="none"
            )
            for kind, select in enumerate((r, batch.targets & ~r)):
                sums[kind] += float(nll[select].sum())
                counts[kind] += int(select.sum())
            stm = batch.written(model.write_memory(stm, batch.ids, batch.mask), stm)
    return sums[0] / counts[0], sums[1] / counts[1]


def test_recall_weight_fits_the_recalled_tokens_sooner(config, token_dialogues, tmp_path):
    nll = {}
    for weight in (1.0, 4.0):
        torch.manual_seed(0)
        model = ReactiveTransformer(config)
        cfg = loop(12)
        state = run(
            MemoryAwareStage(model, token_dialogues, cfg, MemoryAwareConfig(recall_weight=weight)),
            cfg,
            tmp_path / str(weight),
        )
        assert falls(state.history)
        nll[weight] = _nll_by_kind(model, token_dialogues[:16], config)
    assert nll[4.0][0] < nll[1.0][0]  # the recalled tokens are fitted better...
    assert nll[4.0][1] > nll[1.0][1]  # ...at the other tokens' expense (same seed, same steps)
    with pytest.raises(ValueError):
        MemoryAwareConfig(recall_weight=0.5)


def test_stage3_memory_pretrain_loss_falls_and_trains_only_memory_attention(
    config, token_dialogues, tmp_path
):
    model = ReactiveTransformer(config)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    state = run(
        MemoryPretrainStage(model, token_dialogues, loop(12), MemoryPretrainConfig()), loop(12), tmp_path
    )
    assert falls(state.history)
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all(n.startswith("memory_attention.") for n in changed)


def test_stage4_memory_aware_loss_falls(config, token_dialogues, tmp_path):
    cfg = loop(12)
    state = run(
        MemoryAwareStage(ReactiveTransformer(config), token_dialogues, cfg, MemoryAwareConfig()),
        cfg,
        tmp_path,
    )
    assert falls(state.history)
    assert 0 <= state.history[-1]["answer_accuracy"] <= 1


def test_stage4_trains_under_bf16_autocast_with_fp32_weights(config, token_dialogues, tmp_path):
    """--precision bf16: the passes run in bf16 (the loss differs from fp32's), the model still
    learns, and what is saved stays fp32 (master weights and optimizer state)."""
    losses = {}
    for precision in ("fp32", "bf16"):
        cfg = loop(12, precision=precision)
        torch.manual_seed(0)
        model = ReactiveTransformer(config)
        state = run(
            MemoryAwareStage(model, token_dialogues, cfg, MemoryAwareConfig()), cfg, tmp_path / precision
        )
        assert falls(state.history)
        assert all(p.dtype == torch.float32 for p in model.parameters())
        losses[precision] = state.history[0]["loss"]
    assert losses["bf16"] != losses["fp32"]
    assert losses["bf16"] == pytest.approx(losses["fp32"], rel=0.05)


def test_baseline_loss_falls_on_whole_dialogues(config, token_dialogues, tmp_path):
    base = StatelessLM(baseline_config(config, None, 128))
    rxt_params = sum(p.numel() for p in ReactiveTransformer(config).parameters())
    assert sum(p.numel() for p in base.parameters()) >= 1.5 * rxt_params
    state = run(BaselineStage(base, token_dialogues, loop(12)), loop(12), tmp_path)
    assert falls(state.history)


class Interrupted(Exception):
    pass


def test_resume_continues_exactly_where_it_stopped(config, token_dialogues, tmp_path):
    def stage():
        torch.manual_seed(1)
        return MemoryAwareStage(ReactiveTransformer(config), token_dialogues, loop(4), MemoryAwareConfig())

    cfg = loop(4, checkpoint_every=2)
    straight = run(stage(), cfg, tmp_path / "a")

    crashing = stage()
    real_step = crashing.step

    def step(index, *args):
        if index == 3:  # killed during step 4, after the checkpoint at step 2
            raise Interrupted
        return real_step(index, *args)

    crashing.step = step
    with pytest.raises(Interrupted):
        run(crashing, cfg, tmp_path / "b")
    resumed = run(stage(), cfg, tmp_path / "b", resume=True)  # a fresh model, loaded from step 2
    assert resumed.step == 4 and [h["step"] for h in resumed.history] == [1, 2, 3, 4]
    assert [h["loss"] for h in resumed.history] == pytest.approx(
        [h["loss"] for h in straight.history], rel=1e-5
    )


def test_time_budget_stops_with_a_checkpoint_and_resumes(config, token_dialogues, tmp_path):
    stage = MemoryAwareStage(ReactiveTransformer(config), token_dialogues, loop(3), MemoryAwareConfig())
    state = run(stage, loop(3, checkpoint_every=100, max_seconds=1e-9), tmp_path)
    assert state.step == 1
    assert (tmp_path / "ckpt" / "train_state.pt").is_file()
    assert run(stage, loop(3), tmp_path, resume=True).step == 3


@pytest.mark.parametrize(("bptt_turns", "turn3_reaches_stm0"), [(0, True), (1, False), (2, True)])
def test_bptt_turns_cuts_gradients_as_documented(config, token_dialogues, bptt_turns, turn3_reaches_stm0):
    """The learned STM_0 gets gradient from turn 1 (reads it), turn 2 (through update 1) and
    turn 3 only through updates 2 and 1. With K = 1 turn 3 reaches update 2 alone, so the STM_0
    gradient of 3-turn dialogues points exactly like that of the same dialogues cut to 2 turns;
    with K = 0 (never detach) or K = 2 (two updates) turn 3 adds to it."""
    no_aux = config.model_copy(update={"moe": config.moe.model_copy(update={"aux_loss_weight": 0.0})})

    def stm0_grad(turns: int) -> torch.Tensor:
        torch.manual_seed(0)
        model = ReactiveTransformer(no_aux)
        stage = MemoryAwareStage(
            model, [d[:turns] for d in token_dialogues], loop(1), MemoryAwareConfig(bptt_turns=bptt_turns)
        )
        stage.prepare(0)
        stage.step(0, 0, 1, torch.Generator().manual_seed(0))
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())
        return model.stm_init.grad.flatten()

    cosine = torch.nn.functional.cosine_similarity(stm0_grad(3), stm0_grad(2), dim=0)
    if turn3_reaches_stm0:
        assert cosine < 0.9999
    else:
        assert cosine == pytest.approx(1.0, abs=1e-5)


def test_stage4_freezing_schedule(config, token_dialogues):
    stage = MemoryAwareStage(
        ReactiveTransformer(config),
        token_dialogues,
        loop(10),
        MemoryAwareConfig(unfreeze_memory_attention_step=2, unfreeze_encoder_step=5),
    )
    trainable = lambda prefix: all(
        p.requires_grad for n, p in stage.model.named_parameters() if n.startswith(prefix)
    )
    stage.prepare(0)
    assert not trainable("memory_attention.") and not trainable("encoder.") and trainable("decoder.")
    stage.prepare(2)
    assert trainable("memory_attention.") and not trainable("encoder.")
    stage.prepare(5)
    assert trainable("encoder.")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"turns": []}, "empty dialogue"),
        ({"turns": [{"query": "I am Ann ."}]}, "missing field 'answer'"),
        ({"dialogue": []}, "missing field 'turns'"),
        ({"turns": [{"query": "I am Ann . " * 10, "answer": "Hi Ann ."}]}, "longer than max_tokens=32"),
    ],
)
def test_bad_data_names_file_and_line(config, tokenizer, tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    good = {"turns": [{"query": "I am Ann .", "answer": "Hi Ann ."}]}
    path.write_text(json.dumps(good) + "\n" + json.dumps(line) + "\n")
    with pytest.raises(ValueError, match=f"{path}:2:.*{message}"):
        load_token_dialogues([str(path)], tokenizer, config)


def trained_stage4(config, token_dialogues, folder, **memory_aware) -> tuple[ReactiveTransformer, list[dict]]:
    """30 stage-4 steps with replay from one fixed random start; the model and the loss history."""
    torch.manual_seed(3)
    model = ReactiveTransformer(config)
    cfg = MemoryAwareConfig(replay_weight=1.0, **memory_aware)
    state = run(MemoryAwareStage(model, token_dialogues, loop(30), cfg), loop(30), folder)
    return model, state.history


def test_overlap_weight_makes_writes_last_longer(config, token_dialogues, tmp_path):
    """The same 30 steps from the same start, with and without the overlap penalty: with it, more
    of a turn's write is left one turn later, and the step records the overlap it penalised."""
    from rxt_core.training.write_retention import write_retention

    plain, plain_history = trained_stage4(config, token_dialogues, tmp_path / "plain")
    penalised, history = trained_stage4(config, token_dialogues, tmp_path / "penalised", overlap_weight=10.0)
    assert "write_overlap" not in plain_history[0] and 0 < history[0]["write_overlap"] < 1
    left = write_retention(penalised, token_dialogues).share_left[1]
    assert left > write_retention(plain, token_dialogues).share_left[1] + 0.05


def test_sparsity_weight_pushes_write_weights_to_0_or_1(config, token_dialogues, tmp_path):
    from rxt_core.training.batching import interaction_batch
    from rxt_core.training.write_retention import recording_writes

    def mixing(model: ReactiveTransformer) -> float:
        """mean w (1 - w) of the first turn's write"""
        batch = interaction_batch([d[0] for d in token_dialogues], config)
        with torch.no_grad(), recording_writes(model) as writes:
            model.write_memory(model.init_memory(len(token_dialogues)), batch.ids, batch.mask)
        return float((writes[0] * (1 - writes[0])).mean())

    plain, plain_history = trained_stage4(config, token_dialogues, tmp_path / "plain")
    penalised, history = trained_stage4(config, token_dialogues, tmp_path / "penalised", sparsity_weight=10.0)
    assert "write_mixing" not in plain_history[0] and 0 < history[0]["write_mixing"] <= 0.25
    assert mixing(penalised) < 0.5 * mixing(plain)
