"""Showing a bulk run's progress: a tqdm bar in a notebook, a bar on a terminal, or lines.

``progress=True`` on a bulk method picks the best display there is:
``tqdm.auto`` (a widget in Jupyter, a bar in a terminal) when tqdm is
installed (the ``progress`` extra), else ``ProgressDisplay`` on stderr: a
redrawn bar on a terminal, a line every few seconds elsewhere (a notebook's
output, a log). The ``onboard`` command uses ``ProgressDisplay`` too.

Both show one ETA (``eta``): from the items per second the key's rate limit
allows (``BulkProgress.allowed_rate``) while the run is younger than its
pace window (its first seconds, a first 429's pause, say nothing of its
pace), then the slower of that and the run's own recent pace.
"""

from __future__ import annotations

import asyncio
import collections
import importlib
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import attrs

from .._hooks import Hooks, RateLimitWaitEvent
from ._run import BulkProgress

__all__ = ["Activity", "ProgressDisplay", "default_progress", "eta"]

#: tqdm's own bar, without its ETA (``{remaining}``): the postfix carries ours.
_TQDM_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}, {rate_fmt}{postfix}]"


def default_progress(total: int | None, stream: TextIO | None = None) -> Any:
    """The display ``progress=True`` means: tqdm when installed, else ProgressDisplay."""
    try:  # an optional extra: found at run time, so no type stubs are needed
        tqdm = importlib.import_module("tqdm.auto").tqdm
    except ImportError:
        return ProgressDisplay(stream or sys.stderr, total, label="bulk")
    return _TqdmProgress(tqdm(total=total, unit="item", file=stream, bar_format=_TQDM_FORMAT))


def eta(p: BulkProgress, total: int | None, recent: float, window: float) -> str:
    """The time left, as ``"39s"`` (``"unknown"`` with no pace yet); ``""`` without a total.

    The pace is the rate limit's (``p.allowed_rate``) while the run is younger
    than ``window``, then the slower of it and ``recent`` (the run's own pace
    over the last ``window`` seconds); ``recent`` alone when the limit is unknown.
    """
    if not total or p.done >= total:
        return ""
    allowed = p.allowed_rate
    if not allowed:
        pace = recent
    elif p.elapsed < window or recent <= 0:
        pace = allowed
    else:
        pace = min(allowed, recent)
    return _duration((total - p.done) / pace) if pace > 0 else "unknown"


class _Recent:
    """Items per second over the last ``window`` seconds."""

    def __init__(self, window: float, clock: Callable[[], float]) -> None:
        self.window = window
        self._clock = clock
        self._samples: collections.deque[tuple[float, int]] = collections.deque()

    def add(self, done: int) -> None:
        now = self._clock()
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[0][0] > self.window:
            self._samples.popleft()

    def rate(self, fallback: float) -> float:
        """The recent pace (``fallback`` before two samples)."""
        if len(self._samples) < 2:
            return fallback
        (start, first), (end, last) = self._samples[0], self._samples[-1]
        span = max(end - start, self._clock() - start)
        return (last - first) / span if span > 0 else 0.0


class _TqdmProgress:
    """Feeds a tqdm bar from BulkProgress updates, with our ETA; closed when the run ends."""

    def __init__(self, bar: Any, *, window: float = 30.0) -> None:
        self._bar = bar
        self._recent = _Recent(window, time.monotonic)

    def __call__(self, progress: BulkProgress) -> None:
        self._recent.add(progress.done)
        self._bar.update(progress.done - self._bar.n)
        recent = self._recent.rate(progress.rate)
        left = eta(progress, progress.total, recent, self._recent.window)
        failed = f"{progress.failed} with errors" if progress.failed else ""
        shown = ", ".join(part for part in (f"ETA {left}" if left else "", failed) if part)
        self._bar.set_postfix_str(shown, refresh=False)

    def close(self) -> None:
        """End the bar."""
        self._bar.close()


class ProgressDisplay:
    """Count, pace and ETA: a redrawn bar on a TTY, a timestamped line every few seconds elsewhere.

    The pace comes from the last ``window`` seconds, not the whole run, so a
    stall or a rate-limit pause shows at once and a recovery does too; the
    ETA is ``eta``'s (the rate limit's pace first). ``tick()``, called about
    once a second, says what the run is waiting for (``waiting()``: the
    server, a rate-limit pause, N requests in flight) once no row has
    finished for ``quiet`` seconds.
    """

    def __init__(
        self,
        stream: TextIO,
        total: int | None,
        *,
        interval: float | None = None,
        label: str = "onboard",
        window: float = 30.0,
        quiet: float = 10.0,
        waiting: Callable[[], str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._label = label
        self._stream = stream
        self._total = total
        self._tty = stream.isatty()
        self._interval = interval if interval is not None else (0.1 if self._tty else 2.0)
        self._window = window
        self._quiet = quiet
        self._waiting = waiting
        self._clock = clock
        self._last = 0.0
        self._latest: BulkProgress | None = None
        self._recent = _Recent(window, clock)
        self._last_change = clock()
        self._last_notice = 0.0

    def __call__(self, progress: BulkProgress) -> None:
        now = self._clock()
        if self._latest is None or progress.done != self._latest.done:
            self._last_change = now
        self._latest = progress
        self._recent.add(progress.done)
        if now - self._last >= self._interval:
            self._last = now
            self._draw(progress)

    def tick(self) -> None:
        """Say what the run waits for when no row has finished for a while (call ~1/s)."""
        now = self._clock()
        silent = now - self._last_change
        if silent < self._quiet or now - self._last_notice < self._quiet:
            return
        self._last_notice = now
        what = self._waiting() if self._waiting is not None else "the server"
        self._line(f"no row finished for {_duration(silent)}: waiting for {what}")

    async def ticking(self, every: float = 1.0) -> None:
        """Call ``tick`` every ``every`` seconds, until cancelled (a task beside the run)."""
        while True:
            await asyncio.sleep(every)
            self.tick()

    def close(self) -> None:
        """Draw the final state and end the line."""
        if self._latest is not None:
            self._draw(self._latest)
        if self._tty and self._latest is not None:
            self._stream.write("\n")
        self._stream.flush()

    @property
    def recent_rate(self) -> float:
        """Items per second over the last ``window`` seconds (its whole pace before then)."""
        return self._recent.rate(self._latest.rate if self._latest is not None else 0.0)

    def _draw(self, p: BulkProgress) -> None:
        total = self._total
        count = f"{p.done}/{total}" if total else str(p.done)
        rate = self.recent_rate
        left = eta(p, total, rate, self._window)
        shown_eta = f", ETA {left}" if left else ""
        failed = f", {p.failed} with errors" if p.failed else ""
        unit = "rows" if self._label == "onboard" else "items"
        elapsed = _duration(p.elapsed)
        text = f"{count} {unit}, {rate:.0f} {unit}/s{shown_eta}{failed}, {elapsed} elapsed"
        if self._tty:
            width = 30
            filled = int(width * p.done / total) if total else 0
            self._stream.write(f"\r[{'#' * filled}{'-' * (width - filled)}] {text}\x1b[K")
            self._stream.flush()
        else:
            self._line(text)

    def _line(self, text: str) -> None:
        if self._tty:
            self._stream.write(f"\r{self._label}: {text}\x1b[K\n")
        else:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            self._stream.write(f"{stamp} {self._label}: {text}\n")
        self._stream.flush()


@attrs.define
class Activity:
    """What a run is doing right now, from the Session's hooks: for a quiet progress line."""

    in_flight: int = 0
    paused_until: float = 0.0

    def hooks(self) -> Hooks:
        """Hooks to give the Session, which keep this up to date."""
        hooks = Hooks()
        hooks.on_request.append(lambda _: self._count(1))
        hooks.on_response.append(lambda _: self._count(-1))
        hooks.on_rate_limit_wait.append(self._paused)
        return hooks

    def _count(self, step: int) -> None:
        self.in_flight += step

    def _paused(self, event: RateLimitWaitEvent) -> None:
        self.paused_until = max(self.paused_until, time.monotonic() + event.delay)

    def waiting_for(self) -> str:
        """A rate-limit pause, the server, or nothing in flight (the journal, the input)."""
        pause = self.paused_until - time.monotonic()
        if pause > 0:
            return f"a rate-limit pause ({pause:.0f}s left)"
        if self.in_flight:
            return f"the server ({self.in_flight} requests in flight)"
        return "the next rows (no request in flight)"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"
