"""The progress line: pace and ETA from recent throughput, and what a quiet run waits for."""

from __future__ import annotations

import io

import pytest

from agencyaccess_async._bulk import BulkProgress
from agencyaccess_async._bulk._progress import Activity, ProgressDisplay, eta
from agencyaccess_async._bulk._run import BulkRun, Succeeded
from agencyaccess_async._hooks import RateLimitWaitEvent, SessionStats
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
    """400 rows a limit lets through at 10 a second: 39 s left, not a first pause's pace.

    The run's first 5 s made 10 rows (a 429's pause at the start): by its own pace
    the ETA said 3m15s; the limit says 39s. Past the window, a run slower than its
    limit gets the ETA of its own pace.
    """
    clock, out = Clock(), io.StringIO()
    display = ProgressDisplay(out, 400, interval=0, window=30, clock=clock)
    display(BulkProgress(0, 0, 400, 0.0, allowed_rate=10.0))
    clock.now += 5
    display(BulkProgress(10, 0, 400, 5.0, allowed_rate=10.0))
    assert ", ETA 39s," in out.getvalue().splitlines()[-1]
    assert eta(BulkProgress(10, 0, 400, 5.0), 400, 2.0, 30) == "3m15s"  # no limit known
    clock.now += 40  # past the window, at 5 rows/s: slower than the limit allows
    display(BulkProgress(210, 0, 400, 45.0, allowed_rate=10.0))
    assert ", ETA 38s," in out.getvalue().splitlines()[-1]  # 190 rows at 5 a second
    assert eta(BulkProgress(400, 0, 400, 60.0, allowed_rate=10.0), 400, 5.0, 30) == ""


async def test_a_bulk_run_reports_the_pace_its_keys_limit_allows() -> None:
    """20 requests a second, 2 a row until 10 rows show the real count (here 3: lookups)."""
    seen: list[BulkProgress] = []
    stats = SessionStats()

    async def process(index: int, item: int) -> Succeeded[int]:
        stats.requests += 3
        return Succeeded(index, str(item), item)

    run = BulkRun(stats, range(12), process, concurrency=1, total=12, progress=seen.append,
                  limiter=Limiter(4, rate=20), requests_per_item=2.0)  # fmt: skip
    summary = await run.run()
    assert [p.allowed_rate for p in seen[:9]] == [10.0] * 9
    assert 0 <= seen[-1].elapsed <= summary.elapsed < 60  # seconds, not a count of items
    assert seen[-1].allowed_rate == pytest.approx(20 / 3)
    unknown = BulkRun(stats, range(2), process, concurrency=1, total=2, progress=seen.append,
                      limiter=Limiter(4))  # fmt: skip
    await unknown.run()
    assert seen[-1].allowed_rate is None  # no rate given, none advertised yet


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
