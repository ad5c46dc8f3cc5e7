"""The typed run record: what ``RUN_DIR/run.json`` holds (schema version 2).

Every reader of ``run.json`` goes through :class:`RunRecord` (via
:class:`tcplab.experiment.RunDir`); an unknown schema version is a clear error. Version-1
documents (written before the record was typed) are read and upgraded in memory.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "RUN_SCHEMA_VERSION",
    "RUN_STATUSES",
    "Attempt",
    "RunOwner",
    "RunRecord",
    "RunStatus",
    "ShardInfo",
    "now_iso",
]

RUN_SCHEMA_VERSION = 2

RunStatus = Literal["created", "running", "completed", "cancelled", "stopped", "failed"]
RUN_STATUSES: tuple[str, ...] = (
    "created",
    "running",
    "completed",
    "cancelled",
    "stopped",
    "failed",
)


def now_iso() -> str:
    """The current UTC time, ISO 8601."""
    return datetime.now(UTC).isoformat()


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class ShardInfo(_Model):
    """A finished shard as the driver wrote it: rows and a SHA-256 of the file."""

    rows: int
    sha256: str
    bytes: int
    written_at: str
    #: the worker's CPU seconds, wall seconds and RSS over the shard (``ShardResult.resources``)
    resources: dict[str, float] | None = None


class Attempt(_Model):
    """One execution (first run or a resume) of the run."""

    started_at: str
    executor: str
    workers: int
    pending_shards: int
    pid: int | None = None
    host: str | None = None
    finished_at: str | None = None
    status: str | None = None
    shards_run: int = 0
    error: str | None = None


class RunOwner(_Model):
    """The process executing the run now (cleared when it finishes)."""

    pid: int
    host: str
    started_at: str


class RunRecord(_Model):
    """``run.json``. Field names are stable: the SQL store keeps the whole document."""

    schema_version: Literal[2] = 2
    run_id: str
    name: str
    type: str = "experiment"
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    spec: dict[str, Any]
    spec_hash: str
    plan_hash: str
    seed: int
    corpus: str | None = None
    labels: str | None = None
    #: content fingerprints of everything the trials depend on (``spec``, ``corpus``,
    #: ``labels``, ``arm:NAME`` for each arm's analyzer identity: registry, rules, model...)
    inputs: dict[str, str] = Field(default_factory=dict)
    status: RunStatus = "created"
    error: str | None = None
    stop_reason: str | None = None
    created_by: str = ""
    started_at: str = Field(default_factory=now_iso)
    finished_at: str | None = None
    n_trials: int
    n_shards: int
    n_tools: int
    trials_by_arm: dict[str, int]
    environment: dict[str, Any] = Field(default_factory=dict)
    clock: dict[str, Any] = Field(default_factory=dict)
    arms: list[dict[str, Any]] = Field(default_factory=list)
    attempts: list[Attempt] = Field(default_factory=list)
    cost_usd: float = 0.0
    shards: dict[str, ShardInfo] = Field(default_factory=dict)
    store_errors: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    owner: RunOwner | None = None
    #: the resource sampler's summary (``tcplab.monitor``): interval, sources, usage
    resources: dict[str, Any] = Field(default_factory=dict)
    #: where the run was measured from, as configured (``TCPLAB_REGION``/``TCPLAB_PROVIDER``;
    #: None when not given, never guessed) and the TCP/TLS round trips to each LLM endpoint
    #: probed before timing started (optional: older run.json documents lack them)
    region: str | None = None
    provider: str | None = None
    network_rtt: list[dict[str, Any]] = Field(default_factory=list)

    def to_json_dict(self) -> dict[str, Any]:
        """The document as plain JSON types (what ``run.json`` and the store hold)."""
        return self.model_dump(mode="json")

    def add_warning(self, text: str) -> None:
        """Record a warning once (the report shows them)."""
        if text not in self.warnings:
            self.warnings.append(text)


def upgrade_document(doc: dict[str, Any]) -> dict[str, Any]:
    """A version-1 ``run.json`` document as version 2 (missing fields get their defaults)."""
    out = dict(doc)
    if out.get("schema_version") == 1:
        out["schema_version"] = RUN_SCHEMA_VERSION
        out.setdefault("inputs", {"spec": str(out.get("spec_hash", ""))})
    return out
