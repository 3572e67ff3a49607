"""Total timeouts for many requests with one timer, instead of one timer per request.

A total timeout given to aiohttp costs a ``TimerHandle`` scheduled on the
loop's heap and cancelled again on every request. The ``Watchdog`` keeps the
deadlines of the requests in flight in a dict and one timer, set for the
earliest deadline known when it was set. When it fires it cancels the tasks
whose deadline has passed, and is set again for the earliest deadline left.
As requests end far sooner than their timeouts, it fires rarely.

A task cancelled by the watchdog sees a ``CancelledError`` where it waits;
``expired`` tells its caller to turn it into a timeout. That needs
``Task.uncancel()`` and ``Task.cancelling()`` (Python 3.11) to tell the
watchdog's cancellation from anyone else's, so ``AVAILABLE`` is false on 3.10
and the transport gives aiohttp its per-request timer there instead.
"""

from __future__ import annotations

import asyncio
import sys

__all__ = ["AVAILABLE", "Watchdog"]

AVAILABLE = sys.version_info >= (3, 11)


class Watchdog:
    """Cancels each watched task whose deadline (``loop.time()`` seconds) has passed."""

    __slots__ = ("_deadlines", "_fired", "_handle", "_when", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._deadlines: dict[asyncio.Task[object], tuple[float, int]] = {}
        self._fired: dict[asyncio.Task[object], int] = {}  # cancelled here: cancelling() before
        self._handle: asyncio.TimerHandle | None = None
        self._when = float("inf")

    def __len__(self) -> int:
        return len(self._deadlines)

    def watch(self, task: asyncio.Task[object], deadline: float) -> None:
        """Cancel ``task`` at ``deadline`` unless ``forget`` is called first."""
        self._deadlines[task] = (deadline, task.cancelling())
        if deadline < self._when:
            self._schedule(deadline)

    def forget(self, task: asyncio.Task[object]) -> None:
        """Stop watching ``task``; undo a cancellation of ours it never saw."""
        self._deadlines.pop(task, None)
        cancelling = self._fired.pop(task, None)
        if cancelling is not None and task.cancelling() > cancelling:
            task.uncancel()

    def expired(self, task: asyncio.Task[object]) -> bool:
        """Whether the ``CancelledError`` ``task`` caught is this watchdog's alone.

        Call it where the error was caught. If it is ours, the cancellation is
        undone (the caller raises its timeout instead); if someone else also
        cancelled the task, the answer is False and the error must propagate.
        """
        cancelling = self._fired.pop(task, None)
        self._deadlines.pop(task, None)
        if cancelling is None:
            return False
        return task.uncancel() <= cancelling

    def close(self) -> None:
        """Drop the timer (the transport is closing)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._when = float("inf")

    def _schedule(self, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._when = when
        self._handle = self.loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._handle, self._when = None, float("inf")
        now = self.loop.time()
        earliest = float("inf")
        for task, (deadline, cancelling) in list(self._deadlines.items()):
            if deadline <= now:
                del self._deadlines[task]
                if not task.done():
                    self._fired[task] = cancelling
                    task.cancel()
            elif deadline < earliest:
                earliest = deadline
        if earliest != float("inf"):
            self._schedule(earliest)
