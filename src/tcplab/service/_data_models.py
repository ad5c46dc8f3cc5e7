"""Wire records of the data routes: job log lines, trial pages, the check request."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "LOG_LIMIT_MAX",
    "TRIAL_LIMIT_MAX",
    "CheckRequest",
    "JobLogLine",
    "JobLogPage",
    "TrialPage",
]

#: the most log lines one ``GET /jobs/{id}/logs`` returns
LOG_LIMIT_MAX = 5000
#: the most trials one ``GET /runs/{id}/trials`` page returns
TRIAL_LIMIT_MAX = 1000


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JobLogLine(_Model):
    """One line a worker logged while running the job."""

    seq: int = Field(description="Increasing over the whole table: the paging cursor.")
    ts: datetime
    level: str
    logger: str
    worker: str
    execution_id: str
    message: str


class JobLogPage(_Model):
    """Log lines of a job after ``after``, oldest first."""

    schema_version: Literal[1] = 1
    job_id: str
    state: str
    lines: list[JobLogLine]
    next_after: int = Field(description="Pass as ``after`` to get the lines that follow.")


class TrialPage(_Model):
    """A page of a run's trials in ``seq`` order (keyset paging)."""

    schema_version: Literal[1] = 1
    run_id: str
    limit: int
    trials: list[dict[str, Any]] = Field(
        description=(
            "Trial rows (trial schema version 2; rows of version 1 runs have no "
            "confidence or label_decision)."
        )
    )
    next_cursor: int | None = Field(
        description="Pass as ``cursor`` for the next page; null on the last page."
    )


class CheckRequest(_Model):
    """``POST /check``: one command line, or several lines (at most 1,000)."""

    command_line: str | None = Field(default=None, max_length=65536)
    lines: list[str] | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _one_of(self) -> CheckRequest:
        if (self.command_line is None) == (self.lines is None):
            raise ValueError("give exactly one of command_line and lines")
        if self.lines is not None and any(len(line) > 65536 for line in self.lines):
            raise ValueError("a line is longer than 65,536 characters")
        return self
