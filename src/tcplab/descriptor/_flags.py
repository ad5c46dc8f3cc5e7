"""Risk levels, capability flags, agent decisions and validation reason codes of TCP v2.

The bit numbers are part of the frozen wire format (see ``docs/format.md``); never renumber.
"""

from __future__ import annotations

import enum

__all__ = [
    "CAPABILITY_MASK",
    "RISK_MASK",
    "VENDOR_MASK",
    "Capability",
    "Decision",
    "Reason",
    "RiskLevel",
    "decide",
]


class RiskLevel(enum.IntEnum):
    """Risk level of a tool, ordered from least to most dangerous.

    ``UNKNOWN`` (no risk bit set, or no descriptor at all) sorts below SAFE numerically but is
    never treated as safe: the policy maps it to ``REQUIRE_APPROVAL`` (fail closed).
    """

    UNKNOWN = -1
    SAFE = 0
    LOW_RISK = 1
    MEDIUM_RISK = 2
    HIGH_RISK = 3
    CRITICAL = 4

    @property
    def bit(self) -> int:
        """The flag bit of this level (``SAFE`` is bit 0 ... ``CRITICAL`` bit 4)."""
        if self is RiskLevel.UNKNOWN:
            raise ValueError("UNKNOWN has no flag bit: it is the absence of every risk bit")
        return 1 << int(self)

    @classmethod
    def parse(cls, text: str) -> RiskLevel:
        """Parse a level name case-insensitively (``high_risk``, ``HIGH-RISK``, ``HIGH_RISK``).

        Raises:
            ValueError: the name is not a risk level; the message lists the valid ones.
        """
        key = text.strip().upper().replace("-", "_")
        try:
            return cls[key]
        except KeyError:
            known = ", ".join(m.name for m in cls)
            raise ValueError(f"unknown risk level {text!r}; known: {known}") from None


class Capability(enum.IntFlag):
    """Capability flags (bits 6-11 of the security flags)."""

    REQUIRES_ROOT = 1 << 6
    DESTRUCTIVE = 1 << 7
    NETWORK_ACCESS = 1 << 8
    FILE_MODIFICATION = 1 << 9
    SYSTEM_MODIFICATION = 1 << 10
    PRIVILEGE_ESCALATION = 1 << 11

    @classmethod
    def parse(cls, text: str) -> Capability:
        """Parse one capability name case-insensitively.

        Raises:
            ValueError: the name is unknown; the message lists the valid ones.
        """
        key = text.strip().upper().replace("-", "_")
        try:
            return cls[key]
        except KeyError:
            known = ", ".join(str(m.name) for m in cls)
            raise ValueError(f"unknown capability {text!r}; known: {known}") from None

    @classmethod
    def names(cls, flags: int) -> list[str]:
        """Names of the capability bits set in ``flags``, in bit order."""
        return [str(m.name) for m in cls if flags & m.value]


RISK_MASK = 0x1F
CAPABILITY_MASK = sum(int(c.value) for c in Capability)
VENDOR_MASK = 0xFFFF0000


class Decision(enum.Enum):
    """What an agent does with a tool of a given risk level."""

    APPROVE = "APPROVE"
    CAUTION = "CAUTION"
    REQUIRE_APPROVAL = "REQUIRE_APPROVAL"
    REJECT = "REJECT"


_POLICY: dict[RiskLevel, Decision] = {
    RiskLevel.SAFE: Decision.APPROVE,
    RiskLevel.LOW_RISK: Decision.APPROVE,
    RiskLevel.MEDIUM_RISK: Decision.CAUTION,
    RiskLevel.HIGH_RISK: Decision.REQUIRE_APPROVAL,
    RiskLevel.CRITICAL: Decision.REJECT,
    RiskLevel.UNKNOWN: Decision.REQUIRE_APPROVAL,
}


def decide(level: RiskLevel) -> Decision:
    """The agent decision policy: CRITICAL→REJECT, HIGH→REQUIRE_APPROVAL, MEDIUM→CAUTION,
    LOW/SAFE→APPROVE, UNKNOWN→REQUIRE_APPROVAL."""
    return _POLICY[level]


class Reason(enum.IntEnum):
    """Why bytes failed structural validation; the integer is the batch-path code."""

    OK = 0
    LENGTH = 1
    MAGIC = 2
    VERSION = 3
    CHECKSUM = 4
    HEX = 5
