"""The result of a check: decision, level, capabilities and the reasons, as pydantic models."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from tcplab.check._engine import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "CheckReason", "CheckResult"]


class CheckReason(BaseModel):
    """One part of the line and what raised (or set) its level.

    ``source``: ``registry`` (a tool's descriptor), ``knowledge`` (a rule of the invocation
    knowledge file, named in ``rule``), ``wrapper``, ``redirect``, ``pipeline`` or ``parser``.
    """

    model_config = ConfigDict(frozen=True)

    segment: str
    source: str
    rule: str
    risk_level: str
    decision: str
    capabilities: list[str]
    detail: str


class CheckResult(BaseModel):
    """The decision for a whole command line: the most severe of its parts."""

    model_config = ConfigDict(frozen=True)

    schema_version: int = SCHEMA_VERSION
    command: str
    decision: str
    risk_level: str
    capabilities: list[str]
    reasons: list[CheckReason]
    knowledge_version: int
    registry: str | None
