"""Tier 2: every wait is bounded by the call's deadline, tested on a virtual clock (no wall-clock gaps)."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest

from agencyaccess_async import Limiter, RateLimitError, RetryPolicy, Session, Timeout
from agencyaccess_async.lowlevel import MAX_SERVER_WAIT, Request, Response
from agencyaccess_async.testing import MockTransport

from .helpers import SECRET_KEY, client_json, fail, ok

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("real_waits")]


HEADERS = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "99", "X-RateLimit-Reset": "1"}


class VirtualClock:
    """A clock that only moves when the limiter sleeps on it; every sleep is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += delay
        await asyncio.sleep(0)


def limited_session(
    handler: MockTransport, clock: VirtualClock, *, rate: float | None = None, **options: object
) -> Session:
    limiter = Limiter(8, rate, clock=clock, sleep=clock.sleep)
    return Session(
        SECRET_KEY, base_url="https://api.test", transport=handler, limiter=limiter, **options
    )  # type: ignore[arg-type]


async def test_configured_rate_spaces_requests_from_the_start() -> None:
    """rate_limit=20: each request waits 50 ms after the one before, the first ones included."""
    clock = VirtualClock()
    sent: list[float] = []

    def handler(request: Request) -> Response:
        sent.append(clock.now)
        return ok(client_json())

    async with limited_session(MockTransport(handler), clock, rate=20) as session:
        for _ in range(6):
            await session.clients.retrieve("cl_1")
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(sent)]
    assert gaps == [0.05] * 5


async def test_a_long_retry_after_fails_the_next_call_at_once_not_after_an_hour(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Retry-After: 3600 is capped (and logged); a call whose deadline it passes fails at once."""
    clock = VirtualClock()
    answers = [fail(429, "Rate limit exceeded", {**HEADERS, "Retry-After": "3600"})]
    transport = MockTransport(lambda r: answers.pop(0) if answers else ok(client_json()))
    with caplog.at_level(logging.WARNING, logger="agencyaccess_async"):
        async with limited_session(transport, clock, retry=RetryPolicy(deadline=30)) as session:
            with pytest.raises(RateLimitError) as first:
                await session.clients.retrieve("cl_1")
            with pytest.raises(RateLimitError) as second:
                await session.clients.retrieve("cl_1", retry=RetryPolicy.none())
    assert first.value.retry_after == MAX_SERVER_WAIT
    assert "absurd" in caplog.text
    assert second.value.retry_after == pytest.approx(MAX_SERVER_WAIT)
    assert second.value.operation == "clients.retrieve"
    assert second.value.attempts == 0  # refused before sending
    assert len(transport.requests) == 1
    assert clock.sleeps == []  # nobody slept on the pause


@pytest.mark.parametrize("retry_after", ["inf", "1e300", "nan"])
async def test_absurd_retry_after_values_are_capped_or_ignored(retry_after: str) -> None:
    """A huge value becomes MAX_SERVER_WAIT; a non-finite one is no Retry-After at all."""
    clock = VirtualClock()
    answer = fail(429, "Rate limit exceeded", {**HEADERS, "Retry-After": retry_after})
    async with limited_session(
        MockTransport(lambda r: answer), clock, retry=RetryPolicy.none()
    ) as session:
        with pytest.raises(RateLimitError) as info:
            await session.clients.retrieve("cl_1")
    expected = None if retry_after in ("nan", "inf") else MAX_SERVER_WAIT
    assert info.value.retry_after == expected


async def test_a_window_reset_far_away_fails_calls_within_their_deadline() -> None:
    """Remaining 0 with a reset a day away: the next call fails at once, carrying the (capped) wait."""
    clock = VirtualClock()
    spent = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "86400"}
    transport = MockTransport(lambda r: _with(spent))
    async with limited_session(transport, clock, retry=RetryPolicy(deadline=60)) as session:
        await session.clients.retrieve("cl_1")
        with pytest.raises(RateLimitError) as info:
            await session.clients.retrieve("cl_1")
    assert info.value.retry_after is not None
    assert 60 < info.value.retry_after <= MAX_SERVER_WAIT + 1
    assert clock.sleeps == []
    # Refused here, nothing sent: no HTTP status is made up for it.
    assert (info.value.status, info.value.attempts) == (0, 0)
    assert "HTTP" not in str(info.value) and "past its deadline" in str(info.value)


def _with(headers: dict[str, str]) -> Response:
    return Response.json({"error": False, "data": client_json()}, headers=headers)


async def test_each_task_keeps_its_own_deadline_during_a_shared_pause() -> None:
    """A 3 s pause: a call with 1 s left fails at once, one with 10 s left waits and succeeds."""
    clock = VirtualClock()
    answers = [fail(429, "Rate limit exceeded", {**HEADERS, "Retry-After": "3"})]
    transport = MockTransport(lambda r: answers.pop(0) if answers else _with(HEADERS))
    async with limited_session(transport, clock, retry=RetryPolicy.none()) as session:
        with pytest.raises(RateLimitError):
            await session.clients.retrieve("cl_1")  # the 429 that pauses the Session
        with pytest.raises(RateLimitError) as short:
            await session.clients.retrieve("cl_1", retry=RetryPolicy(deadline=1))
        patient = await session.clients.retrieve("cl_1", retry=RetryPolicy(deadline=10))
    assert short.value.retry_after == pytest.approx(3)
    assert patient.client_id == "cl_1"
    assert clock.sleeps == [pytest.approx(3 + 0.005, abs=0.01)]  # only the patient one waited


async def test_the_attempt_total_timeout_bounds_the_limiter_wait() -> None:
    """Timeout(total=2) refuses a 3 s pause even though the retry deadline is far."""
    clock = VirtualClock()
    answers = [fail(429, "Rate limit exceeded", {**HEADERS, "Retry-After": "3"})]
    transport = MockTransport(lambda r: answers.pop(0) if answers else _with(HEADERS))
    async with limited_session(transport, clock, retry=RetryPolicy.none()) as session:
        with pytest.raises(RateLimitError):
            await session.clients.retrieve("cl_1")
        with pytest.raises(RateLimitError):
            await session.clients.retrieve(
                "cl_1", timeout=Timeout(total=2), retry=RetryPolicy(deadline=100)
            )
    assert clock.sleeps == []


async def test_a_429_whose_pause_outlasts_the_deadline_is_not_retried() -> None:
    """A server 429 asking for longer than the call has left ends the call at once."""
    clock = VirtualClock()
    transport = MockTransport(
        lambda r: fail(429, "Rate limit exceeded", {**HEADERS, "Retry-After": "20"})
    )
    async with limited_session(transport, clock, retry=RetryPolicy(deadline=5)) as session:
        with pytest.raises(RateLimitError) as info:
            await session.clients.retrieve("cl_1")
    assert info.value.retry_after == 20
    assert info.value.attempts == 1
    assert clock.sleeps == []
