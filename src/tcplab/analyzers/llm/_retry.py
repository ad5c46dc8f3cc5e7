"""Retry policy: which failures are retried, how long to back off, ``Retry-After`` parsing."""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = [
    "AttemptError",
    "FailureKind",
    "RetryPolicy",
    "parse_retry_after",
]

#: HTTP statuses that mean "the server is overloaded": retried and cut the AIMD limit.
OVERLOAD_STATUSES = frozenset({429, 503, 529})
#: Other HTTP statuses worth retrying (transient server or gateway trouble).
RETRYABLE_STATUSES = frozenset({408, 409, 500, 502, 504})


class FailureKind(enum.Enum):
    """How one failed attempt is treated."""

    OVERLOAD = "overload"  # retried, cuts the concurrency limit
    TRANSIENT = "transient"  # retried (5xx, connection trouble, malformed body)
    TIMEOUT = "timeout"  # retried; all attempts timing out gives status TIMEOUT
    FATAL = "fatal"  # not retried (400, 401, 403, 404, 422 ...)


class AttemptError(Exception):
    """A failed attempt, classified.

    Attributes:
        kind: the failure class.
        message: what went wrong (status code and body excerpt, or the exception).
        retry_after_s: the server's ``Retry-After`` in seconds, when it sent one.
        status_code: the HTTP status, when there was a response.
    """

    def __init__(
        self,
        kind: FailureKind,
        message: str,
        retry_after_s: float | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after_s = retry_after_s
        self.status_code = status_code


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date), or None.

    Dates in the past give 0; unparseable values give None.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN → None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    ref = now or datetime.now(UTC)
    return max(0.0, (when - ref).total_seconds())


def classify_status(status: int) -> FailureKind:
    """The failure class of an HTTP error status."""
    if status in OVERLOAD_STATUSES:
        return FailureKind.OVERLOAD
    if status in RETRYABLE_STATUSES or status >= 500:
        return FailureKind.TRANSIENT
    return FailureKind.FATAL


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded retries with jittered exponential backoff.

    The wait before retry ``n`` (1-based) is ``uniform(0.5, 1.0) × min(backoff_max_s,
    backoff_base_s × 2^(n-1))`` ("equal jitter"); when the server sent ``Retry-After`` the wait
    is the larger of that and the server's value (capped at ``retry_after_max_s``).

    Attributes:
        max_retries: retries after the first attempt (default 5, so at most 6 attempts).
        backoff_base_s: first backoff step (default 1 s).
        backoff_max_s: largest computed step (default 30 s).
        retry_after_max_s: largest ``Retry-After`` honoured (default 120 s).
    """

    max_retries: int = 5
    backoff_base_s: float = 1.0
    backoff_max_s: float = 30.0
    retry_after_max_s: float = 120.0

    def delay_s(self, retry: int, retry_after_s: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        step = min(self.backoff_max_s, self.backoff_base_s * (2.0 ** (retry - 1)))
        delay = step * rng.uniform(0.5, 1.0)
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, self.retry_after_max_s))
        return delay
