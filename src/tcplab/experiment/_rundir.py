"""The run directory: one object owns the layout, and every reader goes through it.

Layout (``TCPLAB_HOME/runs/RUN_ID/`` by default)::

    run.json                        the typed RunRecord (see _record.py)
    plan.parquet                    the seeded plan, with its SHA-256 in the record
    trials/shard-NNNNNN.parquet     one file per finished shard, written atomically; its rows
                                    and SHA-256 are recorded in run.json when written
    report/                         what ``tcplab report`` writes
    .lock                           held (flock) by the process executing the run
    heartbeat                       touched every few seconds by that process

Shards are known from the plan and the record, never trusted by name: a file whose index is
outside the plan is ignored with a warning; a recorded shard whose bytes changed, or an
unrecorded one that does not hold exactly the planned trials, is corrupt — reported by name
and re-run by ``--resume`` (the bad file is moved aside, never deleted).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from tcplab.errors import RunError, RunLockedError, UsageError
from tcplab.experiment._plan import Plan, read_plan
from tcplab.experiment._record import (
    RUN_SCHEMA_VERSION,
    RunOwner,
    RunRecord,
    ShardInfo,
    now_iso,
    upgrade_document,
)

__all__ = ["HEARTBEAT_INTERVAL_S", "RunDir", "ShardScan", "file_sha256", "owner_now", "shard_info"]

log = logging.getLogger("tcplab")

#: How often a running driver touches ``heartbeat``; a run whose heartbeat is older than
#: three intervals and whose lock is free is reported as dead.
HEARTBEAT_INTERVAL_S = 5.0
_MAX_RUN_JSON = 64 * 1024 * 1024


@dataclass
class ShardScan:
    """What is on disk under ``trials/``, judged against the plan and the record."""

    complete: dict[int, Path] = field(default_factory=dict)
    corrupt: dict[int, str] = field(default_factory=dict)
    unknown: list[Path] = field(default_factory=list)
    adopted: dict[int, ShardInfo] = field(default_factory=dict)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, streamed."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _shard_index(path: Path) -> int | None:
    stem = path.name.removesuffix(".parquet")
    if not path.name.endswith(".parquet") or not stem.startswith("shard-"):
        return None
    digits = stem.removeprefix("shard-")
    return int(digits) if digits.isdigit() and len(digits) == 6 else None


class RunDir:
    """A run directory (it need not exist yet)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # layout -----------------------------------------------------------------------------
    @property
    def run_json(self) -> Path:
        return self.path / "run.json"

    @property
    def plan_path(self) -> Path:
        return self.path / "plan.parquet"

    @property
    def trials_dir(self) -> Path:
        return self.path / "trials"

    @property
    def report_dir(self) -> Path:
        return self.path / "report"

    def shard_path(self, shard: int) -> Path:
        """``trials/shard-000042.parquet``."""
        return self.trials_dir / f"shard-{shard:06d}.parquet"

    # the record -------------------------------------------------------------------------
    def read_record(self) -> RunRecord:
        """Read and validate ``run.json``.

        Raises:
            UsageError: missing, unreadable, not JSON, not an object, an unknown schema
                version, or fields of the wrong type — each named in one line.
        """
        p = self.run_json
        if not p.exists():
            raise UsageError(f"{self.path}: no run.json; not a tcplab run directory")
        try:
            if p.stat().st_size > _MAX_RUN_JSON:
                raise UsageError(f"{p}: {p.stat().st_size:,} bytes; not a run record")
            doc = json.loads(p.read_bytes())
        except OSError as exc:
            raise UsageError(f"{p}: cannot read: {exc.strerror or exc}") from exc
        except ValueError as exc:
            raise UsageError(f"{p}: not valid JSON ({exc}); the run record is damaged") from exc
        if not isinstance(doc, dict):
            raise UsageError(f"{p}: not a JSON object; the run record is damaged")
        version = doc.get("schema_version")
        if version not in (1, RUN_SCHEMA_VERSION):
            raise UsageError(
                f"{p}: run schema version {version!r} is not supported "
                f"(this tcplab reads 1 and {RUN_SCHEMA_VERSION})"
            )
        try:
            return RunRecord.model_validate(upgrade_document(doc))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"]) or "(top level)"
            raise UsageError(f"{p}: invalid run record: {where}: {first['msg']}") from exc

    def write_record(self, record: RunRecord) -> None:
        """Write ``run.json`` atomically (temp file, fsync, rename)."""
        try:
            fd, tmp = tempfile.mkstemp(prefix=".run.", suffix=".json", dir=self.path)
        except OSError as exc:
            raise self._write_error(record, exc) from exc
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(record.to_json_dict(), fh, indent=2, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.run_json)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise self._write_error(record, exc) from exc
            raise

    def _write_error(self, record: RunRecord, exc: OSError) -> RunError:
        return RunError(
            f"cannot write {self.run_json}: {exc.strerror or exc}; finished shards are kept — "
            f"free space or fix the directory, then `tcplab run --resume {record.run_id}`"
        )

    def read_plan(self, record: RunRecord | None = None) -> Plan:
        """``plan.parquet``, checked against its stored hash (and the record's).

        Raises:
            UsageError: missing, unreadable or truncated plan, or a hash mismatch.
        """
        p = self.plan_path
        if not p.is_file():
            raise UsageError(f"{p}: missing; the run cannot be read or resumed")
        try:
            plan, stored = read_plan(p)
        except Exception as exc:  # pyarrow raises several types for damaged files
            raise UsageError(f"{p}: unreadable plan ({type(exc).__name__}: {exc})") from exc
        if plan.plan_hash() != stored or (record is not None and stored != record.plan_hash):
            raise UsageError(f"{p}: does not match its hash; the plan was modified")
        return plan

    # shards -----------------------------------------------------------------------------
    def scan_shards(self, plan: Plan, record: RunRecord) -> ShardScan:
        """Judge every file under ``trials/`` against the plan and the record."""
        scan = ShardScan()
        files = sorted(self.trials_dir.glob("shard-*.parquet")) if self.trials_dir.is_dir() else []
        for f in files:
            idx = _shard_index(f)
            if idx is None or idx >= plan.n_shards:
                scan.unknown.append(f)
                continue
            info = record.shards.get(str(idx))
            if info is not None:
                problem = _check_recorded(f, info)
            else:
                problem, adopted = _check_unrecorded(f, plan, idx, record.run_id)
                if adopted is not None:
                    scan.adopted[idx] = adopted
            if problem:
                scan.corrupt[idx] = problem
            else:
                scan.complete[idx] = f
        for key in record.shards:
            idx = int(key)
            if idx not in scan.complete and idx not in scan.corrupt:
                scan.corrupt[idx] = "recorded as written but the file is missing"
        for f in scan.unknown:
            log.warning("%s: not a shard of this run's plan; ignored", f)
        return scan

    def verified_shards(self, record: RunRecord | None = None) -> list[Path]:
        """The complete shard files in plan order.

        Raises:
            UsageError: a shard is corrupt or missing (named, with the command to repair it).
        """
        record = record or self.read_record()
        plan = self.read_plan(record)
        scan = self.scan_shards(plan, record)
        if scan.corrupt:
            idx, why = sorted(scan.corrupt.items())[0]
            more = f" (and {len(scan.corrupt) - 1} more)" if len(scan.corrupt) > 1 else ""
            raise UsageError(
                f"{self.shard_path(idx)}: corrupt shard{more}: {why}; re-run it with "
                f"`tcplab run --resume {record.run_id}`"
            )
        return [scan.complete[i] for i in sorted(scan.complete)]

    def move_aside(self, path: Path) -> Path:
        """Rename a bad file to ``NAME.corrupt-TIMESTAMP`` (nothing is deleted)."""
        target = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
        os.replace(path, target)
        return target

    # liveness ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, record: RunRecord) -> Iterator[None]:
        """Hold the run's lock while executing it; a heartbeat thread touches ``heartbeat``.

        Raises:
            RunLockedError: another process holds the lock (named with its pid and host).
        """
        fh: IO[str] = (self.path / ".lock").open("a+")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            fh.close()
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            who = record.owner
            desc = f"pid {who.pid} on {who.host}" if who else "another process"
            raise RunLockedError(
                f"run {record.run_id} is being executed by {desc}; wait for it, or stop it "
                "before resuming"
            ) from None
        stop = threading.Event()
        beat = threading.Thread(target=self._beat, args=(stop,), daemon=True, name="heartbeat")
        self._touch_heartbeat()
        beat.start()
        try:
            yield
        finally:
            stop.set()
            beat.join(timeout=5)
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            fh.close()

    def _touch_heartbeat(self) -> None:
        with contextlib.suppress(OSError):
            (self.path / "heartbeat").write_text(f"{os.getpid()} {socket.gethostname()}\n")

    def _beat(self, stop: threading.Event) -> None:
        while not stop.wait(HEARTBEAT_INTERVAL_S):
            self._touch_heartbeat()

    def is_locked(self) -> bool:
        """True when a live process holds the run's lock (on this machine's view of it)."""
        p = self.path / ".lock"
        if not p.exists():
            return False
        with p.open("a+") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            return False

    def heartbeat_age(self) -> float | None:
        """Seconds since the last heartbeat, or None when there never was one."""
        try:
            return max(0.0, time.time() - (self.path / "heartbeat").stat().st_mtime)
        except OSError:
            return None

    def liveness(self, record: RunRecord) -> str:
        """``live``, ``dead`` (status running but nobody holds the lock) or ``idle``."""
        if record.status != "running":
            return "idle"
        return "live" if self.is_locked() else "dead"


def owner_now() -> RunOwner:
    """This process as a run owner."""
    return RunOwner(pid=os.getpid(), host=socket.gethostname(), started_at=now_iso())


def _check_recorded(f: Path, info: ShardInfo) -> str | None:
    try:
        size = f.stat().st_size
        if size != info.bytes:
            return f"{size} bytes on disk, {info.bytes} written"
        if file_sha256(f) != info.sha256:
            return "SHA-256 differs from the one recorded when it was written"
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    return None


def _check_unrecorded(
    f: Path, plan: Plan, idx: int, run_id: str
) -> tuple[str | None, ShardInfo | None]:
    """A shard written just before a crash (not yet in run.json): adopt it if it holds
    exactly the planned trials of this run."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(f, columns=["run_id", "seq"])
    except Exception as exc:  # damaged parquet: several pyarrow error types
        return f"unreadable Parquet ({type(exc).__name__})", None
    r = plan.shard_range(idx)
    if table.num_rows != len(r) or table["seq"].to_pylist() != list(r):
        return (
            f"{table.num_rows} rows that are not the planned trials {r.start}..{r.stop - 1}",
            None,
        )
    if set(table["run_id"].to_pylist()) != {run_id}:
        return "trials of another run", None
    st = f.stat()
    return None, ShardInfo(
        rows=table.num_rows, sha256=file_sha256(f), bytes=st.st_size, written_at=now_iso()
    )


def iter_run_dirs(base: Path) -> Iterable[RunDir]:
    """Run directories directly under ``base`` (those with a run.json), newest name first."""
    if not base.is_dir():
        return []
    return [RunDir(p.parent) for p in sorted(base.glob("*/run.json"), reverse=True)]


def record_summary(record: RunRecord) -> dict[str, Any]:
    """The fields ``runs list`` shows."""
    return {
        k: getattr(record, k)
        for k in ("run_id", "name", "status", "started_at", "finished_at", "n_trials")
    }


def shard_info(path: Path, rows: int) -> ShardInfo:
    """The record entry for a shard file just written."""
    return ShardInfo(
        rows=rows, sha256=file_sha256(path), bytes=path.stat().st_size, written_at=now_iso()
    )
