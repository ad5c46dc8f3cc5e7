"""The rules file: pydantic models for a versioned, readable rule set (YAML)."""

from __future__ import annotations

import hashlib
import re
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tcplab.descriptor import Capability, RiskLevel
from tcplab.errors import ConfigError

__all__ = ["DEFAULT_RULES", "SHIPPED_RULES", "CapabilityRule", "LevelRule", "RuleSet", "load_rules"]

DEFAULT_RULES = "rules_v3.yaml"
SHIPPED_RULES = ("rules_v1.yaml", "rules_v2.yaml", "rules_v3.yaml")

SectionName = Literal["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "PATH", "COMMAND"]


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    match: str = Field(description="Python regular expression, matched case-insensitively.")
    sections: list[SectionName] = Field(default_factory=lambda: list[SectionName](["NAME"]))
    unless: str | None = Field(default=None, description="Regex that vetoes the rule.")
    examples: list[str] = Field(
        default_factory=list, description="Tools this rule is written for (each has a test)."
    )
    note: str = ""

    @field_validator("match", "unless")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {value!r}: {exc}") from exc
        return value

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        """The compiled ``match``."""
        return re.compile(self.match, re.IGNORECASE)

    @cached_property
    def veto(self) -> re.Pattern[str] | None:
        """The compiled ``unless``."""
        return re.compile(self.unless, re.IGNORECASE) if self.unless else None


class LevelRule(_Rule):
    """Sets the risk level. Level rules are tried in file order; the first that fires wins."""

    level: str
    capabilities: list[str] = Field(default_factory=list)

    @field_validator("level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value not in RiskLevel.__members__ or value == "UNKNOWN":
            raise ValueError(f"unknown level {value!r}")
        return value

    @field_validator("capabilities")
    @classmethod
    def _caps(cls, value: list[str]) -> list[str]:
        for cap in value:
            if cap not in Capability.__members__:
                raise ValueError(f"unknown capability {cap!r}")
        return value


class CapabilityRule(_Rule):
    """Adds capabilities. Every capability rule that fires contributes."""

    capabilities: list[str]

    _caps = field_validator("capabilities")(LevelRule._caps.__func__)  # type: ignore[attr-defined]


class RuleSet(BaseModel):
    """A versioned rule set. ``sha256`` identifies the exact file used."""

    model_config = ConfigDict(extra="forbid")

    version: str
    description: str = ""
    default_level: str = "LOW_RISK"
    level_rules: list[LevelRule]
    capability_rules: list[CapabilityRule] = Field(default_factory=list)
    sha256: str = ""

    @field_validator("default_level")
    @classmethod
    def _default(cls, value: str) -> str:
        # UNKNOWN is allowed (and, from v3 on, the default): a documented tool that no level
        # rule understands is not judged, so the decision is REQUIRE_APPROVAL, never APPROVE.
        return value if value == "UNKNOWN" else LevelRule._level(value)


def load_rules(path: str | Path | None = None) -> RuleSet:
    """Load a rules file (default: the shipped ``rules_v3.yaml``; v1 and v2 are kept).

    A file may ``extends: rules_vN.yaml`` (a shipped set) and override top-level keys; its
    ``sha256`` then covers its own bytes and the base's hash.

    Raises:
        ConfigError: the file is missing, not YAML, or breaks the schema (all problems listed).
    """
    if path is None:
        data = resources.files("tcplab.rules").joinpath(DEFAULT_RULES).read_bytes()
        where = f"{DEFAULT_RULES} (shipped)"
    elif str(path) in SHIPPED_RULES:
        data = resources.files("tcplab.rules").joinpath(str(path)).read_bytes()
        where = f"{path} (shipped)"
    else:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read rules file {path}: {exc.strerror or exc}") from exc
        where = str(path)
    try:
        raw = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())  # PyYAML's messages span lines; one line here
        raise ConfigError(f"{where}: not valid YAML: {detail}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping at the top level")
    digest = hashlib.sha256(data)
    base_name = raw.pop("extends", None)
    if base_name is not None:
        if base_name not in SHIPPED_RULES:
            raise ConfigError(
                f"{where}: extends {base_name!r}: only shipped rule sets can be extended"
            )
        base = load_rules(base_name)
        digest.update(base.sha256.encode())
        merged = base.model_dump(exclude={"sha256"})
        merged.update(raw)
        raw = merged
    raw["sha256"] = digest.hexdigest()
    try:
        rules = RuleSet.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{where}: {problems}") from exc
    ids = [r.id for r in [*rules.level_rules, *rules.capability_rules]]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ConfigError(f"{where}: duplicate rule ids: {', '.join(dupes)}")
    return rules
