"""Finishing a run: the SQL result store during and after the run, and artifact pushes.

The store is optional while a run executes: if it cannot be opened or fails mid-run, the run
goes on (trials are safe in Parquet) and the problem is recorded; ``tcplab runs sync RUN``
loads the run later. A malformed store URL is the caller's mistake and is raised at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tcplab.errors import (
    MissingDependencyError,
    StoreError,
    StoreUnavailableError,
    TcplabError,
)

if TYPE_CHECKING:
    from tcplab.experiment._record import RunRecord
    from tcplab.experiment._run import RunOutcome
    from tcplab.experiment._rundir import RunDir
    from tcplab.experiment._worker import ShardResult

__all__ = ["StoreSession", "finish_run", "open_result_store"]


def open_result_store(db: str | None) -> tuple[Any, str | None]:
    """The SQL result store and None, or None and a warning when it cannot be used now.

    Raises:
        UsageError: the URL itself is malformed or of an unsupported kind.
    """
    try:
        from tcplab.store import open_store

        return open_store(db), None
    except (StoreUnavailableError, MissingDependencyError) as exc:
        return None, (
            f"result store not used ({exc}); trials still go to Parquet — load them later "
            "with `tcplab runs sync RUN`"
        )


@dataclass
class StoreSession:
    """The result store of one execution (or none), and what went wrong with it."""

    store: Any
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, store: Any, db: str | None, use_store: bool) -> StoreSession:
        if store is not None or not use_store:
            return cls(store)
        opened, warning = open_result_store(db)
        session = cls(opened)
        if warning:
            session.notes.append(warning)
        return session

    def write_shard(self, record: RunRecord, result: ShardResult) -> None:
        """One shard into the store; on failure keep going without it."""
        self.write_table(record, result.shard, result.table)

    def write_table(self, record: RunRecord, shard: int, table: Any) -> None:
        """One shard's trials into the store (idempotent per run/shard/seq)."""
        if self.store is None:
            return
        try:
            self.store.upsert_run(record.to_json_dict())
            self.store.write_trials(record.run_id, shard, table)
            self.store.mark_shard(record.run_id, shard, "completed", table.num_rows)
        except Exception as exc:  # the database is optional during a run
            self.errors.append(f"{type(exc).__name__}: {exc}"[:300])
            self.close()

    def close(self) -> None:
        if self.store is not None:
            try:
                self.store.close()
            finally:
                self.store = None


def _store_results(rd: RunDir, record: RunRecord, session: StoreSession) -> str | None:
    store = session.store
    if store is None:
        return None
    try:
        from tcplab.store import compute_results

        store.upsert_run(record.to_json_dict())
        if record.shards:
            store.write_results(record.run_id, compute_results(rd.path))
        return str(getattr(store, "url", "the result store"))
    except StoreError as exc:
        session.notes.append(f"{exc}; run `tcplab runs sync {record.run_id}` later")
        return None
    finally:
        session.close()


def _push(rd: RunDir, record: RunRecord, url: str | None, notes: list[str]) -> str | None:
    url = url or os.environ.get("TCPLAB_ARTIFACTS_URL") or None
    if not url:
        return None
    from tcplab.store import push_run

    try:
        return push_run(rd.path, url)
    except TcplabError as exc:  # the run itself is finished: a push problem is a warning
        notes.append(
            f"artifacts not pushed ({exc}); run `tcplab runs push {record.run_id} --to {url}` "
            "later (add --force to move a conflicting copy aside)"
        )
        return None


def finish_run(
    rd: RunDir, record: RunRecord, session: StoreSession, artifacts: str | None, ran: int
) -> RunOutcome:
    """Per-tool results into the store, artifacts pushed; the outcome a caller sees."""
    from tcplab.experiment._run import RunOutcome

    if session.errors:
        session.notes.append(
            f"result store failed during the run ({session.errors[0]}); trials are safe in "
            f"Parquet — load them with `tcplab runs sync {record.run_id}`"
        )
        session.close()
    stored = _store_results(rd, record, session)
    pushed = _push(rd, record, artifacts, session.notes)
    return RunOutcome(
        record.run_id,
        rd.path,
        record.status,
        record.n_trials,
        ran,
        tuple(record.warnings) + tuple(session.notes),
        stored,
        pushed,
    )
