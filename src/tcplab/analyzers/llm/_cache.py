"""The response cache: SQLite (WAL), one connection per thread, keyed by request identity.

The key is a SHA-256 over the base URL, model, messages and every parameter that changes the
answer (temperature, seed, max_tokens, response format, prompt version). A row keeps the raw
answer and what it originally cost: total latency, time to first token and token usage.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["CachedReply", "ResponseCache", "cache_key"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    request TEXT NOT NULL,
    reply TEXT NOT NULL
)
"""


def cache_key(identity: dict[str, Any]) -> str:
    """The SHA-256 of the canonical JSON of ``identity``."""
    blob = json.dumps(identity, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class CachedReply:
    """A stored answer and its original cost.

    Attributes:
        content: the assistant text.
        refusal: refusal text, if any.
        finish_reason: the original finish reason.
        model_id: the model named in the original response.
        fingerprint: its ``system_fingerprint``.
        prompt_tokens: original prompt tokens.
        completion_tokens: original completion tokens.
        usage_reported: whether the server reported usage.
        latency_ns: original end-to-end latency (queue + backoff + service).
        ttft_ns: original time to first token.
        attempts: attempts the original answer took.
    """

    content: str
    refusal: str | None
    finish_reason: str | None
    model_id: str | None
    fingerprint: str | None
    prompt_tokens: int
    completion_tokens: int
    usage_reported: bool
    latency_ns: int
    ttft_ns: int | None
    attempts: int


class ResponseCache:
    """A thread-safe SQLite response cache (WAL mode, a connection per thread).

    Args:
        path: the database file (created with its folder).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[sqlite3.Connection] = []
        self.hits = 0
        self.misses = 0
        self.writes = 0
        self._conn()  # create the schema now, so errors surface at open

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
            conn.commit()
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def get(self, key: str) -> CachedReply | None:
        """The stored reply for ``key``, or None."""
        row = self._conn().execute("SELECT reply FROM responses WHERE key = ?", (key,)).fetchone()
        with self._lock:
            if row is None:
                self.misses += 1
                return None
            self.hits += 1
        return CachedReply(**json.loads(row[0]))

    def put(self, key: str, request: dict[str, Any], reply: CachedReply) -> None:
        """Store ``reply`` under ``key`` (replacing an older one)."""
        conn = self._conn()
        with conn:
            conn.execute(
                "INSERT OR REPLACE INTO responses (key, created_at, request, reply) "
                "VALUES (?, ?, ?, ?)",
                (
                    key,
                    time.time(),
                    json.dumps(request, sort_keys=True, ensure_ascii=False),
                    json.dumps(asdict(reply)),
                ),
            )
        with self._lock:
            self.writes += 1

    def __len__(self) -> int:
        row = self._conn().execute("SELECT COUNT(*) FROM responses").fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close every connection this cache opened."""
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()
        self._local = threading.local()
