"""The memory pointer: the STM stores each keep-write slot's token id, and the decoder may copy a
token from memory by pointing at its slot."""

import pytest
import torch
from torch.nn import functional as F

from rxt_core import ReactiveTransformer, SamplingParams, preset
from rxt_core.generation import decode_step, prefill
from rxt_core.interaction import pad_batch
from rxt_core.memory_pointer import FOLLOW_SCALE, GATE_SCALE, WRITTEN_NOW, id_rows, slot_ids
from rxt_core.stm_codec import decode_stm, encode_stm

from .test_decoding import assert_incremental_decoding_matches_full_forward
from .test_keep_write import force_salience


def pointer_model(gate_bias: float | None = None, **options) -> ReactiveTransformer:
    """A tiny pointer model; `gate_bias` overrides the gate's (large: the pointer alone speaks)."""
    torch.manual_seed(0)
    config = preset("tiny", memory_write="keep", memory_attention="simple", memory_pointer=True, **options)
    model = ReactiveTransformer(config).eval()
    if gate_bias is not None:
        with torch.no_grad():
            model.pointer.gate.bias.fill_(gate_bias / GATE_SCALE)
    return model


def written(model, ids: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
    """The memory after writing `ids` [B, T] (every token kept unless `keep` says otherwise) into
    a fresh one."""
    force_salience(model, torch.ones_like(ids, dtype=torch.bool) if keep is None else keep)
    with torch.no_grad():
        return model.write_memory(
            model.init_memory(ids.shape[0]), ids, torch.ones_like(ids, dtype=torch.bool)
        )


def vocabulary_only(model, query: torch.Tensor, stm: torch.Tensor) -> torch.Tensor:
    """log p of the decoder's vocabulary head alone, reading the same memory."""
    positions = torch.arange(query.shape[1])[None]
    memory_kv = model.memory_kv(stm)[: model.config.layers]
    with torch.no_grad():
        hidden, _ = model.decoder(model.embedding(query), positions, memory_kv)
        return F.log_softmax(model.lm_head(hidden), -1)


def test_the_pointer_needs_the_keep_write():
    with pytest.raises(ValueError, match="memory_pointer needs memory_write 'keep'"):
        preset("tiny", memory_pointer=True)


def test_a_new_memory_has_an_id_layer_of_empty_slots():
    model = pointer_model()
    stm = model.init_memory(2)
    assert stm.shape == (2, model.config.layers + 1, model.config.stm_slots, model.config.dim)
    assert (model.slot_ids(stm) == model.config.pad_id).all()
    model.check_memory(stm)  # a pointer STM is this model's memory


def test_the_id_layer_moves_with_the_keep_order():
    """Kept tokens' ids take the front slots in their order; older ids shift back; a turn that
    keeps nothing leaves the ids as they were."""
    model = pointer_model()
    first = torch.tensor([[11, 12, 13, 14, 15]])
    stm = written(model, first, keep=torch.tensor([[False, True, False, True, True]]))
    assert model.slot_ids(stm)[0, :4].tolist() == [12, 14, 15, model.config.pad_id]
    second = torch.tensor([[21, 22, 23]])
    mask = torch.ones_like(second, dtype=torch.bool)
    force_salience(model, torch.tensor([[True, False, True]]))
    with torch.no_grad():
        stm = model.write_memory(stm, second, mask)
    assert model.slot_ids(stm)[0, :6].tolist() == [21, 23, 12, 14, 15, model.config.pad_id]


def test_every_token_id_is_spelled_and_read_back_exactly():
    vocab = 2048
    ids = torch.arange(vocab)[None]
    for dtype in (torch.float32, torch.bfloat16):
        rows = id_rows(ids, vocab, dim=16, dtype=dtype)
        assert rows.shape == (1, vocab, 16) and torch.equal(slot_ids(rows, vocab, pad_id=0), ids)


def test_a_memory_no_write_produced_reads_as_empty_slots_not_as_ids_past_the_vocabulary():
    """Random memory (as benchmarks and tests use) in a model whose vocabulary is no power of two:
    codes past the vocabulary read as empty slots, and the model still answers."""
    torch.manual_seed(0)
    config = preset(
        "tiny", vocab_size=300, memory_write="keep", memory_attention="simple", memory_pointer=True
    )
    model = ReactiveTransformer(config).eval()
    stm = torch.randn(2, *model.stm_shape, generator=torch.Generator().manual_seed(0))
    ids = model.slot_ids(stm)
    assert (ids < 300).all() and (ids == config.pad_id).any()
    answers = model.generate([[7, 8], [9]], stm, SamplingParams(max_new_tokens=4))
    assert all(len(answer) > 0 for answer in answers)


def test_slot_ids_survive_half_precision_storage():
    model = pointer_model()
    ids = torch.randint(6, model.config.vocab_size, (3, 12), generator=torch.Generator().manual_seed(1))
    stm = written(model, ids)
    for dtype in (torch.float16, torch.bfloat16):
        restored = decode_stm(encode_stm(stm, dtype)).float()
        assert torch.equal(model.slot_ids(restored), model.slot_ids(stm))


def test_the_output_is_a_distribution_that_mixes_in_the_memorys_tokens():
    """Gate shut: exactly the vocabulary head's distribution. Gate open: all probability on the
    tokens the memory holds, none elsewhere. In between: log-probabilities that sum to one."""
    ids = torch.tensor([[30, 31, 32, 33]])
    query = torch.tensor([[3, 40, 41, 4]])
    shut, open_, half = pointer_model(-100.0), pointer_model(100.0), pointer_model(0.0)
    for model in (shut, open_, half):
        with torch.no_grad():
            out, _ = model(query, written(model, ids))
        torch.testing.assert_close(out.logsumexp(-1), torch.zeros(1, 4), atol=1e-5, rtol=0)
        if model is shut:
            torch.testing.assert_close(
                out, vocabulary_only(model, query, written(model, ids)), atol=1e-5, rtol=0
            )
        if model is open_:
            in_memory = out.exp()[..., ids[0]].sum(-1)
            torch.testing.assert_close(in_memory, torch.ones(1, 4), atol=1e-5, rtol=0)


def test_an_empty_memory_leaves_nothing_to_copy():
    model = pointer_model(100.0)  # the gate would hand every token to the pointer
    query = torch.tensor([[3, 40, 41, 4]])
    stm = model.init_memory(1)
    with torch.no_grad():
        out, _ = model(query, stm)
    torch.testing.assert_close(out, vocabulary_only(model, query, stm), atol=1e-5, rtol=0)


def test_an_open_pointer_answers_with_the_remembered_tokens():
    model = pointer_model(100.0)
    remembered = torch.tensor([[50, 51, 52], [60, 61, 62]])
    answers = model.generate([[40, 41], [42]], written(model, remembered))
    for row, answer in enumerate(answers):
        assert answer and set(answer) <= set(remembered[row].tolist()), answer


@pytest.mark.parametrize("gate_bias", [0.0, 100.0])
def test_incremental_decoding_matches_full_forward_with_the_pointer(gate_bias):
    model = pointer_model(gate_bias)
    ids = torch.randint(6, model.config.vocab_size, (3, 10), generator=torch.Generator().manual_seed(2))
    assert_incremental_decoding_matches_full_forward(model, written(model, ids))


def test_decoding_reads_each_rows_own_slot_ids():
    """Two sessions in one batch copy from their own memories only."""
    model = pointer_model(100.0)
    stm = written(model, torch.tensor([[50, 51, 52], [60, 61, 62]]))
    with torch.no_grad():
        logits, state = prefill(model, [[3, 40, 4], [3, 41, 42, 43, 4]], model.memory_kv(stm))
        steps = [logits, decode_step(model, logits.argmax(-1), state)]
    for logits in steps:
        assert logits[0].exp()[50:53].sum() > 0.999 and logits[1].exp()[60:63].sum() > 0.999


def test_a_pointer_model_saves_and_loads(tmp_path):
    model = pointer_model()
    model.save_pretrained(tmp_path)
    loaded = ReactiveTransformer.from_pretrained(tmp_path)
    assert loaded.config.memory_pointer and loaded.pointer is not None
    stm = written(model, torch.tensor([[30, 31]]))
    query = torch.tensor([[3, 40, 4]])
    with torch.no_grad():
        torch.testing.assert_close(loaded.eval()(query, stm)[0], model(query, stm)[0])


def copy_task_accuracy(model, tokens: range, steps: int, test_tokens: range) -> float:
    """Train `model` for `steps` to answer "[Q] 7 [A]" with the token x of the interaction
    "[Q] 8 x [A] 9" written to its memory, x drawn from `tokens`; then the greedy accuracy on x
    from `test_tokens`."""
    g = torch.Generator().manual_seed(0)
    cfg = model.config
    model.memory_attention.salience.register_forward_hook(
        lambda _m, _a, out: torch.ones_like(out)
    )  # keep all

    def batch(pool: range, size: int = 64):
        x = torch.tensor(pool)[torch.randint(len(pool), (size,), generator=g)]
        written_ids = torch.stack(
            [
                torch.full_like(x, cfg.query_id),
                torch.full_like(x, 8),
                x,
                torch.full_like(x, cfg.answer_id),
                torch.full_like(x, 9),
                torch.full_like(x, cfg.eos_id),
            ],
            1,
        )
        query = torch.stack(
            [torch.full_like(x, cfg.query_id), torch.full_like(x, 7), torch.full_like(x, cfg.answer_id)], 1
        )
        stm = model.write_memory(
            model.init_memory(size), written_ids, torch.ones_like(written_ids, dtype=torch.bool)
        )
        return query, stm, x

    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        query, stm, x = batch(tokens)
        out, _ = model(query, stm)
        loss = F.cross_entropy(out[:, -1], x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        query, stm, x = batch(test_tokens, 256)
        return float((model(query, stm)[0][:, -1].argmax(-1) == x).float().mean())


def test_the_pointer_learns_to_copy_tokens_it_never_saw_in_training():
    """The point of the pointer: a value never seen in training comes out exactly. Trained 30
    steps on tokens 100-299, the pointer model answers tokens 300-511; the same model without
    the pointer, trained the same, cannot say them."""
    accuracy = {}
    for pointer in (True, False):
        torch.manual_seed(0)
        config = preset("tiny", memory_write="keep", memory_attention="simple", memory_pointer=pointer)
        model = ReactiveTransformer(config)
        accuracy[pointer] = copy_task_accuracy(model, range(100, 300), 30, range(300, 512))
    assert accuracy[True] >= 0.95, accuracy
    assert accuracy[False] <= 0.2, accuracy


def test_the_agreement_gate_starts_as_the_hidden_gate_and_shuts_on_picks_the_head_rates_low():
    """An agreement gate transplanted into a pointer model changes nothing until it learns; its
    first feature lowers the logit by how far the head rates the pointer's pick below its own best
    (a copy past a value's end), not at all where they agree."""
    from rxt_core.training.transplant import transplant

    model = pointer_model(0.0)
    agreeing = transplant(model, {"pointer_gate": "agreement"}).eval()
    query, stm = torch.tensor([[3, 40, 41, 4]]), written(model, torch.tensor([[30, 31, 32, 33]]))
    with torch.no_grad():
        torch.testing.assert_close(agreeing(query, stm)[0], model(query, stm)[0])
        agreeing.pointer.gate.agreement.copy_(torch.tensor([1.0, 0.0]))
    head_log_p = torch.log_softmax(torch.tensor([[[4.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 4.0]]]), -1)
    copy = torch.tensor([[[0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 1.0]]])  # the pointer picks token 3
    logit = agreeing.pointer.gate(torch.zeros(1, 2, model.config.dim), head_log_p, copy, torch.zeros(1, 2))
    torch.testing.assert_close(logit, GATE_SCALE * torch.tensor([[-4.0, 0.0]]))


def follow_model(bonus: float) -> ReactiveTransformer:
    """`pointer_model` with the follow bonus, FOLLOW_SCALE · β = `bonus`, and its gate open."""
    from rxt_core.training.transplant import transplant

    model = transplant(pointer_model(100.0), {"pointer_follows": True}).eval()
    with torch.no_grad():
        model.pointer.slots.follow.fill_(bonus / FOLLOW_SCALE)
    return model


def test_the_follow_bonus_copies_a_remembered_sequence_on_in_order():
    """Memory holds 50 51 52 53 (kept in order): having read 50 the pointer says 51, then 52, 53;
    without the bonus the same weights do not."""
    remembered = torch.tensor([[50, 51, 52, 53]])
    query = torch.tensor([[3, 40, 4, 50, 51, 52]])
    for bonus, expected in ((20.0, True), (0.0, False)):
        model = follow_model(bonus)
        with torch.no_grad():
            out, _ = model(query, written(model, remembered))
        assert (out[0, 3:].argmax(-1).tolist() == [51, 52, 53]) == expected


def test_incremental_decoding_matches_full_forward_with_the_follow_bonus_and_gates():
    from rxt_core.training.transplant import transplant

    overrides = {"pointer_gate": "agreement+follow", "pointer_follow_context": True}
    model = transplant(follow_model(5.0), overrides).eval()
    with torch.no_grad():  # a half-open gate that reads all it can, a bonus that reads h
        model.pointer.gate.bias.zero_()
        model.pointer.gate.agreement.fill_(0.5)
        model.pointer.gate.follow.fill_(1.0)
        model.pointer.slots.follow_context.normal_(0.0, 0.3, generator=torch.Generator().manual_seed(1))
    ids = torch.randint(
        3, 40, (3, 10), generator=torch.Generator().manual_seed(3)
    )  # 4 ([A], the prompts' last) too
    assert_incremental_decoding_matches_full_forward(model, written(model, ids))


def test_the_follow_gate_needs_the_follow_bonus():
    with pytest.raises(ValueError, match="set pointer_follows"):
        preset(
            "tiny", memory_write="keep", memory_attention="simple", memory_pointer=True,
            pointer_gate="agreement+follow",
        )  # fmt: skip


def test_the_follow_gate_starts_unchanged_and_opens_only_where_the_pointer_follows_a_run():
    """A gate that also reads the pointer's mass on followed slots ("agreement+follow"),
    transplanted into a follow model, changes nothing until it learns; then it opens where the
    pointer goes on along a remembered run (having read 50, towards the slot holding 51) and
    nowhere else (no slot follows a 3, 40 or 4)."""
    from rxt_core.training.transplant import transplant

    model = transplant(pointer_model(), {"pointer_follows": True}).eval()
    with torch.no_grad():
        model.pointer.slots.follow.fill_(20.0 / FOLLOW_SCALE)
    gating = transplant(model, {"pointer_gate": "agreement+follow"}).eval()
    query, stm = torch.tensor([[3, 40, 4, 50]]), written(model, torch.tensor([[50, 51, 52, 53]]))
    logits = {}
    gating.pointer.gate.register_forward_hook(lambda _m, _args, out: logits.update(gate=out))
    with torch.no_grad():
        before = gating(query, stm)[0]
        torch.testing.assert_close(before, model(query, stm)[0])
        shut = logits["gate"].clone()
        gating.pointer.gate.follow.fill_(1.0)
        after = gating(query, stm)[0]
    opened = (logits["gate"] - shut)[0] / GATE_SCALE  # = the mass on followed slots
    assert opened[:3].tolist() == [0.0, 0.0, 0.0]
    assert opened[3] > 0.9
    torch.testing.assert_close(after[0, :3], before[0, :3])
    assert after[0, 3, 51] > before[0, 3, 51]


def test_the_follow_bonus_by_context_starts_unchanged_and_can_switch_off_where_h_says():
    """`pointer_follow_context` transplanted into a follow model changes nothing until it learns;
    w chosen so that β + w · h = 0 where the decoder has read 50, the pointer there says what it
    says without the bonus, while one token later (read 51) the bonus still acts."""
    from rxt_core.training.transplant import transplant

    with pytest.raises(ValueError, match="set pointer_follows"):
        preset(
            "tiny", memory_write="keep", memory_attention="simple", memory_pointer=True,
            pointer_follow_context=True,
        )  # fmt: skip
    following, plain = follow_model(20.0), follow_model(0.0)
    model = transplant(following, {"pointer_follow_context": True}).eval()
    query, stm = torch.tensor([[3, 40, 4, 50, 51]]), written(model, torch.tensor([[50, 51, 52, 53]]))
    seen = {}
    model.pointer.slots.register_forward_hook(lambda _m, args, _out: seen.update(hidden=args[0]))
    with torch.no_grad():
        torch.testing.assert_close(model(query, stm)[0], following(query, stm)[0])
        h = seen["hidden"][0, 3].float()
        model.pointer.slots.follow_context.copy_(-model.pointer.slots.follow * h / h.dot(h))
        switched, without = model(query, stm)[0], plain(query, stm)[0]
    torch.testing.assert_close(switched[0, 3], without[0, 3])
    assert (switched[0, 4] - without[0, 4]).abs().max() > 1e-3


def query_reading_model(gate_bias: float | None = None) -> ReactiveTransformer:
    """A tiny pointer model that reads the query too and keeps every token it writes."""
    model = pointer_model(gate_bias, pointer_reads_query=True)
    model.memory_attention.salience.register_forward_hook(lambda _m, _a, out: torch.ones_like(out))
    return model


def test_reading_the_query_needs_the_pointer():
    with pytest.raises(ValueError, match="pointer_reads_query is what the memory pointer reads"):
        preset("tiny", memory_write="keep", memory_attention="simple", pointer_reads_query=True)


def test_a_pointer_reading_the_query_copies_a_value_only_the_query_holds():
    """A new session's memory is empty: a plain pointer has nothing to copy, and its answer is the
    vocabulary head's; a pointer that reads the query answers with the query's own tokens."""
    plain, reading = pointer_model(100.0), query_reading_model(100.0)
    stm = reading.init_memory(1)
    query = [50, 51, 52]
    with torch.no_grad():
        plain_answer = plain.generate([query], stm, SamplingParams(max_new_tokens=4))[0]
        reading_answer = reading.generate([query], stm, SamplingParams(max_new_tokens=4))[0]
    assert not set(plain_answer) <= set(query), plain_answer  # the untrained head says anything
    assert reading_answer and set(reading_answer) <= set(query), reading_answer


def test_the_query_is_read_from_a_copy_and_the_memory_is_unchanged():
    """Reading the query must not write it: the session's STM stays as it was until the turn's
    own update, which the decoder's cross-attention reads as before."""
    model = query_reading_model()
    ids = torch.tensor([[30, 31]])
    with torch.no_grad():
        stm = model.write_memory(model.init_memory(1), ids, torch.ones_like(ids, dtype=torch.bool))
    before = stm.clone()
    with torch.no_grad():
        memory_kv = model.memory_kv(stm, [[3, 40, 41, 4]])
    torch.testing.assert_close(stm, before)
    assert model.slot_ids(stm)[0, :2].tolist() == [30, 31]
    assert memory_kv[-1][1][0, :6].tolist() == [3, 40, 41, 4, 30, 31]  # the query's tokens, newest first
    for (k, v), (k0, v0) in zip(memory_kv[:-1], model.memory_kv(stm, [[3, 9, 4]])[:-1], strict=True):
        torch.testing.assert_close((k, v), (k0, v0))  # cross-attention reads the STM, not the query


def test_a_pointer_reading_the_query_needs_the_prompts():
    model = query_reading_model()
    with pytest.raises(ValueError, match="pointer_reads_query"):
        model.memory_kv(model.init_memory(1))


@pytest.mark.parametrize("gate_bias", [0.0, 100.0])
def test_incremental_decoding_matches_full_forward_when_the_pointer_reads_the_query(gate_bias):
    """The training forward finds the query in each interaction ([Q] ... [A]) and must read
    exactly what decoding reads from the prompt: nothing of the answer it is predicting."""
    model = query_reading_model(gate_bias)
    ids = torch.randint(6, model.config.vocab_size, (3, 10), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        stm = model.write_memory(model.init_memory(3), ids, torch.ones_like(ids, dtype=torch.bool))
    assert_incremental_decoding_matches_full_forward(model, stm)


def test_the_query_copy_writes_only_what_the_pointer_reads():
    """The pointer reads one content layer and the ids of the copy: writing only those (and any
    chosen layers) gives exactly those layers of the full write."""
    model = query_reading_model()
    earlier = torch.randint(6, model.config.vocab_size, (2, 7), generator=torch.Generator().manual_seed(3))
    prompts = [[3, 40, 41, 42, 4], [3, 50, 4]]
    ids, mask = pad_batch(prompts, model.config.pad_id, "cpu")
    layers = model.config.layers
    with torch.no_grad():
        stm = model.write_memory(model.init_memory(2), earlier, torch.ones_like(earlier, dtype=torch.bool))
        full = model.write_memory(stm, ids, mask)
        keys, slot_ids_read = model.memory_kv(stm, prompts)[-1]
        expected_keys, expected_ids = model.pointer.project(full[:, layers - 1], full[:, layers])
        some = model.write_memory(stm, ids, mask, layers=[0, layers - 1])
    torch.testing.assert_close(keys, expected_keys)
    assert torch.equal(slot_ids_read, expected_ids)
    torch.testing.assert_close(some, full[:, [0, layers - 1, layers]])


def test_the_query_gate_needs_the_pointer_to_read_the_query():
    with pytest.raises(ValueError, match="set pointer_reads_query"):
        preset(
            "tiny", memory_write="keep", memory_attention="simple", memory_pointer=True,
            pointer_gate="agreement+query",
        )  # fmt: skip


def query_gate_model() -> ReactiveTransformer:
    from rxt_core.training.transplant import transplant

    model = transplant(query_reading_model(), {"pointer_gate": "agreement+query"}).eval()
    model.memory_attention.salience.register_forward_hook(lambda _m, _a, out: torch.ones_like(out))
    return model


def test_the_query_gate_flags_exactly_the_slots_the_query_wrote_and_leaves_the_memory_as_it_was():
    """Slots already in memory (30, 31) are not the query's; the query's kept tokens, newest first,
    are; empty slots are neither. Flagging works on a copy: the session's STM is unchanged."""
    model = query_gate_model()
    ids = torch.tensor([[30, 31]])
    with torch.no_grad():
        stm = model.write_memory(model.init_memory(1), ids, torch.ones_like(ids, dtype=torch.bool))
        before = stm.clone()
        _, slot_ids_read, marks = model.memory_kv(stm, [[3, 40, 41, 4]])[-1]
    from_query = marks[..., WRITTEN_NOW]
    torch.testing.assert_close(stm, before)
    assert slot_ids_read[0, :6].tolist() == [3, 40, 41, 4, 30, 31]
    assert from_query[0, :6].tolist() == [True] * 4 + [False] * 2
    assert not from_query[0, 6:].any()  # empty slots


def test_the_query_gate_starts_unchanged_and_can_trust_a_pick_from_the_query_the_head_rates_low():
    """Transplanted into a query-reading agreement model, the gate changes nothing until it learns.
    Then, with agreement weights that shut it on a pick the head rates far below its own, a query
    weight cancelling that disagreement (times the pointer's mass on the query's slots) opens it
    where the pick is the query's and leaves it shut where the pick is an older slot's."""
    from rxt_core.training.transplant import transplant

    agreeing = transplant(query_reading_model(), {"pointer_gate": "agreement"}).eval()
    gating = transplant(agreeing, {"pointer_gate": "agreement+query"}).eval()
    earlier, ids = torch.tensor([[60, 61]]), torch.tensor([[3, 50, 51, 4, 7, 8]])
    with torch.no_grad():
        stm = agreeing.write_memory(
            agreeing.init_memory(1), earlier, torch.ones_like(earlier, dtype=torch.bool)
        )
        torch.testing.assert_close(gating(ids, stm)[0], agreeing(ids, stm)[0])

    gate = gating.pointer.gate
    with torch.no_grad():
        gate.weight.zero_()
        gate.bias.fill_(0.3)
        gate.agreement.copy_(torch.tensor([1.0, 0.0]))  # logit / scale = 0.3 + (head's rating of the pick)
        gate.query.copy_(torch.tensor([-1.0, 0.0]))  # ... minus that rating times the mass on the query
    vocab = gating.config.vocab_size
    head_log_p = torch.full((1, 2, vocab), -12.0)
    head_log_p[..., 9] = -2.0  # the head's best; the pointer's pick, 50, is rated 10 below it
    copy = torch.zeros(1, 2, vocab)
    copy[..., 50] = 1.0
    on_query = torch.tensor([[1.0, 0.0]])  # the pick from the query's slots, then from an older one
    with torch.no_grad():
        logits = gate(torch.zeros(1, 2, gating.config.dim), head_log_p, copy, torch.zeros(1, 2), on_query)
    torch.testing.assert_close(logits[0], torch.tensor([0.3, 0.3 - 10.0]) * GATE_SCALE)


def test_incremental_decoding_matches_full_forward_with_the_query_gate():
    """The query's flags reach the gate the same way in the training forward and in decoding."""
    model = query_gate_model()
    with torch.no_grad():  # a half-open gate that reads all it can
        model.pointer.gate.bias.zero_()
        model.pointer.gate.agreement.fill_(0.5)
        model.pointer.gate.query.copy_(torch.tensor([-0.5, 1.0]))
    ids = torch.randint(6, model.config.vocab_size, (3, 10), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        stm = model.write_memory(model.init_memory(3), ids, torch.ones_like(ids, dtype=torch.bool))
    assert_incremental_decoding_matches_full_forward(model, stm)
