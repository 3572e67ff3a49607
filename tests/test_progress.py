"""The progress line: pace and ETA from recent throughput, and what a quiet run waits for."""

from __future__ import annotations

import io

import pytest

from agencyaccess_async._bulk import BulkProgress
from agencyaccess_async._bulk._progress import Activity, ProgressDisplay
from agencyaccess_async._hooks import RateLimitWaitEvent
from agencyaccess_async._limiter import Limiter

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


def test_a_rate_limited_runs_eta_starts_from_the_limit_not_its_first_seconds() -> None:
    """400 rows at 20 req/s (2 requests a row): 10 rows/s, so 40 s, not a first pause's pace.

    The run's first 5 s made 10 rows (a 429's pause at the start): by its own pace
    the ETA said 3m10s; the limit says 39s. Past the window, a run slower than its
    limit gets the ETA of its own pace.
    """
    clock, out = Clock(), io.StringIO()
    limiter = Limiter(8, rate=20, clock=clock)
    activity = Activity(sent=20)  # the first 10 rows' 20 requests

    def pace(done: int) -> float | None:
        return activity.rows_per_second(limiter, done, per_row=2.0)

    display = ProgressDisplay(out, 400, interval=0, window=30, clock=clock, pace=pace)
    display(BulkProgress(0, 0, 400, 0.0))
    clock.now += 5
    display(BulkProgress(10, 0, 400, 5.0))
    assert ", ETA 39s," in out.getvalue().splitlines()[-1]
    without = ProgressDisplay(io.StringIO(), 400, interval=0, window=30, clock=clock)
    assert without._eta_pace(2.0, BulkProgress(10, 0, 400, 5.0)) == 2.0  # 3m15s by its own
    clock.now += 40  # past the window, at 5 rows/s: slower than the limit allows
    display(BulkProgress(210, 0, 400, 45.0))
    assert display._eta_pace(5.0, BulkProgress(210, 0, 400, 45.0)) == 5.0
    activity.sent = 630  # 3 requests a row (lookups): the limit allows 6.7 rows/s
    assert pace(210) == pytest.approx(20 / 3)
    assert pace(5) == 10.0  # fewer than 10 rows: the expected 2 a row


def test_a_limiter_knows_its_rate_given_or_learnt_from_the_server() -> None:
    assert Limiter(4, rate=25).rate == 25
    learning = Limiter(4)
    assert learning.rate is None
    learning.release({"X-RateLimit-Limit": "50", "X-RateLimit-Remaining": "49",
                      "X-RateLimit-Reset": "10"})  # fmt: skip
    assert learning.rate == 5.0  # 50 requests a 10 s window


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
