"""The per-trial record schema and atomic Parquet shard files.

One row per trial. ``TRIAL_SCHEMA_VERSION`` is written into every row and into the file
metadata; readers refuse versions they do not know. Latencies are integer nanoseconds.

Version 2 added two nullable columns at the end: ``confidence`` (the analyzer's confidence in
its prediction, where it has one) and ``label_decision`` (the labelled decision of an invocation
input). Version 1 files are still read: those columns come back as nulls.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tcplab.descriptor import FORMAT_VERSION
from tcplab.errors import UsageError

__all__ = [
    "TRIAL_COLUMNS",
    "TRIAL_SCHEMA",
    "TRIAL_SCHEMA_VERSION",
    "TRIAL_SCHEMA_VERSIONS_READ",
    "TrialLabel",
    "completed_shards",
    "read_trial_files",
    "read_trials",
    "shard_path",
    "to_table",
    "trial_labels",
    "write_shard",
]

TRIAL_SCHEMA_VERSION = 2
#: Versions :func:`read_trial_files` reads (older files get the newer columns as nulls).
TRIAL_SCHEMA_VERSIONS_READ = (1, 2)
#: Columns each version added, read as nulls from files of an older version.
_ADDED_IN: dict[int, tuple[str, ...]] = {2: ("confidence", "label_decision")}

TRIAL_SCHEMA = pa.schema(
    [
        ("schema_version", pa.int16()),
        ("descriptor_format_version", pa.int16()),
        ("run_id", pa.string()),
        ("shard", pa.int32()),
        ("seq", pa.int64()),
        ("tool", pa.string()),
        ("arm", pa.string()),
        ("analyzer", pa.string()),
        ("iteration", pa.int32()),
        ("status", pa.string()),
        ("predicted_risk", pa.string()),
        ("predicted_capabilities", pa.list_(pa.string())),
        ("decision", pa.string()),
        ("label", pa.string()),
        ("label_capabilities", pa.list_(pa.string())),
        ("correct", pa.bool_()),
        ("timing_mode", pa.string()),
        ("latency_ns", pa.int64()),
        ("queue_wait_ns", pa.int64()),
        ("backoff_wait_ns", pa.int64()),
        ("ttft_ns", pa.int64()),
        ("service_ns", pa.int64()),
        ("total_ns", pa.int64()),
        ("batch_ns", pa.int64()),
        ("batch_size", pa.int64()),
        ("clock_overhead_ns", pa.float64()),
        ("cache_hit", pa.bool_()),
        ("cache_original_latency_ns", pa.int64()),
        ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()),
        ("cost_usd", pa.float64()),
        ("attempts", pa.int32()),
        ("model_id", pa.string()),
        ("model_version", pa.string()),
        ("error", pa.string()),
        ("explanation", pa.string()),
        ("worker", pa.string()),
        ("host", pa.string()),
        ("pid", pa.int32()),
        ("started_at_ns", pa.int64()),
        ("finished_at_ns", pa.int64()),
        ("confidence", pa.float64()),
        ("label_decision", pa.string()),
    ],
    metadata={b"tcplab.trial_schema_version": str(TRIAL_SCHEMA_VERSION).encode()},
)
TRIAL_COLUMNS = tuple(TRIAL_SCHEMA.names)
_DEFAULTS: dict[str, Any] = {
    "schema_version": TRIAL_SCHEMA_VERSION,
    "descriptor_format_version": FORMAT_VERSION,
}


@dataclass(frozen=True, slots=True)
class TrialLabel:
    """The label columns of one input's trials.

    Attributes:
        level: the labelled risk level's name (None: the label gives no level).
        capabilities: the labelled capabilities, sorted.
        decision: the labelled decision (invocation inputs only; None for tools).
    """

    level: str | None
    capabilities: list[str]
    decision: str | None = None

    def correct(self, ok: bool, level: str, decision: str) -> bool | None:
        """The ``correct`` column: the decision for invocation inputs, else the level.

        False for any failure (``ok`` false); None when there is nothing to compare with.
        """
        if self.decision is not None:
            return ok and decision == self.decision
        if self.level is None:
            return None
        return ok and level == self.level

    def columns(self) -> dict[str, Any]:
        """The ``label``, ``label_capabilities`` and ``label_decision`` values."""
        return {
            "label": self.level,
            "label_capabilities": self.capabilities,
            "label_decision": self.decision,
        }


def trial_labels(path: str | os.PathLike[str]) -> dict[str, TrialLabel]:
    """The labels of a labels file by input name (a tool, or an invocation's command line).

    An invocation labels file gives every line with its decision, lines labelled UNKNOWN
    included (their level is None): those inputs are scored on decisions.

    Raises:
        LabelsError: an unreadable labels file.
    """
    from tcplab.descriptor import RiskLevel
    from tcplab.labels import is_invocation_file, read_invocation_labels, read_labels

    if is_invocation_file(path):
        return {
            lb.command_line: TrialLabel(
                None if lb.risk_level is RiskLevel.UNKNOWN else lb.risk_level.name,
                sorted(lb.capabilities),
                lb.decision.value,
            )
            for lb in read_invocation_labels(path)
        }
    return {
        lb.command: TrialLabel(lb.risk_level.name, sorted(lb.capabilities))
        for lb in read_labels(path)
    }


def shard_path(run_dir: Path, shard: int) -> Path:
    """``RUN_DIR/trials/shard-000042.parquet``."""
    return run_dir / "trials" / f"shard-{shard:06d}.parquet"


def to_table(records: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Records (dicts with the schema's keys; missing keys are null) as an Arrow table."""
    cols: dict[str, list[Any]] = {name: [] for name in TRIAL_COLUMNS}
    for rec in records:
        for name in TRIAL_COLUMNS:
            cols[name].append(rec.get(name, _DEFAULTS.get(name)))
    return pa.table(cols, schema=TRIAL_SCHEMA)


def write_shard(run_dir: Path, shard: int, records: Sequence[Mapping[str, Any]] | pa.Table) -> Path:
    """Write one shard's trials atomically (temp file in the same directory, then rename).

    A reader never sees a half-written shard: either the final file exists complete, or not.
    """
    table = records if isinstance(records, pa.Table) else to_table(records)
    target = shard_path(run_dir, shard)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def completed_shards(run_dir: Path) -> set[int]:
    """Indices of the run's verified complete shards (see :meth:`RunDir.scan_shards`)."""
    from tcplab.experiment._rundir import RunDir

    rd = RunDir(run_dir)
    record = rd.read_record()
    return set(rd.scan_shards(rd.read_plan(record), record).complete)


def read_trial_files(files: Sequence[Path], columns: Iterable[str] | None = None) -> pa.Table:
    """The trials of ``files`` as one Arrow table, in the order given.

    Files of an older schema version (see :data:`TRIAL_SCHEMA_VERSIONS_READ`) are read with the
    columns added since as nulls, so the table always has the current schema's columns.

    Raises:
        UsageError: no files, an unreadable file, or one written by an unknown schema version.
    """
    if not files:
        raise UsageError("no trial files: the run has no finished shard yet")
    wanted = list(columns) if columns else list(TRIAL_COLUMNS)
    tables = []
    for f in files:
        try:
            meta = pq.read_schema(f).metadata or {}
            version = int(meta.get(b"tcplab.trial_schema_version", b"0"))
            if version not in TRIAL_SCHEMA_VERSIONS_READ:
                raise UsageError(
                    f"{f}: trial schema version {version} is not supported "
                    f"(this tcplab reads {', '.join(map(str, TRIAL_SCHEMA_VERSIONS_READ))})"
                )
            tables.append(_read_one(f, version, wanted, all_columns=columns is None))
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise UsageError(f"{f}: unreadable trial file ({type(exc).__name__}: {exc})") from exc
    return pa.concat_tables(tables)


def _read_one(f: Path, version: int, wanted: list[str], *, all_columns: bool) -> pa.Table:
    """One file's ``wanted`` columns; those added after ``version`` are nulls."""
    added = {c for v, cols in _ADDED_IN.items() if v > version for c in cols}
    if not added:
        table = pq.read_table(f, columns=None if all_columns else wanted)
        return table.replace_schema_metadata(TRIAL_SCHEMA.metadata)
    table = pq.read_table(f, columns=[c for c in wanted if c not in added])
    n = table.num_rows
    arrays = [
        pa.nulls(n, TRIAL_SCHEMA.field(c).type) if c in added else table.column(c) for c in wanted
    ]
    fields = [TRIAL_SCHEMA.field(c) if c in added else table.schema.field(c) for c in wanted]
    return pa.table(arrays, schema=pa.schema(fields, metadata=TRIAL_SCHEMA.metadata))


def read_trials(run_dir: Path, columns: Iterable[str] | None = None) -> pa.Table:
    """All trials of a run as one Arrow table (verified shards, in plan order).

    Files that are not shards of the run's plan are ignored with a warning.

    Raises:
        UsageError: no trials, a corrupt shard (named), or an unknown schema version.
    """
    from tcplab.experiment._rundir import RunDir

    files = RunDir(run_dir).verified_shards()
    if not files:
        raise UsageError(f"{run_dir}: no trial files under trials/")
    return read_trial_files(files, columns)
