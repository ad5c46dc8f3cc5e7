"""Typed records of the resource sampler (schema version 1)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["METRICS_SCHEMA_VERSION", "Point", "Snapshot", "SourceStatus"]

METRICS_SCHEMA_VERSION = 1


class Point(BaseModel):
    """One measured value: ``name`` with its ``labels`` (``cpu``, ``pid``, ``gpu``...)."""

    model_config = ConfigDict(frozen=True)

    name: str
    value: float
    labels: dict[str, str] = Field(default_factory=dict)


class Snapshot(BaseModel):
    """Everything one tick of the sampler measured, from one source."""

    schema_version: Literal[1] = 1
    ts_ns: int
    source: str
    points: list[Point]


class SourceStatus(BaseModel):
    """Whether a source is measured; ``reason`` says why not (never a fake zero)."""

    source: str
    available: bool
    reason: str | None = None

    def describe(self) -> str:
        """``ok`` or ``unavailable: <reason>``."""
        return "ok" if self.available else f"unavailable: {self.reason}"
