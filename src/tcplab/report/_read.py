"""Read a run's ``run.json`` and trials for the report, turning damage into one-line errors.

Every reader of the report goes through here, so a damaged run directory (invalid
``run.json``, a truncated or corrupt shard, no shard at all) raises
:class:`~tcplab.errors.UsageError` naming the file, never a pyarrow or JSON traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tcplab.errors import TcplabError, UsageError
from tcplab.experiment import read_trials

__all__ = ["arm_order", "read_run_json", "read_run_trials", "run_warnings"]


def read_run_json(run_dir: Path) -> dict[str, Any]:
    """``run_dir/run.json`` as a dict.

    Raises:
        UsageError: missing, unreadable, not JSON, or not a JSON object (named in one line).
    """
    path = run_dir / "run.json"
    if not path.is_file():
        raise UsageError(f"{run_dir}: no run.json; not a tcplab run directory")
    try:
        doc = json.loads(path.read_bytes())
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc}); the run record is damaged") from exc
    if not isinstance(doc, dict):
        raise UsageError(f"{path}: not a JSON object; the run record is damaged")
    return doc


def run_warnings(meta: dict[str, Any], path: Path) -> list[str]:
    """The run's ``warnings`` list (absent: none; older runs have no such key).

    Raises:
        UsageError: ``warnings`` is present but not a list.
    """
    raw = meta.get("warnings")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise UsageError(f"{path}: 'warnings' must be a list of strings, not {type(raw).__name__}")
    return [str(w) for w in raw if str(w).strip()]


def _bad_shard(run_dir: Path) -> tuple[Path, Exception] | None:
    """The first shard file whose Parquet footer or data cannot be read, with the error."""
    for f in sorted((run_dir / "trials").glob("shard-*.parquet")):
        try:
            pq.read_table(f)
        except (OSError, ValueError, pa.ArrowException) as exc:
            return f, exc
    return None


def read_run_trials(run_dir: Path, columns: Iterable[str]) -> pa.Table:
    """The run's trials (only ``columns``), read with :func:`tcplab.experiment.read_trials`.

    Raises:
        UsageError: no trials, or a truncated/corrupt shard (the file is named).
    """
    wanted = list(columns)
    try:
        table = read_trials(run_dir, wanted)
    except TcplabError:
        raise
    except (OSError, ValueError, pa.ArrowException) as exc:
        bad = _bad_shard(run_dir)
        where = bad[0] if bad else run_dir / "trials"
        why = bad[1] if bad else exc
        raise UsageError(
            f"{where}: unreadable trial file ({type(why).__name__}: {why}); the shard is "
            "truncated or corrupt"
        ) from exc
    if table.num_rows == 0:
        raise UsageError(f"{run_dir}: the run has no trials")
    return table


def arm_order(meta: dict[str, Any], seen: list[str]) -> list[str]:
    """Arms in spec order (``run.json``'s ``spec.arms``), then any other arm as first seen."""
    spec = meta.get("spec")
    spec_arms = spec.get("arms", []) if isinstance(spec, dict) else []
    names = [a.get("name") if isinstance(a, dict) else a for a in spec_arms]
    ordered = [a for a in names if a in seen]
    return ordered + [a for a in seen if a not in ordered]
