"""The progress line: pace and ETA from recent throughput, and what a quiet run waits for."""

from __future__ import annotations

import io

import pytest

from agencyaccess_async._bulk import BulkProgress
from agencyaccess_async._bulk._progress import Activity, ProgressDisplay
from agencyaccess_async._hooks import RateLimitWaitEvent

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_eta_follows_recent_throughput_not_the_whole_run() -> None:
    """100 rows/s for a minute, then 10 rows/s: the ETA uses 10 rows/s within the window."""
    clock, out = Clock(), io.StringIO()
    display = ProgressDisplay(out, 10_000, interval=0, window=30, clock=clock)
    done = 0
    for _ in range(60):
        clock.now += 1
        done += 100
        display(BulkProgress(done, 0, 10_000, clock.now - 1000))
    for _ in range(40):
        clock.now += 1
        done += 10
        display(BulkProgress(done, 0, 10_000, clock.now - 1000))
    assert display.recent_rate == pytest.approx(10, rel=0.05)
    last = out.getvalue().splitlines()[-1]
    assert "10 rows/s" in last and "ETA 6m00s" in last and "1m40s elapsed" in last
    assert last[:4].isdigit() and last.split(" ", 1)[1].startswith("onboard:")  # timestamped


def test_a_quiet_run_says_what_it_waits_for_every_ten_seconds() -> None:
    clock, out = Clock(), io.StringIO()
    display = ProgressDisplay(
        out, 100, interval=0, clock=clock, waiting=lambda: "the server (3 requests in flight)"
    )
    display(BulkProgress(5, 0, 100, 1.0))
    for _ in range(25):
        clock.now += 1
        display.tick()
    notices = [line for line in out.getvalue().splitlines() if "no row finished" in line]
    assert len(notices) == 2  # at 10 s and at 20 s, not every second
    assert notices[0].endswith(
        "no row finished for 10s: waiting for the server (3 requests in flight)"
    )
    display(BulkProgress(6, 0, 100, 26.0))
    clock.now += 5
    display.tick()
    assert len([line for line in out.getvalue().splitlines() if "no row finished" in line]) == 2
    assert "ETA" in out.getvalue().splitlines()[-1]


def test_activity_says_what_a_run_waits_for() -> None:
    activity = Activity()
    hooks = activity.hooks()
    assert activity.waiting_for() == "the next rows (no request in flight)"
    for callback in hooks.on_request * 3:
        callback(None)  # type: ignore[arg-type]
    hooks.on_response[0](None)  # type: ignore[arg-type]
    assert activity.waiting_for() == "the server (2 requests in flight)"
    hooks.on_rate_limit_wait[0](RateLimitWaitEvent(delay=30.0, reason="429"))
    assert activity.waiting_for().startswith("a rate-limit pause (30s left")
