"""`DecodeRows`: joins and leaves copy single rows in place of the whole batch, and after any
sequence of them every live row still holds exactly its own decode state."""

import random

import torch

from orchestration.decode_rows import DecodeRows
from rxt_core.attention import KVCache
from rxt_core.generation import DecodeState

LAYERS, HEADS, CAPACITY, DIM, SLOTS = 2, 2, 5, 3, 4


def rows_of(ids: list[int]) -> DecodeState:
    """A decode state whose every tensor row is filled with its row id (so rows can be traced)."""

    def filled(*shape: int, offset: float = 0.0) -> torch.Tensor:
        return torch.stack([torch.full(shape, float(i) + offset) for i in ids])

    return DecodeState(
        caches=[
            KVCache(filled(HEADS, CAPACITY, DIM), filled(HEADS, CAPACITY, DIM, offset=0.5))
            for _ in range(LAYERS)
        ],
        memory_kv=[
            (filled(HEADS, SLOTS, DIM, offset=0.25), filled(HEADS, SLOTS, DIM, offset=0.75))
            for _ in range(LAYERS)
        ]
        # the pointer's slots: keys, ids and the query's flags (a triple, unlike the K/V pairs)
        + [(filled(SLOTS, DIM, offset=0.1), filled(SLOTS, offset=0.2), filled(SLOTS, offset=0.3))],
        lengths=torch.tensor(ids),
        host_lengths=list(ids),
    )


def assert_holds(batch: DecodeRows, ids: list[int]) -> None:
    state = batch.state
    assert batch.count == len(ids) and state.host_lengths == ids and state.lengths.tolist() == ids
    for cache, (k, v) in zip(state.caches, state.memory_kv[:LAYERS], strict=True):
        for row, i in enumerate(ids):
            assert torch.all(cache.k[row] == i) and torch.all(cache.v[row] == i + 0.5)
            assert torch.all(k[row] == i + 0.25) and torch.all(v[row] == i + 0.75)
    for row, i in enumerate(ids):
        for offset, pointer_tensor in zip((0.1, 0.2, 0.3), state.memory_kv[LAYERS], strict=True):
            assert torch.all(pointer_tensor[row] == i + offset)


def test_random_joins_and_leaves_keep_every_row_its_own_state():
    rng = random.Random(0)
    batch, live, next_id = DecodeRows(), [], 0
    with torch.inference_mode():
        for _ in range(200):
            if live and rng.random() < 0.5:
                kept = sorted(rng.sample(range(len(live)), rng.randint(0, len(live))))
                order = batch.keep(kept)
                assert sorted(order) == kept  # the kept rows, possibly in another order
                live = [live[i] for i in order]
            else:
                new = list(range(next_id, next_id + rng.randint(1, 4)))
                next_id += len(new)
                batch.append(rows_of(new))
                live += new
            if live:
                assert_holds(batch, live)
            else:
                assert batch.state is None and batch.count == 0


def test_storage_doubles_so_joins_rarely_reallocate():
    batch, capacities = DecodeRows(), []
    with torch.inference_mode():
        for i in range(9):
            batch.append(rows_of([i]))
            capacities.append(batch.capacity)
        assert_holds(batch, list(range(9)))
    assert capacities == [1, 2, 4, 4, 8, 8, 8, 8, 16]


def test_a_decode_step_writes_into_the_storage_the_views_share():
    batch = DecodeRows()
    with torch.inference_mode():
        batch.append(rows_of([1, 2, 3]))
        batch.state.caches[0].k[1].fill_(-1.0)  # what decode_step does to a row's cache
        assert batch.keep([1, 2]) == [2, 1]  # row 0 leaves; the last row takes its place
        assert torch.all(batch.state.caches[0].k[1] == -1.0)  # row "2" kept what was written
