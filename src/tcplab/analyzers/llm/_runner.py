"""A private event loop on a background thread.

The llm arm keeps its HTTP client, concurrency limiter and budgets on one loop for its whole
life, whichever loop (or none) the caller uses: sync calls and calls from any caller loop are
submitted to it, so connections are reused and the limiter sees every request.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread"]

T = TypeVar("T")


class LoopThread:
    """An asyncio loop running on a daemon thread until :meth:`stop`."""

    def __init__(self, name: str = "tcplab-llm") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the loop; a thread-safe future of its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and wait for its result (from another thread)."""
        return self.submit(coro).result()

    async def run_async(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` run on the loop, from a coroutine on another loop."""
        return await asyncio.wrap_future(self.submit(coro))

    def stop(self) -> None:
        """Cancel what is left, stop the loop, join the thread and close the loop."""
        if self.loop.is_closed():
            return

        async def _cancel_rest() -> None:
            me = asyncio.current_task()
            rest = [t for t in asyncio.all_tasks() if t is not me]
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)
            await self.loop.shutdown_asyncgens()

        if self._thread.is_alive():
            self.run(_cancel_rest())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join()
        self.loop.close()
