"""The agents a service offers, by name; the empty name selects the default one."""

from __future__ import annotations

from collections.abc import Iterable

from .spec import DEFAULT_AGENT, AgentSpec


class UnknownAgentError(LookupError):
    pass


class AgentRegistry:
    def __init__(self, agents: Iterable[AgentSpec] = (DEFAULT_AGENT,), default: str | None = None):
        self._agents: dict[str, AgentSpec] = {}
        for agent in agents:
            if agent.name in self._agents:
                raise ValueError(f"agent {agent.name!r} is defined twice")
            self._agents[agent.name] = agent
        if not self._agents:
            raise ValueError("a service needs at least one agent")
        self.default = default or next(iter(self._agents))
        if self.default not in self._agents:
            raise ValueError(f"default agent {self.default!r} is not defined")

    def get(self, name: str = "") -> AgentSpec:
        try:
            return self._agents[name or self.default]
        except KeyError:
            known = ", ".join(sorted(self._agents))
            raise UnknownAgentError(f"unknown agent {name!r}; this service offers: {known}") from None

    def __iter__(self):
        return iter(self._agents.values())
