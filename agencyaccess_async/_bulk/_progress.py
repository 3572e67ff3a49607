"""Showing a bulk run's progress: a tqdm bar in a notebook, a bar on a terminal, or lines.

``progress=True`` on a bulk method picks the best display there is:
``tqdm.auto`` (a widget in Jupyter, a bar in a terminal) when tqdm is
installed (the ``progress`` extra), else ``ProgressDisplay`` on stderr: a
redrawn bar on a terminal, a line every few seconds elsewhere (a notebook's
output, a log). The ``onboard`` command uses ``ProgressDisplay`` too.
"""

from __future__ import annotations

import importlib
import sys
import time
from typing import Any, TextIO

from ._run import BulkProgress

__all__ = ["ProgressDisplay", "default_progress"]


def default_progress(total: int | None, stream: TextIO | None = None) -> Any:
    """The display ``progress=True`` means: tqdm when installed, else ProgressDisplay."""
    try:  # an optional extra: found at run time, so no type stubs are needed
        tqdm = importlib.import_module("tqdm.auto").tqdm
    except ImportError:
        return ProgressDisplay(stream or sys.stderr, total, label="bulk")
    return _TqdmProgress(tqdm(total=total, unit="item", file=stream))


class _TqdmProgress:
    """Feeds a tqdm bar from BulkProgress updates; closed when the run ends."""

    def __init__(self, bar: Any) -> None:
        self._bar = bar

    def __call__(self, progress: BulkProgress) -> None:
        self._bar.update(progress.done - self._bar.n)
        if progress.failed:
            self._bar.set_postfix(failed=progress.failed, refresh=False)

    def close(self) -> None:
        """End the bar."""
        self._bar.close()


class ProgressDisplay:
    """Count, rate and ETA: a redrawn bar on a TTY, a line every few seconds elsewhere."""

    def __init__(
        self,
        stream: TextIO,
        total: int | None,
        *,
        interval: float | None = None,
        label: str = "onboard",
    ) -> None:
        self._label = label
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

    def close(self) -> None:
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
        unit = "rows" if self._label == "onboard" else "items"
        text = f"{count} {unit}, {p.rate:.0f} {unit}/s{eta}{failed}"
        if self._tty:
            width = 30
            filled = int(width * p.done / total) if total else 0
            self._stream.write(f"\r[{'#' * filled}{'-' * (width - filled)}] {text}\x1b[K")
        else:
            self._stream.write(f"{self._label}: {text}\n")
        self._stream.flush()


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"
