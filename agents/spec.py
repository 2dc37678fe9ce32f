"""Agent specs: what a session is opened *as*.

An agent is a name for a model plus how to talk with it: default sampling and an optional system
setup — interactions written into the initial memory (STM version 0) of every session of that
agent, so a session starts primed without re-reading a system prompt each turn (RxT has no
prompt history to put one in).
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rxt_core.sampling import SamplingParams

AGENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class SetupTurn(BaseModel):
    """One interaction written into an agent's initial memory."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    query: str = Field(min_length=1)
    answer: str = ""


class AgentSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str = ""
    model: str | None = None
    """Model folder; None means the service's model. One decoder deployment serves one model, so
    the service refuses to start if an agent names another."""
    sampling: SamplingParams = SamplingParams()
    setup: tuple[SetupTurn, ...] = ()
    idle_ttl_s: float | None = Field(None, gt=0)
    """Close this agent's sessions after this long without a turn (None: the service default).
    A closed session can still be read, listed and forked, not continued."""

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not AGENT_NAME.match(name):
            raise ValueError(f"agent name {name!r} must match {AGENT_NAME.pattern}")
        return name


DEFAULT_AGENT = AgentSpec(name="default", description="The model with greedy decoding and no setup.")
