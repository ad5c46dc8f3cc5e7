"""The experiment spec: a YAML file validated by pydantic, refused before any work.

Every problem is reported at once with its YAML path, e.g.
``arms[2].analyzer: unknown 'gtp4'; known: embedding, llm, rules, tcp``.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tcplab.errors import UsageError

__all__ = [
    "SPEC_VERSION",
    "ArmSpec",
    "ExecutorSpec",
    "ExperimentSpec",
    "Limits",
    "SpecError",
    "ToolSelection",
    "load_spec",
    "parse_duration",
]

SPEC_VERSION = 1
MAX_TRIALS_HARD = 100_000_000  # refuse absurd plans outright (10^8 trials)


class SpecError(UsageError):
    """A spec was refused; ``problems`` lists every problem with its YAML path."""

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


def parse_duration(value: str | int | float | None) -> float | None:
    """``90``, ``"90s"``, ``"15m"``, ``"2h"`` → seconds (None stays None)."""
    if value is None or isinstance(value, int | float):
        return None if value is None else float(value)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*", value)
    if not m:
        raise ValueError(f"duration {value!r}: use seconds or a number with s, m or h")
    return float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ToolSelection(_Model):
    """Which tools: ``all`` (corpus), ``labeled``, ``list``, ``sample`` (stratified), ``split``."""

    kind: Literal["all", "labeled", "list", "sample", "split"] = "labeled"
    names: list[str] = Field(default_factory=list)
    n: int | None = Field(default=None, ge=1)
    split: Literal["dev", "test", "all"] = "all"


class ArmSpec(_Model):
    """One arm: an analyzer, its parameters, a unique name and a timing mode."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    analyzer: str
    params: dict[str, Any] = Field(default_factory=dict)
    timing: Literal["auto", "micro", "macro"] = "auto"


class ExecutorSpec(_Model):
    """Where trials run: ``inline`` (this process), ``local`` (worker processes) or ``ray``."""

    kind: Literal["inline", "local", "ray"] = "local"
    workers: int = Field(default=2, ge=1, le=1024)
    address: str | None = None
    max_retries: int = Field(default=2, ge=0, le=10)


class Limits(_Model):
    """Refuse or stop a run that would exceed these."""

    max_trials: int = Field(default=2_000_000, ge=1)
    max_cost_usd: float | None = Field(default=None, ge=0)
    max_duration: float | None = None

    @field_validator("max_duration", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float | None:
        return parse_duration(value)


class ExperimentSpec(_Model):
    """A whole experiment (``spec_version`` 1)."""

    spec_version: Literal[1]
    name: str = Field(min_length=1)
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    corpus: str | None = None
    labels: str | None = None
    split: Literal["dev", "test", "all"] | None = None
    tools: ToolSelection = Field(default_factory=ToolSelection)
    arms: list[ArmSpec] = Field(min_length=1)
    iterations: int = Field(default=1, ge=1)
    warmup: int = Field(default=1, ge=0, le=1000)
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    order: Literal["interleaved", "sequential"] = "interleaved"
    executor: ExecutorSpec = Field(default_factory=ExecutorSpec)
    shard_size: int = Field(default=500, ge=1, le=1_000_000)
    limits: Limits = Field(default_factory=Limits)
    micro_min_batch_ns: int = Field(default=1_000_000, ge=1000)

    def canonical_json(self) -> str:
        """The resolved spec as canonical JSON (sorted keys, no whitespace).

        ``split`` appears only when set, so specs written before it keep their hash.
        """
        data = self.model_dump(mode="json", exclude={"split"} if self.split is None else None)
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    def label_split(self) -> Literal["dev", "test"] | None:
        """The labels' split the inputs come from: ``split`` (else ``tools.split``); None: all.

        For an invocation labels file it is the invocation split (by tool group,
        :func:`tcplab.labels.invocation_split_of`), for a tool labels file the tools' split.
        """
        split = self.split or self.tools.split
        return None if split == "all" else split

    def spec_hash(self) -> str:
        """SHA-256 of :meth:`canonical_json`."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def validate_spec(raw: Any, known_analyzers: list[str]) -> ExperimentSpec:
    """Validate a parsed spec; raise :class:`SpecError` listing every problem."""
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise SpecError("the spec must be a YAML mapping", ["(top level): not a mapping"])
    spec: ExperimentSpec | None = None
    try:
        spec = ExperimentSpec.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            problems.append(f"{_loc(err['loc'])}: {err['msg']}")
    arms_raw = raw.get("arms")
    arms: list[Any] = arms_raw if isinstance(arms_raw, list) else []
    names: list[str] = []
    for i, arm in enumerate(arms):
        if not isinstance(arm, dict):
            continue
        analyzer = arm.get("analyzer")
        if isinstance(analyzer, str) and analyzer not in known_analyzers and analyzer != "fake":
            problems.append(
                f"arms[{i}].analyzer: unknown {analyzer!r}; known: {', '.join(known_analyzers)}"
            )
        if isinstance(arm.get("name"), str):
            if arm["name"] in names:
                problems.append(f"arms[{i}].name: duplicate arm name {arm['name']!r}")
            names.append(arm["name"])
    if problems:
        raise SpecError(f"the spec has {len(problems)} problem(s); nothing was run", problems)
    assert spec is not None
    tools = spec.tools
    if tools.kind == "list" and not tools.names:
        raise SpecError("bad tool selection", ["tools.names: a 'list' selection needs names"])
    if tools.kind == "sample" and tools.n is None:
        raise SpecError("bad tool selection", ["tools.n: a 'sample' selection needs n"])
    if spec.split is not None and tools.split not in ("all", spec.split):
        raise SpecError(
            "two splits",
            [f"split: {spec.split!r} but tools.split is {tools.split!r}; give one of them"],
        )
    if spec.split not in (None, "all") and tools.kind not in ("labeled", "split"):
        raise SpecError(
            "a split needs labelled inputs",
            [f"split: {spec.split!r} selects labels, but tools.kind is {tools.kind!r}"],
        )
    return spec


#: the largest spec file read (a spec is a small YAML document; this bounds memory)
MAX_SPEC_BYTES = 1024 * 1024


def load_spec(path: str | Path, known_analyzers: list[str]) -> ExperimentSpec:
    """Read and validate a spec file.

    Raises:
        SpecError: unreadable file, bad YAML, or any schema problem (all listed).
    """
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = fh.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise SpecError(f"cannot read spec {p}", [f"{p}: {exc.strerror or exc}"]) from exc
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(
            f"spec {p} is larger than {MAX_SPEC_BYTES // 1024} KiB",
            [f"{p}: not an experiment spec (specs are small YAML files)"],
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"spec {p} is not UTF-8 text", [f"{p}: byte {exc.start}"]) from exc
    if "\x00" in text:
        raise SpecError(f"spec {p} is a binary file", [f"{p}: contains NUL bytes"])
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{p} is not valid YAML", [str(exc)]) from exc
    return validate_spec(raw, known_analyzers)
