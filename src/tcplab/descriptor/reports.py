"""The ``descriptor decode --json`` object: every field, valid or not (stdlib only)."""

from __future__ import annotations

from tcplab.descriptor._codec import lint, parse_hex, unpack, validate
from tcplab.descriptor._flags import Decision, RiskLevel
from tcplab.errors import DecodeError

TYPE_CHECKING = False  # not `typing`: the per-decision CLI commands import this module
if TYPE_CHECKING:
    from typing import Any

__all__ = ["decode_report"]

_NULL_FIELDS = (
    "version",
    "command_hash",
    "exec_time_ms",
    "memory_mb",
    "output_kb",
    "command_length",
    "checksum",
    "flags",
    "vendor_bits",
    "raw_risk_level",
)


def decode_report(text: str) -> dict[str, Any]:
    """The ``decode --json`` object for a hex string (valid or not; never raises).

    Invalid descriptors report ``risk_level`` UNKNOWN and decision REQUIRE_APPROVAL (an agent
    must not trust their bits); ``raw_risk_level`` shows what the bits would have said.
    """
    try:
        raw = parse_hex(text)
    except DecodeError as exc:
        return {
            "valid": False,
            "errors": list(exc.reasons),
            **dict.fromkeys(_NULL_FIELDS),
            "risk_level": RiskLevel.UNKNOWN.name,
            "capabilities": [],
            "decision": Decision.REQUIRE_APPROVAL.value,
            "warnings": [],
        }
    desc = unpack(raw)
    report = desc.to_json_dict()
    reasons = [r.name for r in validate(raw)]
    report["warnings"] = lint(desc)
    report["raw_risk_level"] = desc.risk_level.name
    if reasons:
        report.update(
            valid=False,
            errors=reasons,
            risk_level=RiskLevel.UNKNOWN.name,
            decision=Decision.REQUIRE_APPROVAL.value,
            warnings=[],
        )
    return report
