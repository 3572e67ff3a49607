"""Tier 2: the Session-wide limiter — configured pacing, the server-window mirror, the probe."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from agencyaccess_async import Limiter, Session
from agencyaccess_async.lowlevel import Request, Response
from agencyaccess_async.testing import MockTransport

from .helpers import SECRET_KEY, client_json, fail, ok
from .test_deadlines import VirtualClock

pytestmark = pytest.mark.unit


class WindowServer:
    """A MockTransport handler with a fixed-window limit, like the hosted API's.

    ``clock`` and ``latency``: by default real time and 2 ms an answer. With the
    limiter's own virtual clock and no latency, the server and the limiter see
    one time, and no scheduling delay of a busy machine can move a window.
    """

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        latency: float = 0.002,
    ) -> None:
        self.limit, self.window = limit, window
        self.clock, self.latency = clock, latency
        self.start = 0.0
        self.count = 0
        self.statuses: list[int] = []
        self.in_flight = self.peak = 0

    async def __call__(self, request: Request) -> Response:
        now = self.clock()
        if now >= self.start + self.window:
            self.start, self.count = now, 0
        self.count += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await asyncio.sleep(self.latency)
        self.in_flight -= 1
        reset = self.start + self.window - self.clock()
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - self.count)),
            "X-RateLimit-Reset": f"{max(0.0, reset):.3f}",
        }
        if self.count > self.limit:
            self.statuses.append(429)
            return fail(429, "Rate limit exceeded", {**headers, "Retry-After": "1"})
        self.statuses.append(200)
        return Response.json({"error": False, "data": client_json()}, headers=headers)


async def test_mirror_of_the_server_window_avoids_429s() -> None:
    """Learning the limit from headers, the Session never exceeds a window: no 429s.

    One virtual clock for the server and the limiter (it used real time, and failed
    now and then on a busy machine, where a late task shifted a window).
    """
    clock = VirtualClock()
    server = WindowServer(limit=10, window=0.2, clock=clock, latency=0)
    limiter = Limiter(16, clock=clock, sleep=clock.sleep)
    async with Session(
        SECRET_KEY, base_url="https://api.test", transport=MockTransport(server), limiter=limiter
    ) as s:
        await asyncio.gather(*(s.clients.retrieve("cl_1") for _ in range(45)))
    assert server.statuses.count(429) == 0
    assert len(server.statuses) == 45
    assert clock.sleeps  # the limiter held requests back for the windows to reset


async def test_first_request_goes_alone_until_the_limit_is_known() -> None:
    """No start-up burst: the first request is a probe; the rest wait for its answer."""
    server = WindowServer(limit=1000, window=1.0)
    async with Session(
        SECRET_KEY, base_url="https://api.test", transport=MockTransport(server), max_concurrency=8
    ) as s:
        first = asyncio.ensure_future(s.clients.retrieve("cl_1"))
        others = [asyncio.ensure_future(s.clients.retrieve("cl_1")) for _ in range(7)]
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert server.in_flight == 1
        await asyncio.gather(first, *others)
    assert server.peak > 1  # after the probe, requests run concurrently


async def test_a_cancelled_probe_does_not_block_the_session() -> None:
    """If a probe is cancelled while it waits, the next request becomes the probe and goes."""
    from agencyaccess_async import Limiter

    from .test_deadlines import VirtualClock

    clock = VirtualClock()
    sleeps = 0

    async def block_the_first_sleep(delay: float) -> None:
        nonlocal sleeps
        sleeps += 1
        if sleeps == 1:
            await asyncio.Event().wait()  # until cancelled
        await clock.sleep(delay)

    limiter = Limiter(8, 0.1, clock=clock, sleep=block_the_first_sleep)  # 10 s apart
    transport = MockTransport(lambda r: ok(client_json()))  # no rate headers: probes go on
    async with Session(SECRET_KEY, base_url="https://api.test", transport=transport,
                       limiter=limiter) as s:  # fmt: skip
        await s.clients.retrieve("cl_1")  # the first probe: no wait
        probe = asyncio.ensure_future(s.clients.retrieve("cl_1"))  # waits 10 s for its slot
        await asyncio.sleep(0.01)
        probe.cancel()
        client = await asyncio.wait_for(s.clients.retrieve("cl_1"), 5)
    assert client.client_id == "cl_1"
    assert s.stats.requests == 2


async def test_probes_continue_until_an_answer_tells_the_limit() -> None:
    """Answers without rate headers keep requests alone for a few probes, then all go."""
    in_flight = 0
    peaks: list[int] = []

    async def handler(request: Request) -> Response:
        nonlocal in_flight
        in_flight += 1
        peaks.append(in_flight)
        await asyncio.sleep(0.005)
        in_flight -= 1
        return ok(client_json())  # no X-RateLimit-* headers

    async with Session(
        SECRET_KEY, base_url="https://api.test", transport=MockTransport(handler), max_concurrency=8
    ) as s:
        await asyncio.gather(*(s.clients.retrieve("cl_1") for _ in range(20)))
    assert peaks[:3] == [1, 1, 1]
    assert max(peaks) > 1


async def test_pool_timeout_when_every_slot_stays_busy() -> None:
    """Waiting longer than Timeout.pool for a slot is a RequestTimeoutError of kind pool; slots survive it."""
    from agencyaccess_async import RequestTimeoutError, RetryPolicy, Timeout

    release = asyncio.Event()

    async def handler(request: Request) -> Response:
        await release.wait()
        return ok(client_json())

    transport = MockTransport(handler)
    async with Session(SECRET_KEY, base_url="https://api.test", transport=transport, max_concurrency=1,
                       timeout=Timeout(pool=0.05), retry=RetryPolicy.none()) as s:  # fmt: skip
        busy = asyncio.ensure_future(s.clients.retrieve("cl_1"))
        await asyncio.sleep(0.01)
        with pytest.raises(RequestTimeoutError) as info:
            await s.clients.retrieve("cl_1")
        assert info.value.kind == "pool"
        assert info.value.may_have_reached_server is False
        release.set()
        await busy
        assert (await s.clients.retrieve("cl_1")).client_id == "cl_1"  # the slot came back


class CountingClock:
    """A virtual clock that counts how often it is read."""

    def __init__(self) -> None:
        self.now, self.reads = 100.0, 0

    def __call__(self) -> float:
        self.reads += 1
        return self.now


async def test_try_acquire_reads_the_clock_only_when_a_window_or_pause_needs_it() -> None:
    from agencyaccess_async._limiter import Limiter

    clock = CountingClock()
    limiter = Limiter(4, clock=clock)
    while not limiter.try_acquire():  # the probes: answers without rate-limit headers
        await limiter.acquire()
        limiter.release(None)
    limiter.release(None)
    clock.reads = 0
    for _ in range(3):
        assert limiter.try_acquire()
        limiter.release(None)
    assert clock.reads == 0  # no window known, no pause: nothing to ask the clock

    assert limiter.try_acquire()
    limiter.release(
        {"X-RateLimit-Limit": "2", "X-RateLimit-Remaining": "2", "X-RateLimit-Reset": "10"}
    )
    assert limiter.try_acquire() and limiter.try_acquire()
    assert not limiter.try_acquire()  # the window of 2 is spent until its reset
    limiter.release(None)
    limiter.release(None)
    clock.now += 10.01
    assert limiter.try_acquire()  # the window reset: a full window again
    assert limiter.try_acquire()
    assert not limiter.try_acquire()
    limiter.release(None)
    limiter.release(None)

    clock.now += 20
    limiter.pause(5)
    assert not limiter.try_acquire()  # paused
    clock.now += 5.01
    assert limiter.try_acquire()  # the pause is over; the window refilled
    limiter.release(None)
    reads = clock.reads
    limiter._limit = None  # a server that stopped sending the headers
    assert limiter.try_acquire()
    assert clock.reads == reads  # the pause was cleared: no read again


class CountingHeaders(dict[str, str]):
    """Rate-limit headers that count how often they are read."""

    reads = 0

    def __getitem__(self, name: str) -> str:
        type(self).reads += 1
        return super().__getitem__(name)

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        type(self).reads += 1
        return super().get(name, default)


async def test_every_answers_headers_are_read() -> None:
    """One answer that says the window is spent holds the next request, far from the end too."""
    from agencyaccess_async._limiter import Limiter

    clock = CountingClock()
    limiter = Limiter(2, clock=clock)

    def answer(remaining: int) -> CountingHeaders:
        return CountingHeaders(
            {"X-RateLimit-Limit": "100000", "X-RateLimit-Remaining": str(remaining),
             "X-RateLimit-Reset": "60"}
        )  # fmt: skip

    await limiter.acquire()
    limiter.release(answer(99_999))  # the probe's answer: the limit is learnt
    CountingHeaders.reads = 0
    for _ in range(10):
        assert limiter.try_acquire()
        limiter.release(answer(99_000))
    assert CountingHeaders.reads == 10 * 3
    assert limiter.try_acquire()
    limiter.release(answer(0))  # another client used the window up
    assert not limiter.try_acquire()


def window(limit: int, remaining: int, reset: float) -> dict[str, str]:
    """An answer's rate-limit headers."""
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": f"{reset:.3f}",
    }


async def test_the_window_ends_by_the_earliest_bound_its_answers_give() -> None:
    """An answer that was slower on the way back does not postpone the reset.

    The server counts a request somewhere between its sending and its
    answer, so ``answer time + reset`` is the latest its window can end; of
    two answers in one window, the earlier bound holds for both.
    """
    from agencyaccess_async._limiter import Limiter

    clock = CountingClock()
    start = clock.now
    limiter = Limiter(4, clock=clock)
    await limiter.acquire()  # the probe, counted at start + 0.01
    clock.now = start + 0.03
    limiter.release(window(3, 2, 0.99), elapsed=0.03)  # the window ends by start + 1.02
    assert limiter.try_acquire() and limiter.try_acquire()  # sent at start + 0.03
    assert not limiter.try_acquire()  # the window's 3 are spent
    clock.now = start + 0.06
    limiter.release(window(3, 1, 0.96), elapsed=0.03)  # counted at start + 0.04: by 1.02
    clock.now = start + 0.09
    limiter.release(window(3, 0, 0.95), elapsed=0.06)  # counted at 0.05, slow back: by 1.04
    clock.now = start + 1.019
    assert not limiter.try_acquire()  # the window may not have ended yet
    clock.now = start + 1.023
    assert limiter.try_acquire()  # it has (the largest bound would wait until 1.04)
    limiter.release(None)


async def test_an_answer_sent_before_the_window_opened_cannot_bring_its_end_forward() -> None:
    """A late answer from the window before says "reset in 0 s": the mirror keeps its window.

    Counted as the mirror's own, it would end the window at once and let a
    whole budget go into the server's current one.
    """
    from agencyaccess_async._limiter import Limiter

    clock = CountingClock()
    start = clock.now
    limiter = Limiter(4, clock=clock)
    await limiter.acquire()
    clock.now = start + 0.01
    limiter.release(window(2, 1, 1.0), elapsed=0.01)  # the window ends by start + 1.01
    assert limiter.try_acquire() and not limiter.try_acquire()  # sent at 0.01, still in flight
    clock.now = start + 1.02
    assert limiter.try_acquire()  # the mirror's next window opens at 1.02 (one still in flight)
    clock.now = start + 1.03
    limiter.release(window(2, 0, 0.0), elapsed=1.02)  # the old request's answer: "reset now"
    clock.now = start + 1.04
    assert not limiter.try_acquire()  # not a fresh budget: the window opened at 1.02 holds
    limiter.release(None)


async def test_a_request_in_flight_at_the_reset_counts_in_the_new_window() -> None:
    """It may reach the server after the reset: the new window's budget leaves room for it."""
    from agencyaccess_async._limiter import Limiter

    clock = CountingClock()
    start = clock.now
    limiter = Limiter(4, clock=clock)
    await limiter.acquire()
    clock.now = start + 0.01
    limiter.release(window(2, 2, 1.0), elapsed=0.01)
    assert limiter.try_acquire() and limiter.try_acquire()  # both in flight past the reset
    clock.now = start + 1.02
    assert not limiter.try_acquire()  # 2 - 2 in flight: nothing left to spend yet
    limiter.release(None)
    limiter.release(None)
    clock.now = start + 2.03
    assert limiter.try_acquire() and limiter.try_acquire()  # the next window is whole
