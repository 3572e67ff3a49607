"""Stopping a command cleanly on Ctrl-C or ``kill``, the same way on every Python.

The first SIGINT or SIGTERM cancels the command's main task, so that it
stops its work and writes what it must (the results file) before it exits
with ``128 + signal`` (130 for Ctrl-C, 143 for SIGTERM). Later signals are
only acknowledged, until the process ends: a second Ctrl-C during that
shutdown cannot cut the results file short. Python 3.11's ``asyncio.run``
cancels on SIGINT only, and 3.10's not at all; this one handler does both on
every version.

It is a plain ``signal.signal`` handler (as 3.11's runner uses), not the
loop's ``add_signal_handler``: the loop puts the default handlers back when it
closes, and a signal that arrives after that would end the process with a
traceback before it has said how it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Coroutine, Iterator
from types import FrameType
from typing import Any

__all__ = ["deferred_signals", "run_until_signal"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run_until_signal(main: Coroutine[Any, Any, int]) -> int:
    """Run ``main`` to its exit code, or to ``128 + signal`` when a signal stopped it."""
    received: list[int] = []
    target: list[tuple[asyncio.AbstractEventLoop, asyncio.Task[int]]] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if received:
            print("stopping: finishing the results file first", file=sys.stderr, flush=True)
            return
        received.append(signum)
        if target:
            loop, task = target[0]
            loop.call_soon_threadsafe(task.cancel)

    async def guarded() -> int:
        task = asyncio.current_task()
        assert task is not None
        target.append((asyncio.get_running_loop(), task))
        if received:  # a signal came while the loop was starting
            raise asyncio.CancelledError
        return await main

    previous = {signum: signal.signal(signum, on_signal) for signum in _SIGNALS}
    try:
        return asyncio.run(guarded())
    except asyncio.CancelledError:
        if not received:
            raise
        return 128 + received[0]
    finally:
        for signum, handler in previous.items():
            # Once stopping, ignore signals until the process ends: SIG_IGN, because
            # the interpreter's shutdown puts back the default for Python handlers.
            signal.signal(signum, signal.SIG_IGN if received else handler)


@contextlib.contextmanager
def deferred_signals() -> Iterator[list[int]]:
    """Hold SIGINT and SIGTERM off while the block runs (a file being rewritten).

    A signal that arrives meanwhile is recorded in the list the block gets,
    and acted on by the caller once the block is done (exit ``128 + signal``):
    the file is then either wholly old or wholly new, and no temporary file
    is left behind.
    """
    received: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous = {signum: signal.signal(signum, on_signal) for signum in _SIGNALS}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
