"""AsyncSessionStore: the same store, awaitable, never blocking the event loop."""

from __future__ import annotations

import asyncio

import torch

from storage import AsyncSessionStore, InteractionStatus, RetentionPolicy, VersionConflictError

from .conftest import FINGERPRINT, make_stm


def test_a_turn_through_the_async_api(store_config):
    async def scenario() -> None:
        async with await AsyncSessionStore.open(store_config) as store:
            info = await store.create_session(make_stm(0), fingerprint=FINGERPRINT, session_id="s")
            snap = await store.load_stm("s", fingerprint=FINGERPRINT)
            await store.append_interaction("s", 0, "q", "a", snap.info.version)
            assert [p.turn for p in await store.list_pending()] == [0]
            result = await store.commit_update("s", 0, snap.info.version, make_stm(1))
            assert (info.head_version, result.version) == (0, 1)
            assert torch.equal((await store.load_stm("s")).stm, make_stm(1))
            fork = await store.fork_session("s", 0, new_session_id="f")
            assert torch.equal((await store.load_stm(fork.session_id)).stm, make_stm(0))
            assert (await store.rollback("s", 0)).head_version == 2
            assert [v.version for v in await store.list_versions("s")] == [0, 1, 2]
            assert (await store.prune(RetentionPolicy(keep_last=1), "s")).versions_deleted == 1
            [logged] = await store.list_interactions("s")
            assert logged.status is InteractionStatus.APPLIED
            await store.close_session("f")
            assert (await store.get_session("f")).closed
            await store.delete_session("f")
            assert [s.session_id for s in await store.list_sessions()] == ["s"]

    asyncio.run(scenario())


def test_concurrent_async_commits_on_one_head_have_one_winner(store_config):
    async def scenario() -> list[object]:
        async with await AsyncSessionStore.open(store_config) as store:
            await store.create_session(make_stm(0), fingerprint=FINGERPRINT, session_id="s")
            for turn in range(4):
                await store.append_interaction("s", turn, "q", "a", 0)
            return await asyncio.gather(
                *(store.commit_update("s", turn, 0, make_stm(turn)) for turn in range(4)),
                return_exceptions=True,
            )

    outcomes = asyncio.run(scenario())
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 1
    assert sum(isinstance(o, VersionConflictError) for o in outcomes) == 3


def test_the_event_loop_keeps_running_while_the_store_works(store_config):
    """A ticker task advances while a commit is awaited: the call did not block the loop."""

    async def scenario() -> int:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        async with await AsyncSessionStore.open(store_config) as store:
            await store.create_session(make_stm(0, (6, 512, 256)), fingerprint=FINGERPRINT, session_id="s")
            await store.append_interaction("s", 0, "q", "a", 0)
            task = asyncio.create_task(ticker())
            await asyncio.sleep(0)
            before = ticks
            await store.commit_update("s", 0, 0, make_stm(1, (6, 512, 256)))
            during = ticks - before
            task.cancel()
            return during

    assert asyncio.run(scenario()) > 0
