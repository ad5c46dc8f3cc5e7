"""API tokens: created with a role, shown once, stored as a SHA-256 hash, revocable.

Tokens are 256 random bits (``tcplab_`` + 43 URL-safe characters), so a plain SHA-256 is
enough to store them (no password stretching is needed for a secret that is not guessable).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa

from tcplab.errors import UsageError
from tcplab.service._db import ServiceDB
from tcplab.service._jobs import now
from tcplab.service._models import ROLES, TokenCreated, TokenRecord
from tcplab.service._tables import api_tokens

__all__ = ["TOKEN_PREFIX", "authenticate", "create_token", "list_tokens", "revoke_token"]

TOKEN_PREFIX = "tcplab_"
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
        )
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
