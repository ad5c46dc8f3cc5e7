"""API tokens: created with a role, shown once, stored as a SHA-256 hash, revocable.

Tokens are 256 random bits (``tcplab_`` + 43 URL-safe characters), so a plain SHA-256 is
enough to store them (no password stretching is needed for a secret that is not guessable).

:class:`TokenCache` keeps the API from reading the token table on every request: a live token
is remembered for at most ``ttl_s`` seconds, and only while the process listens on the
database's ``tcplab_tokens`` channel, where :func:`revoke_token` notifies every process when
it commits (the cache is then emptied). A revoked token is therefore refused as soon as the
notification arrives (milliseconds), and at worst ``ttl_s`` later if it were lost.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa

from tcplab.errors import UsageError
from tcplab.service._db import ServiceDB, psycopg_conninfo
from tcplab.service._jobs import now
from tcplab.service._models import ROLES, TokenCreated, TokenRecord
from tcplab.service._tables import api_tokens

__all__ = [
    "TOKENS_CHANNEL",
    "TOKEN_PREFIX",
    "TokenCache",
    "authenticate",
    "create_token",
    "list_tokens",
    "revoke_token",
]

TOKEN_PREFIX = "tcplab_"
TOKENS_CHANNEL = "tcplab_tokens"  # NOTIFY channel: a token was revoked
_log = logging.getLogger(__name__)
_LAST_USED_EVERY = timedelta(seconds=60)  # last_used_at is refreshed at most this often


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(
    db: ServiceDB, username: str, role: str, name: str = "", created_by: str = "cli"
) -> TokenCreated:
    """A new token for ``username`` with ``role``; the returned ``token`` is not stored.

    Raises:
        UsageError: unknown role or empty user name.
    """
    if role not in ROLES:
        raise UsageError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    if not username.strip():
        raise UsageError("a token needs a user name")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = TokenRecord(
        id=f"tok-{secrets.token_hex(6)}",
        username=username.strip(),
        role=role,
        name=name or username.strip(),
        prefix=token[: len(TOKEN_PREFIX) + 6],
        created_at=now(),
        created_by=created_by,
    )
    with db.begin() as conn:
        conn.execute(
            api_tokens.insert().values(**record.model_dump(mode="json"), token_sha256=_hash(token))
        )
    return TokenCreated(**record.model_dump(), token=token)


def list_tokens(db: ServiceDB) -> list[TokenRecord]:
    """Every token (revoked ones too), oldest first; never the secrets."""
    cols = [c for c in api_tokens.c if c.name != "token_sha256"]
    with db.begin() as conn:
        rows = conn.execute(sa.select(*cols).order_by(api_tokens.c.created_at)).mappings().all()
    return [TokenRecord.model_validate(dict(r)) for r in rows]


def revoke_token(db: ServiceDB, token_id: str) -> TokenRecord:
    """Revoke a token by id (idempotent).

    Raises:
        UsageError: no such token.
    """
    with db.begin() as conn:
        conn.execute(
            api_tokens.update()
            .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now())
        )  # every API process's TokenCache forgets its tokens when this commits
        conn.execute(sa.select(sa.func.pg_notify(TOKENS_CHANNEL, token_id)))
    for record in list_tokens(db):
        if record.id == token_id:
            return record
    raise UsageError(f"no token {token_id!r}; `tcplab token list` shows them")


def authenticate(db: ServiceDB, token: str) -> TokenRecord | None:
    """The live (not revoked) token record for ``token``, else None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    cols = [c for c in api_tokens.c if c.name != "token_sha256"]
    with db.begin() as conn:
        row = (
            conn.execute(
                sa.select(*cols).where(
                    api_tokens.c.token_sha256 == _hash(token), api_tokens.c.revoked_at.is_(None)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        record = TokenRecord.model_validate(dict(row))
        t = now()
        if record.last_used_at is None or t - record.last_used_at > _LAST_USED_EVERY:
            conn.execute(
                api_tokens.update().where(api_tokens.c.id == record.id).values(last_used_at=t)
            )
    return record


class TokenCache:
    """Live tokens remembered for ``ttl_s`` seconds while the database's revocations are heard.

    :meth:`start` runs a thread that ``LISTEN``s on :data:`TOKENS_CHANNEL`; every notification,
    every (re)connection and every loss of the connection empties the cache, and while the
    thread is not listening nothing is cached (every request reads the table). A lookup that
    raced a revocation is not cached (a generation number). Unknown and revoked tokens are
    never cached: only a database read can admit a token.
    """

    MAX_ENTRIES = 10_000

    def __init__(
        self, db: ServiceDB, ttl_s: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.db, self.ttl_s, self.clock = db, ttl_s, clock
        self._entries: dict[str, tuple[TokenRecord, float]] = {}
        self._generation = 0
        self._listening = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def listening(self) -> bool:
        """Whether revocations are heard now (only then is anything cached)."""
        return self._listening

    def invalidate(self) -> None:
        """Forget every token."""
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def authenticate(self, token: str) -> TokenRecord | None:
        """:func:`authenticate`, answered from memory for a token read less than ``ttl_s`` ago."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        key, t = _hash(token), self.clock()
        with self._lock:
            hit, generation, live = self._entries.get(key), self._generation, self._listening
        if hit is not None and live and hit[1] > t:
            return hit[0]
        record = authenticate(self.db, token)
        if record is not None and live and self.ttl_s > 0:
            with self._lock:
                if self._generation == generation and self._listening:
                    if len(self._entries) >= self.MAX_ENTRIES:
                        self._entries.clear()
                    self._entries[key] = (record, t + self.ttl_s)
        return record

    def start(self) -> None:
        """Start listening (a daemon thread that reconnects with backoff)."""
        self._thread = threading.Thread(target=self._run, name="tcplab-token-listener", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop listening and forget every token."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.invalidate()

    def _set_listening(self, value: bool) -> None:
        with self._lock:
            self._listening = value
            self._generation += 1
            self._entries.clear()

    def _run(self) -> None:
        import psycopg

        delay = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    psycopg_conninfo(self.db.url), autocommit=True, connect_timeout=5
                ) as conn:
                    conn.execute(f"LISTEN {TOKENS_CHANNEL}")
                    self._set_listening(True)
                    delay = 0.5
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0):
                            self.invalidate()
            except psycopg.Error as exc:
                _log.warning("token revocations not heard (tokens not cached): %s", exc)
            finally:
                self._set_listening(False)
            self._stop.wait(delay)
            delay = min(2 * delay, 10.0)
