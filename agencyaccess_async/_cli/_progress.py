"""The onboard command's progress display: a bar on a terminal, periodic lines otherwise."""

from __future__ import annotations

import time
from typing import TextIO

from .._bulk import BulkProgress


class ProgressDisplay:
    """Count, rate and ETA: a redrawn bar on a TTY, a line every few seconds elsewhere."""

    def __init__(self, stream: TextIO, total: int | None, *, interval: float | None = None) -> None:
        self._stream = stream
        self._total = total
        self._tty = stream.isatty()
        self._interval = interval if interval is not None else (0.1 if self._tty else 2.0)
        self._last = 0.0
        self._latest: BulkProgress | None = None

    def __call__(self, progress: BulkProgress) -> None:
        self._latest = progress
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last = now
            self._draw(progress)

    def finish(self) -> None:
        """Draw the final state and end the line."""
        if self._latest is not None:
            self._draw(self._latest)
        if self._tty and self._latest is not None:
            self._stream.write("\n")
        self._stream.flush()

    def _draw(self, p: BulkProgress) -> None:
        total = self._total
        count = f"{p.done}/{total}" if total else str(p.done)
        eta = ""
        if total and p.rate > 0:
            eta = f", ETA {_duration((total - p.done) / p.rate)}"
        failed = f", {p.failed} with errors" if p.failed else ""
        text = f"{count} rows, {p.rate:.0f} rows/s{eta}{failed}"
        if self._tty:
            width = 30
            filled = int(width * p.done / total) if total else 0
            self._stream.write(f"\r[{'#' * filled}{'-' * (width - filled)}] {text}\x1b[K")
        else:
            self._stream.write(f"onboard: {text}\n")
        self._stream.flush()


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"
