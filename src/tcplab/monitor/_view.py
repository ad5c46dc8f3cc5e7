"""What ``tcplab monitor`` shows: the host's resources now and the runs being executed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tcplab.monitor._sampler import BackgroundSampler
from tcplab.monitor._sources import SourceOptions, make_sources

__all__ = ["VIEW_SCHEMA_VERSION", "HostView", "active_runs", "view_document"]

VIEW_SCHEMA_VERSION = 1
HOST_SOURCES = ("cpu", "load", "memory", "disk", "net", "cpufreq", "temperature", "gpu")


class HostView:
    """Host sources opened once; :meth:`read` gives the current values by name."""

    def __init__(self, disk_path: Path) -> None:
        opts = SourceOptions(disk_path=str(disk_path))
        self.sampler = BackgroundSampler(make_sources(list(HOST_SOURCES), opts), 1.0)
        self.sampler.open_sources()
        self.opened = time.monotonic()

    def read(self) -> dict[str, Any]:
        """``{"sources": {name: "ok"|"unavailable: why"}, "metrics": {...}}``.

        A metric without labels is a number; one with labels is a list of
        ``{"labels": {...}, "value": x}``.
        """
        metrics: dict[str, Any] = {}
        for snap in self.sampler.sample_once():
            for p in snap.points:
                if p.labels:
                    metrics.setdefault(p.name, []).append({"labels": p.labels, "value": p.value})
                else:
                    metrics[p.name] = p.value
        sources = {k: v.describe() for k, v in self.sampler.status.items()}
        return {"sources": sources, "metrics": metrics}

    def close(self) -> None:
        """Release the sources (NVML)."""
        self.sampler.stop()


def active_runs(base: Path) -> list[dict[str, Any]]:
    """Runs under ``base`` whose status is ``running``: progress, liveness, heartbeat age."""
    from tcplab.errors import TcplabError
    from tcplab.experiment import iter_run_dirs

    out = []
    for rd in iter_run_dirs(base):
        try:
            record = rd.read_record()
        except TcplabError:  # a damaged run.json: `tcplab runs show` explains it
            continue
        if record.status != "running":
            continue
        done = sum(s.rows for s in record.shards.values())
        age = rd.heartbeat_age()
        out.append(
            {
                "run_id": record.run_id,
                "name": record.name,
                "liveness": rd.liveness(record),
                "owner": record.owner.model_dump() if record.owner else None,
                "started_at": record.started_at,
                "shards_done": len(record.shards),
                "shards_total": record.n_shards,
                "trials_done": done,
                "trials_total": record.n_trials,
                "progress": done / record.n_trials if record.n_trials else 1.0,
                "heartbeat_age_s": round(age, 1) if age is not None else None,
            }
        )
    return out


def view_document(host: HostView, runs_base: Path) -> dict[str, Any]:
    """The ``--json`` document: schema version, time, host, running runs."""
    return {
        "schema_version": VIEW_SCHEMA_VERSION,
        "ts": time.time(),
        "host": host.read(),
        "runs_dir": str(runs_base),
        "runs": active_runs(runs_base),
    }
