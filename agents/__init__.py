"""Agent specs (model + default sampling + optional system setup) and the session life cycle."""

from .registry import AgentRegistry, UnknownAgentError
from .spec import DEFAULT_AGENT, AgentSpec, SetupTurn

__all__ = ["DEFAULT_AGENT", "AgentRegistry", "AgentSpec", "SetupTurn", "UnknownAgentError"]
