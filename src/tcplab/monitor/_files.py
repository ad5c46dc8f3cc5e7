"""Samples on disk: ``RUN_DIR/metrics/samples-NNNNNN.parquet`` (one file per flush, written
to a temporary name and renamed, so a file is complete or absent) and ``sources.json``."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tcplab.monitor._model import METRICS_SCHEMA_VERSION, Snapshot, SourceStatus

__all__ = ["METRICS_SCHEMA", "MetricsWriter", "read_metrics", "snapshots_table"]

METRICS_SCHEMA = pa.schema(
    [
        ("schema_version", pa.int8()),
        ("ts_ns", pa.int64()),
        ("source", pa.string()),
        ("name", pa.string()),
        ("labels", pa.string()),  # JSON object, sorted keys
        ("value", pa.float64()),
    ]
)


def snapshots_table(snaps: Sequence[Snapshot]) -> pa.Table:
    """Long format: one row per point."""
    cols: dict[str, list[Any]] = {f.name: [] for f in METRICS_SCHEMA}
    for s in snaps:
        for p in s.points:
            cols["schema_version"].append(METRICS_SCHEMA_VERSION)
            cols["ts_ns"].append(s.ts_ns)
            cols["source"].append(s.source)
            cols["name"].append(p.name)
            cols["labels"].append(json.dumps(p.labels, sort_keys=True))
            cols["value"].append(p.value)
    return pa.table(cols, schema=METRICS_SCHEMA)


def _atomic_write(path: Path, write: Any) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class MetricsWriter:
    """Appends flushes of snapshots as new Parquet files under ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.next_index = 1 + max(
            (_index(p) for p in directory.glob("samples-*.parquet")), default=-1
        )
        self.rows = 0

    def __call__(self, snaps: list[Snapshot]) -> None:
        table = snapshots_table(snaps)
        path = self.directory / f"samples-{self.next_index:06d}.parquet"
        _atomic_write(path, lambda tmp: pq.write_table(table, tmp))
        self.next_index += 1
        self.rows += table.num_rows

    def write_sources(self, status: Mapping[str, SourceStatus], interval: float) -> None:
        """``sources.json``: each source's status and the interval."""
        doc = {
            "schema_version": METRICS_SCHEMA_VERSION,
            "interval_s": interval,
            "sources": {k: v.model_dump() for k, v in status.items()},
        }
        path = self.directory / "sources.json"
        _atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(doc, indent=2) + "\n"))


def _index(path: Path) -> int:
    try:
        return int(path.stem.split("-")[1])
    except (IndexError, ValueError):
        return -1


def read_metrics(directory: Path) -> pa.Table:
    """Every sample file under ``directory`` as one table (empty when there are none)."""
    files = sorted(p for p in directory.glob("samples-*.parquet") if _index(p) >= 0)
    if not files:
        return METRICS_SCHEMA.empty_table()
    return pa.concat_tables([pq.read_table(f, schema=METRICS_SCHEMA) for f in files])
