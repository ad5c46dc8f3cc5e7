"""What every analyzer answers: the :class:`Assessment` and its parts.

A failure is an assessment with a failure status (risk UNKNOWN, decision REQUIRE_APPROVAL),
never an exception that loses the trial, and never silently mapped to a risk class.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from tcplab.descriptor import Decision, RiskLevel, decide

__all__ = [
    "Assessment",
    "CacheInfo",
    "ModelIdentity",
    "Status",
    "Timing",
    "ToolInput",
    "Usage",
    "failure",
]


class Status(enum.Enum):
    """Outcome class of one analysis."""

    OK = "OK"
    PARSE_FAILURE = "PARSE_FAILURE"
    ERROR = "ERROR"
    TIMEOUT = "TIMEOUT"
    REFUSED = "REFUSED"


@dataclass(frozen=True, slots=True)
class ToolInput:
    """The question every arm answers: one tool and the same documentation for all arms.

    Attributes:
        name: command name (``rm``, ``git``).
        sections: man-page sections (NAME, SYNOPSIS, DESCRIPTION, OPTIONS, ...).
        doc_text: the full rendered documentation ("" when there is none).
        path: the executable's path (may be "").
        doc_sha256: identifies the document (cache keys, provenance).
    """

    name: str
    sections: Mapping[str, str] = field(default_factory=dict)
    doc_text: str = ""
    path: str = ""
    doc_sha256: str | None = None

    @classmethod
    def bare(cls, name: str) -> ToolInput:
        """A tool known only by name (enough for the ``tcp`` arm)."""
        return cls(name=name)


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens and money spent on one answer (0 / None for local arms)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None


@dataclass(frozen=True, slots=True)
class Timing:
    """Where the time of one answer went, in nanoseconds (monotonic clock).

    ``total_ns`` = queue wait + backoff wait + service (time inside the attempts that counted).
    ``ttft_ns`` is the time to first token of the successful attempt (streaming arms only).
    ``server_ns`` is the latency the server itself reported for the successful attempt (remote
    arms whose server sends one, e.g. an ``X-Server-Latency-Ns`` header), else None.
    """

    queue_wait_ns: int = 0
    backoff_wait_ns: int = 0
    ttft_ns: int | None = None
    service_ns: int = 0
    total_ns: int = 0
    server_ns: int | None = None


@dataclass(frozen=True, slots=True)
class CacheInfo:
    """Whether the answer came from a cache, and how long it took originally."""

    hit: bool = False
    original_latency_ns: int | None = None


@dataclass(frozen=True, slots=True)
class ModelIdentity:
    """Which model (and which build of it) answered."""

    model_id: str | None = None
    version: str | None = None


@dataclass(frozen=True, slots=True)
class Assessment:
    """One arm's answer about one tool."""

    tool: str
    analyzer: str
    status: Status
    risk_level: RiskLevel
    capabilities: tuple[str, ...] = ()
    explanation: str = ""
    raw_output: str | None = None
    error: str | None = None
    attempts: int = 1
    usage: Usage = field(default_factory=Usage)
    timing: Timing = field(default_factory=Timing)
    cache: CacheInfo = field(default_factory=CacheInfo)
    model: ModelIdentity = field(default_factory=ModelIdentity)

    @property
    def decision(self) -> Decision:
        """The agent decision: the policy for OK answers, REQUIRE_APPROVAL for any failure."""
        if self.status is not Status.OK:
            return Decision.REQUIRE_APPROVAL
        return decide(self.risk_level)

    @property
    def latency_ns(self) -> int:
        """End-to-end latency of this answer (``timing.total_ns``)."""
        return self.timing.total_ns

    def with_timing(self, timing: Timing) -> Assessment:
        """A copy with ``timing`` replaced."""
        return replace(self, timing=timing)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the ``tcplab analyze --json`` object)."""
        return {
            "tool": self.tool,
            "analyzer": self.analyzer,
            "status": self.status.value,
            "risk_level": self.risk_level.name,
            "capabilities": list(self.capabilities),
            "decision": self.decision.value,
            "latency_ns": self.latency_ns,
            "explanation": self.explanation,
            "raw_output": self.raw_output,
            "error": self.error,
            "attempts": self.attempts,
            "usage": asdict(self.usage),
            "timing": asdict(self.timing),
            "cache": asdict(self.cache),
            "model": asdict(self.model),
        }


def failure(
    tool: str,
    analyzer: str,
    status: Status,
    error: str,
    *,
    raw_output: str | None = None,
    timing: Timing | None = None,
    attempts: int = 1,
    usage: Usage | None = None,
    model: ModelIdentity | None = None,
) -> Assessment:
    """A failed assessment: risk UNKNOWN, no capabilities, the error kept."""
    if status is Status.OK:
        raise ValueError("failure() needs a failure status")
    return Assessment(
        tool=tool,
        analyzer=analyzer,
        status=status,
        risk_level=RiskLevel.UNKNOWN,
        error=error,
        raw_output=raw_output,
        attempts=attempts,
        timing=timing or Timing(),
        usage=usage or Usage(),
        model=model or ModelIdentity(),
    )
