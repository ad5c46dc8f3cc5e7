"""Log records of pool processes, brought back to the process that started the pool.

A process pool's children (the ``local`` executor's workers, started by ``forkserver``) inherit
no logging configuration: without help their records go nowhere a user looks — not to the
worker's console, not to a service job's logs. :class:`LogRelay` is a pipe
(``multiprocessing.SimpleQueue``) the children's root logger writes to through a
``QueueHandler`` (installed by :func:`relay_child_logs`, the pool's initializer calls it), and
that the parent drains with :meth:`LogRelay.drain` **on its own thread**: the records are handled
by the parent's loggers as if they had been logged there, so a handler bound to the job's
thread (the service's job-log handler) keeps them. The put is synchronous (no feeder thread):
a record logged before a shard's result was sent is in the pipe before the result arrives.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import threading
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["LogRelay", "relay_child_logs"]

_LOGGER = "tcplab"


class LogRelay:
    """The parent's end: make it with the pool's multiprocessing context."""

    def __init__(self, mp_context: Any) -> None:
        self.queue = mp_context.SimpleQueue()
        self._closed = False

    def child_args(self) -> tuple[Any, int, int]:
        """What :func:`relay_child_logs` needs: the queue and this process's log levels."""
        return (
            self.queue,
            logging.getLogger().getEffectiveLevel(),
            logging.getLogger(_LOGGER).getEffectiveLevel(),
        )

    def _read(self) -> list[logging.LogRecord]:
        out: list[logging.LogRecord] = []
        with contextlib.suppress(EOFError, OSError):
            while not self._closed and not self.queue.empty():
                out.append(self.queue.get())
        return out

    def drain(self) -> int:
        """Handle every record waiting in the pipe on the calling thread; how many."""
        records = self._read()
        _handle(records)
        return len(records)

    @staticmethod
    def handle(records: list[logging.LogRecord]) -> int:
        """Handle records that came back another way (with a Ray actor's reply) on the
        calling thread, as :meth:`drain` does; how many."""
        _handle(records)
        return len(records)

    @contextlib.contextmanager
    def draining(self, interval: float = 0.05) -> Iterator[None]:
        """Keep the pipe empty while the body blocks (a pool shutting down waits for children
        that may still be logging); the records read meanwhile are handled on the calling
        thread when the body ends."""
        stop, kept = threading.Event(), []

        def loop() -> None:
            while not stop.is_set():
                kept.extend(self._read())
                time.sleep(interval)

        thread = threading.Thread(target=loop, name="tcplab-log-relay", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            kept.extend(self._read())
            _handle(kept)

    def close(self) -> None:
        """Drain what is left, then close the pipe (idempotent)."""
        if self._closed:
            return
        self.drain()
        self._closed = True
        with contextlib.suppress(OSError):
            self.queue.close()


def _handle(records: list[logging.LogRecord]) -> None:
    for record in records:
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)


class _PipeHandler(logging.handlers.QueueHandler):
    """A ``QueueHandler`` for a ``SimpleQueue`` (which has ``put``, not ``put_nowait``)."""

    def enqueue(self, record: logging.LogRecord) -> None:
        self.queue.put(record)  # type: ignore[attr-defined]


def relay_child_logs(queue: Any, root_level: int, tcplab_level: int) -> None:
    """In a pool process: send every record to the parent, at the parent's levels.

    ``queue`` is a :class:`LogRelay`'s pipe, or any object with ``put(record)`` (a buffer a Ray
    actor empties into its replies); the records put are ready to pickle (message formatted,
    no ``args`` nor ``exc_info``)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(_PipeHandler(queue))
    root.setLevel(root_level)
    logging.getLogger(_LOGGER).setLevel(tcplab_level)
