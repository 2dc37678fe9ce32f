"""Session 30's recall priors of the memory pointer: `pointer_source` (the STM marks the slots a
user's query wrote, and the pointer prefers them: a recall should copy what the user said, not the
model's own acknowledgement of it), `pointer_recency` (newer slots preferred: a correction sits in
memory beside the value it corrects; session 31: `pointer_recency_context`, by how much read from
the decoder's state) and `pointer_space_twins` (a query's first token stored as its
space-led twin: a value that opens a sentence is recalled mid-sentence)."""

import pytest
import torch

from rxt_core import ReactiveTransformer, preset
from rxt_core.bundled import bundled_model_dir
from rxt_core.keep_write import keep_order
from rxt_core.memory_pointer import FROM_USER, slot_marks
from rxt_core.stm_codec import decode_stm, encode_stm
from rxt_core.tokenizer import RxTTokenizer
from rxt_core.training.transplant import transplant
from rxt_core.word_pieces import WordPieces

from .test_decoding import assert_incremental_decoding_matches_full_forward
from .test_memory_pointer import pointer_model, written

Q, A, EOS = 3, 4, 2


def keeping_everything(model):
    model.memory_attention.salience.register_forward_hook(lambda _m, _a, out: torch.ones_like(out))
    return model


def write(model, stm: torch.Tensor, interaction: list[int]) -> torch.Tensor:
    ids = torch.tensor([interaction])
    with torch.no_grad():
        return model.write_memory(stm, ids, torch.ones_like(ids, dtype=torch.bool))


def from_user(model, stm: torch.Tensor) -> list[bool]:
    return slot_marks(stm[:, model.config.layers], model.config.vocab_size)[0, :, FROM_USER].tolist()


def test_the_query_side_is_marked_and_the_mark_ages_with_its_slot_through_storage():
    """[Q] query [A] are the user's, the answer is not; a later turn's write moves the old slots
    back with their marks; the ids read the same as without marks, and fp16 storage keeps both."""
    marking = keeping_everything(pointer_model(pointer_source=True))
    plain = keeping_everything(pointer_model())
    first, second = [Q, 40, 41, A, 50, 51, EOS], [Q, 60, A, 70]
    stm = write(marking, write(marking, marking.init_memory(1), first), second)
    plain_stm = write(plain, write(plain, plain.init_memory(1), first), second)

    assert marking.slot_ids(stm)[0, :11].tolist() == second + first
    assert torch.equal(marking.slot_ids(stm), plain.slot_ids(plain_stm))
    user = [True, True, True, False] + [True, True, True, True, False, False, False]
    assert from_user(marking, stm) == user + [False] * 5  # empty slots are nobody's
    assert not any(from_user(plain, plain_stm))
    restored = decode_stm(encode_stm(stm, torch.float16)).float()
    assert from_user(marking, restored) == from_user(marking, stm)
    assert torch.equal(marking.slot_ids(restored), marking.slot_ids(stm))


def log_odds_with_bonus(option: str, value: float, memory: list[int], token: int, other: int):
    """With the gate wide open (the output is the pointer's copy): the log-odds of `token` against
    `other` at each position of a reading, by the model as it was, after `option` is transplanted
    in (checked: unchanged while its bonus is 0) and with the bonus set to `value`."""
    original = keeping_everything(pointer_model(gate_bias=100.0))
    changed = keeping_everything(transplant(original, {f"pointer_{option}": True}).eval())
    stm = write(changed, changed.init_memory(1), memory)
    reading = torch.tensor([[Q, 7, 8, A, 9, 10]])
    with torch.no_grad():
        before, _ = original(reading, stm)
        unchanged, _ = changed(reading, stm)
        getattr(changed.pointer.slots, option).fill_(value)
        after, _ = changed(reading, stm)
    torch.testing.assert_close(unchanged, before)
    return before[..., token] - before[..., other], after[..., token] - after[..., other]


def test_a_source_bonus_shifts_the_copy_to_the_users_token():
    """A bonus σ multiplies the odds of a token only the user wrote (40) against one only the
    answer wrote (50) by exactly exp(10 σ)."""
    before, after = log_odds_with_bonus("source", 0.3, [Q, 40, A, 50, EOS], 40, 50)
    torch.testing.assert_close(after, before + 3.0)


def test_incremental_decoding_matches_the_full_forward_with_the_recall_priors():
    """The source bonus, and the recency bonus weighed per position by the follow bonus (session
    31's, from the decoder's state at each step)."""
    priors = dict(pointer_source=True, pointer_follows=True, pointer_follow_context=True)
    priors |= dict(pointer_recency=True, pointer_recency_ties=True)
    model = keeping_everything(pointer_model(gate_bias=0.0, pointer_reads_query=True, **priors))
    with torch.no_grad():
        model.pointer.slots.source.fill_(0.5)
        model.pointer.slots.recency.fill_(0.1)
        model.pointer.slots.follow_context.normal_(0.0, 0.1, generator=torch.Generator().manual_seed(5))
    ids = torch.randint(6, model.config.vocab_size, (3, 10), generator=torch.Generator().manual_seed(4))
    ids[:, 4] = A  # a query side to mark
    with torch.no_grad():
        stm = model.write_memory(model.init_memory(3), ids, torch.ones_like(ids, dtype=torch.bool))
    assert any(from_user(model, stm[:1]))
    assert_incremental_decoding_matches_full_forward(model, stm)


def test_the_source_bonus_needs_the_pointer_and_room_for_its_mark():
    with pytest.raises(ValueError, match="set memory_pointer"):
        preset("tiny", memory_write="keep", memory_attention="simple", pointer_source=True)
    with pytest.raises(ValueError, match="dim .* is too small"):
        preset(
            "tiny", memory_write="keep", memory_attention="simple", memory_pointer=True,
            pointer_source=True, vocab_size=2**63, dim=64, attention={"heads": 4, "query_heads": 2, "kv_heads": 1},
        )  # fmt: skip


def test_a_recency_bonus_shifts_the_odds_towards_the_newer_slot_by_the_log_of_their_places():
    """Slots are newest first: a bonus ρ moves the log-odds of the token in slot 1 (newer) against
    the token in slot 4 by 10 ρ (log 5 - log 2)."""
    before, after = log_odds_with_bonus("recency", 0.2, [Q, 40, 41, 42, 43], 40, 43)
    shift = 2.0 * (torch.log(torch.tensor(5.0)) - torch.log(torch.tensor(2.0)))
    torch.testing.assert_close(after, before + shift)


def test_a_recency_bonus_read_from_context_shifts_each_position_by_what_its_state_says():
    """ρ + w · h (`pointer_recency_context`, w starts at 0: transplanting it in changes nothing): with
    ρ = 0 and w set, position t's log-odds of the newer slot move by 10 (w · h_t)(log 5 - log 2), so
    the decoder, not a constant, decides where the newer of two remembered tokens wins."""
    original = keeping_everything(pointer_model(gate_bias=100.0, pointer_recency=True))
    options = {"pointer_recency_context": True}
    changed = keeping_everything(transplant(original, options).eval())
    stm = write(changed, changed.init_memory(1), [Q, 40, 41, 42, 43])
    reading = torch.tensor([[Q, 7, 8, A, 9, 10]])
    hidden = {}
    changed.pointer.slots.register_forward_hook(lambda _m, args, _o: hidden.update(h=args[0][0]))
    with torch.no_grad():
        before, _ = original(reading, stm)
        unchanged, _ = changed(reading, stm)
        w = torch.randn(changed.config.dim, generator=torch.Generator().manual_seed(0))
        changed.pointer.slots.recency_context.copy_(w * 0.05)
        after, _ = changed(reading, stm)
        say = hidden["h"].float() @ changed.pointer.slots.recency_context.float()
    torch.testing.assert_close(unchanged, before)
    assert say.max() - say.min() > 0.3  # positions where newer wins more, and less
    odds = lambda log_p: log_p[0, :, 40] - log_p[0, :, 43]  # noqa: E731
    shift = 10 * say * (torch.log(torch.tensor(5.0)) - torch.log(torch.tensor(2.0)))
    torch.testing.assert_close(odds(after), odds(before) + shift)


@pytest.mark.parametrize("follow", [0.0, 1.0])
def test_the_recency_bonus_only_breaks_ties_where_a_value_starts(follow):
    """With `pointer_recency_ties` the newer slot's log-odds move by 10 ρ σ(4 - 10 β) d (log 5 -
    log 2), d = 1 - the largest share one token has of the pointer without the bonus: in full
    where the follow bonus β is 0 (σ(4) = 0.98), hardly (σ(-6) = 0.0025) where it is 1 — inside a
    value an older run may go on — and only as much as the pointer is torn between tokens."""
    options = dict(pointer_follows=True, pointer_recency=True, pointer_recency_ties=True)
    model = keeping_everything(pointer_model(gate_bias=100.0, **options))
    stm = write(model, model.init_memory(1), [Q, 40, 41, 42, 43])
    reading = torch.tensor([[Q, 7, 8, A, 9, 10]])
    odds = lambda log_p: log_p[0, :, 40] - log_p[0, :, 43]  # noqa: E731
    copies = []
    model.pointer.slots.register_forward_hook(lambda _m, _a, out: copies.append(out[0][0]))
    with torch.no_grad():
        model.pointer.slots.follow.fill_(follow)
        before, _ = model(reading, stm)
        model.pointer.slots.recency.fill_(0.2)
        after, _ = model(reading, stm)
    doubt = 1 - copies[0].amax(-1)
    assert doubt.max() > 0.5 and (doubt < 0.95).all()  # torn, never evenly: the factor is tested
    weight = torch.sigmoid(torch.tensor(4.0 - 10 * follow)) * doubt
    shift = 2.0 * weight * (torch.log(torch.tensor(5.0)) - torch.log(torch.tensor(2.0)))
    torch.testing.assert_close(odds(after), odds(before) + shift)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"pointer_recency": True, "pointer_recency_ties": True}, "set both"),  # no follow bonus
        ({"pointer_recency_context": True}, "set pointer_recency"),
    ],
)
def test_the_recency_options_need_what_they_scale(options, message):
    pointer = {"memory_write": "keep", "memory_attention": "simple", "memory_pointer": True}
    with pytest.raises(ValueError, match=message):
        preset("tiny", **pointer, **options)


def bundled_word_pieces() -> tuple[WordPieces, RxTTokenizer]:
    tokenizer = RxTTokenizer.load(bundled_model_dir() / "tokenizer.json")
    words = WordPieces(tokenizer.vocab_size, tokenizer.query_id)
    words.fill(tokenizer.pieces(), tokenizer.mask_id + 1)
    return words, tokenizer


def test_space_twins_pair_each_piece_with_its_space_led_form():
    words, tokenizer = bundled_word_pieces()
    twins = words.twins.tolist()
    first = lambda text: tokenizer.encode(text)[0]  # noqa: E731
    assert twins[first("Zala")] == first(" Zala") != first("Zala")  # 'Z' -> 'ĠZ'
    assert twins[first(" Zala")] == first(" Zala")  # already space-led
    assert twins[first(".")] == first(".")  # not a word
    assert twins[: tokenizer.mask_id + 1] == list(range(tokenizer.mask_id + 1))  # specials stay
    for token_id, twin in enumerate(twins):
        if twin != token_id:
            assert tokenizer.token_of(twin) == "Ġ" + tokenizer.token_of(token_id)


def test_words_are_the_runs_of_pieces_with_no_space_or_punctuation_between():
    words, tokenizer = bundled_word_pieces()
    text = "Chovel is my neighbour, Mustard yellow."
    ids = torch.tensor([tokenizer.encode(text)])
    pieces = [tokenizer.token_of(i) for i in ids[0].tolist()]
    spans, current = [], ""
    for piece, joined in zip(pieces, words.continues(ids)[0].tolist(), strict=True):
        if joined:
            current += piece
        else:
            spans.append(current)
            current = piece
    spans.append(current)
    assert [s.replace("Ġ", " ") for s in spans[1:]] == [
        "Chovel",
        " is",
        " my",
        " neighbour",
        ",",
        " Mustard",
        " yellow",
        ".",
    ]


def test_a_kept_piece_keeps_its_whole_word():
    """Pieces 1-2 and 4-5 are words; keeping piece 2 keeps piece 1, keeping piece 5 keeps 4,
    piece 3 (a word of its own) stays out, and padding is never kept."""
    salience = torch.tensor([[-1.0, -1.0, 2.0, -1.0, -1.0, 2.0, 2.0]])
    mask = torch.tensor([[True] * 6 + [False]])
    continues = torch.tensor([[False, False, True, False, False, True, True]])
    assert keep_order(salience, mask, slots=8)[0, :2].tolist() == [2, 5]
    whole = keep_order(salience, mask, slots=8, continues=continues)
    assert whole[0, :5].tolist() == [1, 2, 4, 5, 7]  # then the old slots, from 7 (= T)


def test_a_model_keeping_whole_words_writes_a_word_whose_last_piece_alone_scored():
    """Pieces 40 + 41 make one word (41 goes on 40's letters): the salience keeps only 41; a model
    with `keep_whole_words` writes both, the same model without it only 41."""
    ids, keep = torch.tensor([[Q, 40, 41, A, 50]]), torch.tensor([[False, False, True, False, False]])
    slots = {}
    for whole in (False, True):
        model = pointer_model(keep_whole_words=whole)
        if whole:
            with torch.no_grad():
                model.word_pieces.opens[41] = model.word_pieces.closes[40] = True
        slots[whole] = written(model, ids, keep)
        slots[whole] = model.slot_ids(slots[whole])[0, :3].tolist()
    assert slots[False] == [41, 0, 0]  # then empty slots (the pad id)
    assert slots[True] == [40, 41, 0]


def test_the_id_layer_stores_the_queries_first_token_as_its_twin_and_the_table_is_saved(tmp_path):
    """Only the token right after [Q] is swapped, in the id layer only: the content the pointer's
    keys come from is the same as without twins, and the table survives save and load."""
    plain = keeping_everything(pointer_model())
    twinned = keeping_everything(transplant(plain, {"pointer_space_twins": True}).eval())
    with torch.no_grad():
        twinned.word_pieces.twins[40] = 140
        twinned.word_pieces.twins[50] = 150
    interaction = [Q, 40, 50, A, 40, 50, EOS, Q, 50, A]  # two queries in one row, for the test
    stm = write(twinned, twinned.init_memory(1), interaction)
    plain_stm = write(plain, plain.init_memory(1), interaction)
    assert twinned.slot_ids(stm)[0, :10].tolist() == [Q, 140, 50, A, 40, 50, EOS, Q, 150, A]
    layers = twinned.config.layers
    torch.testing.assert_close(stm[:, :layers], plain_stm[:, :layers])

    twinned.save_pretrained(tmp_path)
    restored = ReactiveTransformer.from_pretrained(tmp_path)
    assert restored.word_pieces.twins[40] == 140 and restored.word_pieces.twins[41] == 41
