"""Load a run directory into the result store (idempotent: safe to run any number of times)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tcplab.config import get_settings
from tcplab.errors import UsageError
from tcplab.experiment import RunDir
from tcplab.experiment.trials import read_trial_files
from tcplab.store._base import ResultStore
from tcplab.store._compute import compute_results

__all__ = ["SyncReport", "read_run_meta", "resolve_run_dir", "sync_run"]

#: Shard status written by :func:`sync_run`.
LOADED = "loaded"


@dataclass(frozen=True)
class SyncReport:
    """What :func:`sync_run` loaded."""

    run_id: str
    shards: int
    trials: int
    results: int


def resolve_run_dir(run: str | Path) -> Path:
    """A run directory from a path, or a run id under ``TCPLAB_HOME/runs``.

    Raises:
        UsageError: neither exists.
    """
    path = Path(run).expanduser()
    if (path / "run.json").is_file():
        return path
    candidate = get_settings().home / "runs" / str(run)
    if (candidate / "run.json").is_file():
        return candidate
    raise UsageError(
        f"no run {str(run)!r}: neither a run directory nor a run id under {candidate.parent}"
    )


def read_run_meta(run_dir: Path) -> dict[str, Any]:
    """``run.json`` as a dict, through the typed run record.

    Raises:
        UsageError: missing, damaged or of an unknown schema version.
    """
    return RunDir(run_dir).read_record().to_json_dict()


def sync_run(
    run_dir: Path | str, store: ResultStore, *, reference_arm: str | None = None
) -> SyncReport:
    """(Re)load a run's metadata, shards, trials and per-tool results into ``store``.

    Runs are upserted by id, trials keyed by run/shard/seq (rows already there are kept),
    shard and result rows upserted: running it twice leaves no duplicates.

    Raises:
        UsageError: not a run directory, or a shard of an unknown trial-schema version.
        StoreError: the database failed (``StoreUnavailableError``: unreachable).
    """
    run_dir = resolve_run_dir(run_dir)
    meta = read_run_meta(run_dir)
    run_id = str(meta["run_id"])
    store.upsert_run(meta)
    total = 0
    shards = RunDir(run_dir).verified_shards()
    for path in shards:
        shard = int(path.name.removesuffix(".parquet").removeprefix("shard-"))
        table = read_trial_files([path])
        n = store.write_trials(run_id, shard, table)
        store.mark_shard(run_id, shard, LOADED, n)
        total += n
    results: list[dict[str, Any]] = []
    if shards:
        results = compute_results(run_dir, reference_arm)
        store.write_results(run_id, results)
    return SyncReport(run_id=run_id, shards=len(shards), trials=total, results=len(results))
