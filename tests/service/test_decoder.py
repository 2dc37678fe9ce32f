"""The decoder and memory updater as plain classes, on a real SQLite store (no Ray): turn
ordering, caching, cancellation, fork/rollback/recovery semantics and typed errors."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import torch

from orchestration.config import ServiceConfig
from orchestration.decoder import Decoder, TurnRequest
from orchestration.errors import FailedPrecondition, InvalidArgument
from orchestration.memory_updater import MemoryUpdater
from orchestration.metrics import Metrics
from orchestration.scheduler import FinishReason
from orchestration.sessions import SessionBusyError
from orchestration.text import load_tokenizer
from rxt_core import ReactiveTransformer
from rxt_core.bundled import bundled_model_dir
from storage import AsyncSessionStore
from storage.errors import NotFoundError


class Recorder(Metrics):
    def __init__(self):
        self.batches: list[int] = []
        self.waits: list[float] = []

    def decode_step(self, stats):
        self.batches.append(stats.batch_size)

    def memory_wait(self, seconds):
        self.waits.append(seconds)


class Service:
    """One decoder replica + one updater on one store, built inside the running event loop."""

    def __init__(self, model_dir: Path, db: Path, **config):
        self.config = ServiceConfig(model_dir=model_dir, database_url=f"sqlite:///{db}", **config)
        self.model = ReactiveTransformer.from_pretrained(model_dir)
        self.tokenizer = load_tokenizer(model_dir)
        self.metrics = Recorder()

    async def __aenter__(self) -> Service:
        self.store = await AsyncSessionStore.open(self.config.database_url)
        self.updater = MemoryUpdater(
            self.model, self.tokenizer, self.store, self.decoder_agents(), self.config.write_precision
        )

        self.jobs = []  # every update handed to the updater

        async def apply(job):
            self.jobs.append(job)
            return (await self.updater.apply([job]))[0]

        self.decoder = Decoder(
            self.model, self.tokenizer, self.store, self.config, apply, self.updater.recover, self.metrics
        )
        return self

    def decoder_agents(self):
        from agents.registry import AgentRegistry

        return AgentRegistry(self.config.agents)

    async def __aexit__(self, *exc) -> None:
        self.decoder.close()
        await self.store.aclose()

    async def create(self) -> str:
        initial = await self.updater.initial_memory()
        return (
            await self.store.create_session(initial.stm, fingerprint=initial.fingerprint, agent="default")
        ).session_id

    async def turn(self, sid: str, query: str = "what is my name?", **fields):
        text, last = [], None
        fields = {"max_new_tokens": 12, **fields}
        async for event in self.decoder.interact(TurnRequest(sid, query, **fields)):
            text.append(event.text)
            last = event
        return "".join(text), last

    async def settled(self, sid: str):
        await self.decoder.turns.wait_for_update(sid, 30)
        return await self.store.get_session(sid)


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "rxt.db"


def run(model_dir, db, body, **config):
    async def main():
        async with Service(model_dir, db, **config) as service:
            return await body(service)

    return asyncio.run(main())


def test_turns_stream_then_update_memory_in_order(model_dir, db):
    async def body(s: Service):
        sid = await s.create()
        text1, last1 = await s.turn(sid, "my name is Ada")
        assert last1.done and (last1.from_version, last1.next_version) == (0, 1)
        assert last1.answer_tokens > 0 and last1.query_tokens == len(s.tokenizer.encode("my name is Ada"))
        text2, last2 = await s.turn(sid)  # must wait for turn 1's update: generated from version 1
        assert (last2.from_version, last2.next_version) == (1, 2)
        info = await s.settled(sid)
        log = await s.store.list_interactions(sid)
        assert info.head_version == 2
        assert [(r.turn, r.query, r.answer, r.from_version, r.applied_version) for r in log] == [
            (0, "my name is Ada", text1, 0, 1),
            (1, "what is my name?", text2, 1, 2),
        ]
        assert s.decoder.cache.stats.hits >= 1  # turn 2 read the STM the updater handed back

    run(model_dir, db, body)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_stored_memory_is_written_in_the_configured_precision(model_dir, db, precision):
    """`write_precision` reaches the updater: the stored version 1 is exactly the model's update
    of version 0 in that precision, kept in fp32."""

    async def body(s: Service):
        sid = await s.create()
        await s.turn(sid, "my name is Ada")
        await s.settled(sid)
        before = (await s.store.load_stm(sid, 0)).stm.unsqueeze(0)
        after = (await s.store.load_stm(sid, 1)).stm.unsqueeze(0)
        [job] = s.jobs
        query, answer = job.query_ids, job.answer_ids
        other = "bf16" if precision == "fp32" else "fp32"
        assert after.dtype == torch.float32
        assert torch.equal(after, s.model.update_memory(before, query, answer, precision))
        assert not torch.equal(after, s.model.update_memory(before, query, answer, other))

    run(model_dir, db, body, write_precision=precision)


def test_memory_from_the_store_equals_the_cached_memory(model_dir, db):
    """A replica with a cold cache (a restart, or another replica) continues a session exactly
    like the replica that served it: the store, not the cache, is the truth."""

    async def body(s: Service):
        sid = await s.create()
        await s.turn(sid, "my name is Ada")
        await s.settled(sid)
        fork = await s.decoder.fork(sid, None)
        assert (fork.forked_from_session_id, fork.forked_from_version, fork.head_version) == (sid, 1, 0)
        warm, _ = await s.turn(sid)
        misses = s.decoder.cache.stats.misses
        cold, last = await s.turn(fork.session_id)  # never cached: loaded from the store
        assert s.decoder.cache.stats.misses == misses + 1
        assert cold == warm and last.from_version == 0

    run(model_dir, db, body)


def test_rollback_restores_an_earlier_memory(model_dir, db):
    async def body(s: Service):
        sid = await s.create()
        await s.turn(sid, "my name is Ada")
        from_v1, _ = await s.turn(sid)  # generated from version 1
        await s.turn(sid, "the quick brown fox")
        await s.settled(sid)
        info = await s.decoder.rollback(sid, 1)
        assert info.head_version == 4  # a new version holding version 1's memory
        again, last = await s.turn(sid)
        assert last.from_version == 4 and again == from_v1
        with pytest.raises(NotFoundError):
            await s.decoder.rollback(sid, 99)

    run(model_dir, db, body)


def test_second_concurrent_turn_on_a_session_is_refused(model_dir, db):
    async def body(s: Service):
        sid = await s.create()
        first = s.decoder.interact(TurnRequest(sid, "hello there", max_new_tokens=30))
        await first.__anext__()  # turn 1 is streaming
        with pytest.raises(SessionBusyError, match="in progress"):
            await s.turn(sid)
        with pytest.raises(SessionBusyError):
            await s.decoder.rollback(sid, 0)
        async for _ in first:
            pass
        _, last = await s.turn(sid)  # after it finished, the session serves again
        assert last.from_version == 1

    run(model_dir, db, body)


def test_both_decode_engines_answer_alike_and_the_process_runs_at_the_configured_niceness(
    model_dir, tmp_path
):
    async def answers(s: Service):
        sid = await s.create()
        return [(await s.turn(sid, query, temperature=0.0))[0] for query in ("my name is Ada", "who am I?")]

    async def niceness(s: Service):
        return os.getpriority(os.PRIO_PROCESS, s.decoder.loop.pid), await answers(s)

    ours = os.getpriority(os.PRIO_PROCESS, 0)
    child_niceness, by_process = run(model_dir, tmp_path / "a.db", niceness, decode_niceness=3)
    assert child_niceness == min(ours + 3, 19)
    assert by_process == run(model_dir, tmp_path / "b.db", answers, decode_engine="thread")


def test_cancelled_turn_is_not_written_to_memory(model_dir, db):
    async def body(s: Service):
        sid = await s.create()
        stream = s.decoder.interact(TurnRequest(sid, "hello there", max_new_tokens=400))
        await stream.__anext__()
        await stream.aclose()  # what a client disconnect does to the generator
        await asyncio.sleep(0.3)  # the cancel reaches the decode process
        steps = len(s.metrics.batches)
        await asyncio.sleep(0.3)
        assert len(s.metrics.batches) == steps < 100  # generation stopped, long before 400 tokens
        assert (await s.store.get_session(sid)).head_version == 0
        assert await s.store.list_interactions(sid) == []
        _, last = await s.turn(sid)
        assert last.from_version == 0  # the next turn reads the memory the cancelled one did

    run(model_dir, db, body)


def test_the_next_turn_waits_for_an_update_in_flight_and_reads_its_version(model_dir, db):
    """Turn 1's update is held back: turn 2 must not start generating until it lands, and then
    decodes from version 1, read once after the wait (a read before it could be stale)."""

    async def body(s: Service):
        sid = await s.create()
        land = asyncio.Event()
        apply = s.decoder._apply_update

        async def apply_when_told(job):
            await land.wait()
            return await apply(job)

        s.decoder._apply_update = apply_when_told
        await s.turn(sid, "my name is Ada")  # its update now waits for `land`
        reads = []
        read = s.store.get_session

        async def recorded_read(session_id):
            info = await read(session_id)
            reads.append(info.head_version)
            return info

        s.store.get_session = recorded_read
        second = asyncio.create_task(s.turn(sid))
        await asyncio.sleep(0.3)
        assert not second.done() and reads == []  # waiting for the update, nothing read yet
        land.set()
        _, last = await second
        assert last.from_version == 1 and reads == [1]
        assert last.memory_wait_s >= 0.25

    run(model_dir, db, body)


def test_logged_but_unapplied_turn_is_replayed_before_the_next(model_dir, db):
    """A turn logged by a replica that died before its memory update: the next turn applies it
    first (turn t+1 is generated from STM_t) and measures the wait."""

    async def body(s: Service):
        sid = await s.create()
        await s.store.append_interaction(sid, 0, "my name is Ada", "nice to meet you", 0)
        _, last = await s.turn(sid)
        assert last.from_version == 1 and last.memory_wait_s > 0
        log = await s.store.list_interactions(sid)
        assert log[0].applied_version == 1

    run(model_dir, db, body)


def test_sessions_share_decode_steps(model_dir, db):
    async def body(s: Service):
        sids = [await s.create() for _ in range(6)]
        results = await asyncio.gather(*(s.turn(sid, max_new_tokens=20) for sid in sids))
        assert all(last.done for _, last in results)
        assert max(s.metrics.batches) > 1

    run(model_dir, db, body)


def test_text_messages_thin_out_to_the_replicas_message_budget(model_dir, tmp_path):
    """With room in the budget every token is its own message; with a budget of one message a
    second, each streaming answer gets its share (two answers: one message each every 2 s), so
    an answer arrives as its first token at once and the rest with the last message — the same
    text either way."""

    async def answer(s: Service, sid: str) -> tuple[list[str], str]:
        events = [
            e
            async for e in s.decoder.interact(TurnRequest(sid, "hello", max_new_tokens=16, min_new_tokens=16))
        ]
        return [e.text for e in events if not e.done], "".join(e.text for e in events)

    async def body(s: Service):
        sids = [await s.create() for _ in range(3)]
        alone = await answer(s, sids[0])
        first, second = (
            s.decoder.interact(TurnRequest(sid, "hi", max_new_tokens=8, min_new_tokens=8)) for sid in sids[1:]
        )
        await first.__anext__(), await second.__anext__()
        interval_of_two = s.decoder.stream_interval()  # both answers are streaming now
        [_ async for _ in first], [_ async for _ in second]
        return alone, interval_of_two, s.decoder.stream_interval()

    (every, text), _, idle = run(
        model_dir, tmp_path / "a.db", body, stream_interval_s=0.0, stream_messages_per_s=1e9
    )
    (thinned, same_text), two, _ = run(
        model_dir, tmp_path / "b.db", body, stream_interval_s=0.0, stream_messages_per_s=1.0
    )
    assert len(every) >= 8 and "".join(every) in text  # one message per token (bar partial characters)
    assert len(thinned) == 1 and thinned[0] == every[0]  # the first token at once, the rest at the end
    assert same_text == text
    assert two == 2.0 and idle == 0.0


@pytest.mark.parametrize(
    ("fields", "error", "match"),
    [
        ({"query": "x " * 500}, InvalidArgument, "too long"),
        ({"temperature": -1.0}, InvalidArgument, "temperature"),
        ({"top_p": 1.5}, InvalidArgument, "top_p"),
        ({"max_new_tokens": 0}, InvalidArgument, "max_new_tokens"),
        ({"max_new_tokens": 10**6}, InvalidArgument, "at most"),
        ({"expected_version": 3}, FailedPrecondition, "expected"),
    ],
)
def test_bad_turns_get_typed_errors_and_the_session_keeps_working(model_dir, db, fields, error, match):
    async def body(s: Service):
        sid = await s.create()
        request = {"session_id": sid, "query": "hello", **fields}
        with pytest.raises(error, match=match):
            async for _ in s.decoder.interact(TurnRequest(**request)):
                pass
        _, last = await s.turn(sid)
        assert last.done

    run(model_dir, db, body)


def test_unknown_and_closed_sessions(model_dir, db):
    async def body(s: Service):
        with pytest.raises(NotFoundError):
            await s.turn("no-such-session")
        sid = await s.create()
        await s.store.close_session(sid)
        with pytest.raises(FailedPrecondition, match="closed"):
            await s.turn(sid)

    run(model_dir, db, body)


def test_session_is_free_as_soon_as_the_last_message_is_out(model_dir, db):
    """A client sends its next call the moment the last message arrives, possibly before the
    finished turn's generator has been resumed; that call must be accepted, and the old turn's
    late clean-up must not release the new call's claim."""

    async def body(s: Service):
        sid = await s.create()
        first = s.decoder.interact(TurnRequest(sid, "hello", max_new_tokens=5))
        while not (await first.__anext__()).done:
            pass
        second = s.decoder.interact(TurnRequest(sid, "hello again", max_new_tokens=30))
        assert (await second.__anext__()).text  # accepted, and it waited for turn 1's update
        await first.aclose()  # turn 1's generator finishes late
        with pytest.raises(SessionBusyError):
            await s.turn(sid)  # turn 2 still holds the session
        events = [e async for e in second]
        assert events[-1].from_version == 1

    run(model_dir, db, body)


BUNDLED = bundled_model_dir()
# Real names and made-up ones, in and out of the training pools. Greedy, in-process, session 5:
# the bundled model (stage 4f) recalls 6 of these 10 (Ada, Priya, Omar, Tralon, Oslo, Zhang), the
# stage-4e model before it 1 (Tralon): it rewrote Ada as "Aaaa" and recalled "Drada".
NAMES = ["Ada", "Marcus", "Priya", "Omar", "Tralon", "Oslo", "Sophie", "Kwame", "Ingrid", "Zhang"]


@pytest.mark.skipif(not (BUNDLED / "config.json").is_file(), reason="the bundled model is not built yet")
def test_memory_is_visible_in_later_answers_with_the_bundled_model(tmp_path):
    """Told a name in turn 1, the model recalls it in turn 2 — from memory alone (each turn
    sends only its query) — and does not produce it without having been told."""

    async def body(s: Service):
        recalled = guessed = 0
        for name in NAMES:
            sid = await s.create()
            await s.turn(sid, f"My name is {name}.", max_new_tokens=32)
            answer, _ = await s.turn(sid, "What is my name?", max_new_tokens=32)
            recalled += name in answer
            fresh, _ = await s.turn(await s.create(), "What is my name?", max_new_tokens=32)
            guessed += name in fresh
        return recalled, guessed

    recalled, guessed = run(BUNDLED, tmp_path / "rxt.db", body)
    assert recalled >= 4 and guessed == 0  # 6 of 10 measured: a margin for other CPUs' rounding


@pytest.mark.skipif(not (BUNDLED / "config.json").is_file(), reason="the bundled model is not built yet")
def test_min_new_tokens_makes_a_turn_answer_that_many_tokens(tmp_path):
    """The bundled model ends its answers itself, well before 30 tokens; a turn asking for
    min_new_tokens = max_new_tokens = 30 gets exactly 30 (what equal-work benchmarks rely on)."""

    async def body(s: Service):
        sid = await s.create()
        _, free = await s.turn(sid, "What is my name?", max_new_tokens=30)
        _, fixed = await s.turn(sid, "What is my name?", max_new_tokens=30, min_new_tokens=30)
        return free, fixed

    free, fixed = run(BUNDLED, tmp_path / "rxt.db", body)
    assert free.answer_tokens < 30 and free.finish is FinishReason.STOP
    assert fixed.answer_tokens == 30 and fixed.finish is FinishReason.LENGTH
