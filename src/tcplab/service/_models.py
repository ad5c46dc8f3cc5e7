"""Typed records of the service: jobs, progress, resources, constraints, tokens, API bodies.

Everything stored or sent is a pydantic model with a schema version
(:data:`JOB_SCHEMA_VERSION`, :data:`TOKEN_SCHEMA_VERSION`, :data:`API_SCHEMA_VERSION`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "API_SCHEMA_VERSION",
    "JOB_SCHEMA_VERSION",
    "JOB_STATES",
    "PRIORITY_CLASSES",
    "ROLES",
    "TERMINAL_STATES",
    "TOKEN_SCHEMA_VERSION",
    "ArmProgress",
    "Constraints",
    "ErrorBody",
    "ErrorDetail",
    "Health",
    "JobList",
    "JobListItem",
    "JobProgress",
    "JobRecord",
    "JobView",
    "PriorityClass",
    "ResourceRequest",
    "Role",
    "RunList",
    "RunRef",
    "RunSummary",
    "SubmitRequest",
    "TokenCreated",
    "TokenRecord",
    "WhoAmI",
    "priority_class",
]

JOB_SCHEMA_VERSION: Literal[1] = 1
TOKEN_SCHEMA_VERSION: Literal[1] = 1
API_SCHEMA_VERSION: Literal[1] = 1

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
JOB_STATES: tuple[str, ...] = ("queued", "running", "succeeded", "failed", "cancelled")
TERMINAL_STATES = frozenset({"succeeded", "failed", "cancelled"})
PriorityClass = Literal["critical", "high", "normal", "low"]
PRIORITY_CLASSES: tuple[str, ...] = ("critical", "high", "normal", "low")
Role = Literal["viewer", "submitter", "admin"]
ROLES: tuple[str, ...] = ("viewer", "submitter", "admin")


def priority_class(priority: int) -> PriorityClass:
    """0–10 → ``critical`` (9–10), ``high`` (7–8), ``normal`` (4–6), ``low`` (0–3)."""
    if priority >= 9:
        return "critical"
    if priority >= 7:
        return "high"
    return "normal" if priority >= 4 else "low"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Constraints(_Model):
    """Where a job may run. ``hardware`` and ``region`` select the queue (only workers that
    offer them claim the job); ``low_latency`` is passed to the backend."""

    hardware: Literal["gpu", "fpga"] | None = None
    low_latency: bool = False
    region: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")


class ResourceRequest(_Model):
    """What a job is expected to need (formula in docs/service.md, ``formula_version`` 1)."""

    formula_version: Literal[1] = 1
    processes: int = Field(ge=1)
    cpu: float = Field(gt=0)
    memory_mib: int = Field(ge=1)
    gpu: int = Field(default=0, ge=0)
    fpga: int = Field(default=0, ge=0)


class ArmProgress(_Model):
    """Trials of one arm: done (written in finished shards), total planned, failed trials."""

    done: int = Field(ge=0)
    total: int = Field(ge=0)
    failures: int = Field(default=0, ge=0)


class JobProgress(_Model):
    """Progress of a job's run, written by the worker after every shard."""

    schema_version: Literal[1] = 1
    arms: dict[str, ArmProgress]
    shards_done: int = Field(ge=0)
    shards_total: int = Field(ge=0)
    trials_done: int = Field(ge=0)
    trials_total: int = Field(ge=0)
    updated_at: datetime


class JobListItem(_Model):
    """A job in a list (``GET /jobs``): everything the API shows of it but its ``spec``
    (``GET /jobs/{id}`` has the spec)."""

    schema_version: Literal[1] = JOB_SCHEMA_VERSION
    id: str
    client_key: str | None = None
    name: str
    spec_hash: str
    priority: int = Field(ge=0, le=10)
    priority_class: PriorityClass
    resources: ResourceRequest
    constraints: Constraints
    backend: str
    queue: str
    submitted_by: str
    state: JobState
    reason: str | None = None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    attempts: int = Field(ge=0)
    max_attempts: int = Field(ge=1)
    worker: str | None = None
    cancel_requested_at: datetime | None = None
    cancel_requested_by: str | None = None
    run_id: str | None = None
    run_status: str | None = None
    n_tools: int = Field(ge=0)
    n_trials: int = Field(ge=0)
    arms: list[str]
    progress: JobProgress | None = None


class JobView(JobListItem):
    """A job as the API shows it: the list item and its resolved ``spec``."""

    spec: dict[str, Any]


class JobRecord(JobView):
    """A row of the ``jobs`` table: the view plus what only the service uses."""

    queue_job_id: int | None = None
    execution_id: str | None = None
    run_dir: str | None = None

    def view(self) -> JobView:
        """The public part."""
        # the record is already validated and JobView's fields are a subset of its own
        return JobView.model_construct(**{k: getattr(self, k) for k in JobView.model_fields})


class JobList(_Model):
    """One page of jobs, newest first (without their specs). ``total`` counts every job that
    matches the filters; ``next_cursor`` (None on the last page) is the ``cursor`` of the next
    page (keyset paging: a page never shifts when jobs are added meanwhile). Version 2: the
    items lost their ``spec`` (version 1 carried it, 2 KB a job)."""

    schema_version: Literal[2] = 2
    jobs: list[JobListItem]
    total: int = Field(ge=0)
    limit: int
    offset: int
    next_cursor: str | None = None


class SubmitRequest(_Model):
    """``POST /api/v1/jobs``: a spec as a JSON object (``spec``) or YAML text (``spec_yaml``)."""

    spec: dict[str, Any] | None = None
    spec_yaml: str | None = None
    priority: int = Field(default=5, ge=0, le=10)
    constraints: Constraints = Field(default_factory=Constraints)
    backend: str = Field(default="local", pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    client_key: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one_spec(self) -> SubmitRequest:
        if (self.spec is None) == (self.spec_yaml is None):
            raise ValueError("give exactly one of spec (JSON object) and spec_yaml (YAML text)")
        return self


class TokenRecord(_Model):
    """An API token's stored facts (the token itself is kept only as a SHA-256 hash)."""

    schema_version: Literal[1] = TOKEN_SCHEMA_VERSION
    id: str
    username: str
    role: Role
    name: str
    prefix: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


class TokenCreated(TokenRecord):
    """A new token: ``token`` is shown this once and never stored."""

    token: str


class WhoAmI(_Model):
    """The caller, as its token says."""

    username: str
    role: Role
    token_id: str


class RunSummary(_Model):
    """A run produced by a job: its record's counts and, once it has trials, the per-arm
    table (:func:`tcplab.report.arm_table`)."""

    schema_version: Literal[1] = API_SCHEMA_VERSION
    run_id: str
    job_id: str
    name: str
    status: str
    n_trials: int
    n_shards: int
    shards_done: int
    trials_by_arm: dict[str, int]
    started_at: str | None = None
    finished_at: str | None = None
    stop_reason: str | None = None
    error: str | None = None
    warnings: list[str] = Field(default_factory=list)
    arms: list[dict[str, Any]] | None = None


class RunRef(_Model):
    """A run in a list: which job produced it and where both stand."""

    run_id: str
    job_id: str
    name: str
    submitted_by: str
    job_state: JobState
    run_status: str | None = None
    created_at: datetime


class RunList(_Model):
    """Runs produced by the jobs the caller may see, newest job first."""

    schema_version: Literal[1] = API_SCHEMA_VERSION
    runs: list[RunRef]
    limit: int
    offset: int


class Health(_Model):
    """Liveness / readiness."""

    status: Literal["ok", "ready", "not ready"]
    problems: list[str] = Field(default_factory=list)


class ErrorDetail(_Model):
    """What went wrong: a type, one line, and every problem (e.g. spec paths)."""

    type: str
    message: str
    problems: list[str] = Field(default_factory=list)


class ErrorBody(_Model):
    """Every error response of the API."""

    error: ErrorDetail
