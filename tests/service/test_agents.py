"""Agents (model + default sampling + system setup) and the session life cycle (idle TTL)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import torch

from agents import AgentRegistry, AgentSpec, SetupTurn, UnknownAgentError
from agents.lifecycle import close_idle_sessions
from orchestration.memory_updater import MemoryUpdater
from orchestration.text import load_tokenizer
from rxt_core import ReactiveTransformer, SamplingParams
from storage import AsyncSessionStore

PRIMED = AgentSpec(
    name="primed",
    sampling=SamplingParams(max_new_tokens=8, temperature=0.7),
    setup=(SetupTurn(query="my name is Ada", answer="nice to meet you, Ada"),),
    idle_ttl_s=60,
)


def test_registry_resolves_names_and_the_default():
    agents = AgentRegistry([AgentSpec(name="default"), PRIMED])
    assert agents.get("").name == "default" and agents.get("primed") is PRIMED
    with pytest.raises(UnknownAgentError, match="primed"):
        agents.get("nobody")
    with pytest.raises(ValueError, match="twice"):
        AgentRegistry([PRIMED, PRIMED])
    with pytest.raises(ValueError, match="must match"):
        AgentSpec(name="no spaces")


def test_setup_turns_are_written_into_the_initial_memory(model_dir, tmp_path):
    model = ReactiveTransformer.from_pretrained(model_dir)

    async def main():
        store = await AsyncSessionStore.open(f"sqlite:///{tmp_path / 'rxt.db'}")
        updater = MemoryUpdater(
            model, load_tokenizer(model_dir), store, AgentRegistry([AgentSpec(name="default"), PRIMED])
        )
        plain = await updater.initial_memory("default")
        primed = await updater.initial_memory("primed")
        again = await updater.initial_memory("primed")
        await store.aclose()
        return plain, primed, again

    plain, primed, again = asyncio.run(main())
    assert plain.fingerprint == primed.fingerprint == model.fingerprint()
    assert torch.equal(plain.stm, model.init_memory(1)[0])
    assert not torch.allclose(primed.stm, plain.stm)  # the setup interaction is in memory
    assert again.stm is primed.stm  # computed once per agent


def test_idle_sessions_close_after_their_agents_ttl(tmp_path):
    agents = AgentRegistry([AgentSpec(name="default"), PRIMED])
    stm = torch.zeros(2, 4, 8)

    async def main():
        store = await AsyncSessionStore.open(f"sqlite:///{tmp_path / 'rxt.db'}")
        plain = await store.create_session(stm, fingerprint="f", agent="default")
        primed = await store.create_session(stm, fingerprint="f", agent="primed")
        now = datetime.now(UTC)
        soon = await close_idle_sessions(store, agents, None, now=now + timedelta(seconds=30))
        later = await close_idle_sessions(store, agents, None, now=now + timedelta(seconds=61))
        with_default = await close_idle_sessions(store, agents, 3600, now=now + timedelta(hours=2))
        states = [(await store.get_session(s.session_id)).closed for s in (plain, primed)]
        await store.aclose()
        return soon, later, with_default, states, primed.session_id, plain.session_id

    soon, later, with_default, states, primed_id, plain_id = asyncio.run(main())
    assert soon == []  # not idle long enough
    assert later == [primed_id]  # only the agent with a TTL; the default has none
    assert with_default == [plain_id]  # a service default applies to agents without their own
    assert states == [True, True]
