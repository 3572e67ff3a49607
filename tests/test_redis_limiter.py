"""One rate budget shared through a real redis-server by several Sessions (as processes would).

Marked ``redis``: ``-m "not redis"`` leaves them out where no redis-server can
be installed. In CI (``$CI`` set) a missing redis-server fails instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from agencyaccess_async import (
    ConnectError,
    RateLimitError,
    RedisLimiter,
    RetryPolicy,
    Session,
    SessionError,
)
from agencyaccess_async.testing import RunningEmulator
from agencyaccess_async.types import RateLimitWaitEvent

from .cli_helpers import (
    EXAMPLES,
    clean_rows,
    read_results,
    running_emulator,
    start_cli,
    write_csv,
)
from .helpers import closed_port

pytestmark = [pytest.mark.socket, pytest.mark.redis]

REDIS_SERVER = shutil.which("redis-server")


class RedisServer:
    """A redis-server process on a loopback port, which a test may stop and start again."""

    def __init__(self, *options: str) -> None:
        self.options = options
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert REDIS_SERVER is not None
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", *self.options],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    if REDIS_SERVER is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the Redis tests: install Debian's redis-server")
        pytest.skip("no redis-server here; run with -m 'not redis' or install it")
    pytest.importorskip("redis", reason="redis-py comes with the test group")
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def shared_sessions(
    emulator: RunningEmulator, server: RedisServer, count: int, **options: Any
) -> AsyncIterator[list[Session]]:
    """``count`` Sessions on one key, each with its own RedisLimiter on the same budget."""
    sessions = [
        Session(
            emulator.api_key,
            base_url=emulator.base_url,
            limiter=RedisLimiter.from_url(server.url, max_concurrency=16, **options),
        )
        for _ in range(count)
    ]
    try:
        yield sessions
    finally:
        for session in sessions:
            await session.aclose()


async def _statuses(emulator: RunningEmulator) -> dict[str, int]:
    counters = await emulator.admin.counters()
    return counters["requests"].get("clients.list", {})


async def test_two_processes_share_one_budget_with_no_429(
    agencyaccess_emulator: RunningEmulator, redis_server: RedisServer
) -> None:
    """Two Sessions on one key, 50 req/s allowed, 60 calls each at once: no 429 at all."""
    await agencyaccess_emulator.admin.set_rate_limit(50, window=1)
    async with shared_sessions(agencyaccess_emulator, redis_server, 2) as sessions:

        async def burst(session: Session) -> None:
            await asyncio.gather(*(session.clients.list(limit=1).page() for _ in range(60)))

        await asyncio.wait_for(asyncio.gather(*(burst(s) for s in sessions)), 60)
    statuses = await _statuses(agencyaccess_emulator)
    assert statuses.get("200") == 120
    assert "429" not in statuses


@pytest.mark.usefixtures("real_waits")
async def test_a_429_in_one_process_pauses_the_others(
    agencyaccess_emulator: RunningEmulator, redis_server: RedisServer
) -> None:
    """A forced 429 with Retry-After: 1 seen by one Session makes the other wait too."""
    async with shared_sessions(agencyaccess_emulator, redis_server, 2, rate=1000) as (a, b):
        waits: list[RateLimitWaitEvent] = []
        b.hooks.on_rate_limit_wait.append(waits.append)
        await a.clients.list(limit=1).page()
        await agencyaccess_emulator.admin.set_faults(force429={"count": 1, "retryAfter": 1})
        paused = asyncio.ensure_future(a.clients.list(limit=1).page())  # 429: a waits 1 s
        await asyncio.sleep(0.2)  # a has its 429, and the pause notice reached Redis
        await b.clients.list(limit=1).page()
        await paused
    shared = [w for w in waits if w.reason == "shared rate limit"]
    assert shared and shared[0].delay > 0.5


async def test_a_pause_longer_than_the_deadline_fails_at_once(
    agencyaccess_emulator: RunningEmulator, redis_server: RedisServer
) -> None:
    """A shared 30 s pause: a call with 2 s to live is refused, not parked."""
    async with shared_sessions(agencyaccess_emulator, redis_server, 2, rate=1000) as (a, b):
        await a.clients.list(limit=1).page()
        a.limiter.pause(30)  # as a 429 with Retry-After: 30 would
        await asyncio.sleep(0.05)
        with pytest.raises(RateLimitError) as info:
            await b.clients.list(retry=RetryPolicy(deadline=2)).page()
    assert info.value.retry_after is not None and info.value.retry_after > 20


async def test_redis_dying_falls_back_locally_and_recovers_when_it_returns(
    agencyaccess_emulator: RunningEmulator,
    redis_server: RedisServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Kill Redis mid-run: calls go on with a warning; restart it: the budget is shared again."""
    async with shared_sessions(
        agencyaccess_emulator, redis_server, 1, rate=500, retry_redis_after=0.2
    ) as (session,):
        limiter = session.limiter
        assert isinstance(limiter, RedisLimiter)
        await session.clients.list(limit=1).page()
        redis_server.stop()
        with caplog.at_level(logging.WARNING, logger="agencyaccess_async"):
            for _ in range(5):
                await asyncio.wait_for(session.clients.list(limit=1).page(), 10)
        assert limiter.degraded
        assert "pacing locally" in caplog.text
        redis_server.start()
        await asyncio.sleep(0.3)
        for _ in range(3):
            await session.clients.list(limit=1).page()
        assert not limiter.degraded


async def test_on_redis_error_fail_refuses_the_call(
    agencyaccess_emulator: RunningEmulator, redis_server: RedisServer
) -> None:
    """With on_redis_error="fail", an unreachable Redis is a ConnectError: nothing was sent."""
    redis_server.stop()
    async with shared_sessions(
        agencyaccess_emulator, redis_server, 1, rate=100, on_redis_error="fail"
    ) as (session,):
        with pytest.raises(ConnectError) as info:
            await session.clients.list(retry=RetryPolicy.none()).page()
    assert info.value.may_have_reached_server is False
    assert "clients.list" not in (await agencyaccess_emulator.admin.counters())["requests"]


async def test_the_api_key_is_never_stored_in_redis(
    agencyaccess_emulator: RunningEmulator, redis_server: RedisServer
) -> None:
    """Keys and values in Redis name the budget by a hash, never by the key."""
    import redis.asyncio as redis_asyncio

    async with shared_sessions(agencyaccess_emulator, redis_server, 1) as (session,):
        await session.clients.list(limit=1).page()
        await session.clients.list(limit=1).page()
    client = redis_asyncio.Redis.from_url(redis_server.url)
    try:
        keys = [k.decode() for k in await client.keys("*")]
        values = []
        for k in keys:  # strings, and the sorted set of live processes
            kind = await client.type(k)
            found = await client.get(k) if kind == b"string" else await client.zrange(k, 0, -1)
            values.append(str(found))
    finally:
        await client.aclose()
    assert keys and all(k.startswith("agencyaccess:") for k in keys)
    assert not any(agencyaccess_emulator.api_key in text for text in keys + values)


async def test_slots_reserved_by_a_process_that_dies_delay_others_by_one_window_at_most(
    agencyaccess_emulator: RunningEmulator, redis_server: RedisServer
) -> None:
    """Admissions abandoned while waiting for their slot (a killed process) leak no more than
    the slots they reserved: with rate 20, ten abandoned slots hold the next caller <= 0.5 s."""
    async with shared_sessions(agencyaccess_emulator, redis_server, 2, rate=20) as (dying, other):
        await dying.clients.list(limit=1).page()  # learned, and the budget named
        abandoned = [asyncio.ensure_future(dying.clients.list(limit=1).page()) for _ in range(10)]
        await asyncio.sleep(0.05)  # each has reserved its slot and sleeps for it
        for task in abandoned:
            task.cancel()
        await asyncio.gather(*abandoned, return_exceptions=True)
        waits: list[RateLimitWaitEvent] = []
        other.hooks.on_rate_limit_wait.append(waits.append)
        await other.clients.list(limit=1).page()
    assert sum(w.delay for w in waits if w.reason == "shared rate limit") <= 0.55


async def test_every_tenant_key_has_its_budget_on_one_redis_client_that_closing_never_closes(
    agencyaccess_emulator: RunningEmulator, redis_server: RedisServer
) -> None:
    """Tenant views pace each key's own budget through the Session's one Redis client.

    A client the caller passes in is the caller's: closing the Session (and so
    its views) leaves its connection open; one made by ``from_url`` is closed
    with it. Told by redis-server's own count of connected clients.
    """
    import redis.asyncio as redis_asyncio

    admin = agencyaccess_emulator.admin
    north, south = await admin.create_key(agency="north"), await admin.create_key(agency="south")
    probe = redis_asyncio.Redis.from_url(redis_server.url)

    async def connected() -> int:
        return int((await probe.info("clients"))["connected_clients"]) - 1  # less the probe

    client = redis_asyncio.Redis.from_url(redis_server.url)
    try:
        limiter = RedisLimiter(client, max_concurrency=8, rate=50)
        async with agencyaccess_emulator.session(limiter=limiter) as session:
            for key in (north, south):
                await session.with_options(api_key=key).clients.list().page()
            await session.clients.list().page()
        budgets = {name async for name in probe.scan_iter("agencyaccess:*:rate")}
        assert len(budgets) == 3  # the Session's key and the two tenants', each its own
        assert await connected() >= 1  # the caller's client: still connected
        await client.aclose()
        assert await connected() == 0
        owned = RedisLimiter.from_url(redis_server.url, rate=50)
        async with agencyaccess_emulator.session(limiter=owned) as session:
            await session.with_options(api_key=north).clients.list().page()
            assert await connected() >= 1
        assert await connected() == 0  # from_url's client: closed with the Session
    finally:
        await client.aclose()
        await probe.aclose()


async def test_a_providers_keys_are_budgeted_in_redis_under_each_keys_own_name(
    agencyaccess_emulator: RunningEmulator, redis_server: RedisServer
) -> None:
    """Two providers (one per agency) and a fixed-key view: one Redis budget per real key.

    Before, every provider's view was named with an empty key hash: all
    agencies behind providers shared one budget and one 429 pause.
    """
    import redis.asyncio as redis_asyncio

    admin = agencyaccess_emulator.admin
    north, south = await admin.create_key(agency="north"), await admin.create_key(agency="south")
    probe = redis_asyncio.Redis.from_url(redis_server.url)
    try:
        limiter = RedisLimiter.from_url(redis_server.url, max_concurrency=8, rate=50)
        async with agencyaccess_emulator.session(limiter=limiter) as session:
            for view in (
                session.with_options(api_key=lambda: north),
                session.with_options(api_key=lambda: south),
            ):
                await view.clients.list().page()
            names = {name async for name in probe.scan_iter("agencyaccess:*:rate")}
            assert len(names) == 2
            await session.with_options(api_key=north).clients.list().page()  # north's again
            await session.clients.list().page()  # the Session's own key: a third
        after = {name async for name in probe.scan_iter("agencyaccess:*:rate")}
        assert names < after and len(after) == 3
    finally:
        await probe.aclose()


@pytest.mark.parametrize("wrong", ["port", "password"])
async def test_a_redis_that_cannot_be_reached_at_the_start_is_an_error_unless_opted_out(
    agencyaccess_emulator: RunningEmulator, redis_server: RedisServer, wrong: str
) -> None:
    """A wrong port or password: a SessionError, nothing sent; start_fallback=True paces locally."""
    guarded = RedisServer("--requirepass", "the-right-one")
    guarded.start()
    try:
        url = (
            f"redis://127.0.0.1:{closed_port()}/0"
            if wrong == "port"
            else guarded.url.replace("redis://", "redis://:wrong-password@")
        )
        limiter = RedisLimiter.from_url(url, rate=50)
        async with agencyaccess_emulator.session(limiter=limiter) as s:
            with pytest.raises(SessionError, match="cannot reach Redis") as info:
                await s.clients.list().page()
            assert info.value.attempts == 0
    finally:
        guarded.stop()
    assert "wrong-password" not in str(info.value)
    assert "clients.list" not in (await agencyaccess_emulator.admin.counters())["requests"]
    fallback = RedisLimiter.from_url(url, rate=50, start_fallback=True)
    async with agencyaccess_emulator.session(limiter=fallback) as s:
        assert (await s.clients.list().page()).items == ()


async def test_while_redis_is_down_each_process_paces_at_its_share_of_the_rate(
    agencyaccess_emulator: RunningEmulator, redis_server: RedisServer, real_waits: None
) -> None:
    """Three processes on a 30 req/s budget; Redis goes away: each paces at 10/s, so no 429.

    Told by the emulator's count of 429s, not by time: at the full rate each,
    the three would send three times the limit.
    """
    await agencyaccess_emulator.admin.set_rate_limit(30, window=1)
    async with shared_sessions(agencyaccess_emulator, redis_server, 3, rate=30) as sessions:
        for session in sessions:  # each registers on the budget while Redis is up
            await session.clients.list(limit=1).page()
        redis_server.stop()

        async def calls(session: Session) -> None:
            for _ in range(12):
                await session.clients.list(limit=1).page()

        await asyncio.wait_for(asyncio.gather(*(calls(s) for s in sessions)), 60)
    statuses = await _statuses(agencyaccess_emulator)
    assert statuses.get("200") == 3 + 36
    assert statuses.get("429", 0) <= 2  # at most an edge of a window


@pytest.mark.process
def test_shards_with_redis_never_reached_pace_at_their_share_with_almost_no_429(
    tmp_path: Path,
) -> None:
    """Three ``onboard --shard I/3`` processes whose Redis is unreachable from the start.

    With ``--redis-fallback`` each paces at a third of the limit it learns
    (``--shard`` tells it how many share the key). At the full rate each, as
    before, 15 to 40% of the answers were 429s (benchmarks/bench_shared_limit.py).
    """
    pytest.importorskip("redis", reason="redis-py comes with the test group")
    rows = write_csv(tmp_path / "clients.csv", clean_rows(150))
    redis_url = f"redis://127.0.0.1:{closed_port()}/0"
    with running_emulator("--rate-limit", "40") as emulator:
        jobs = []
        for i in (1, 2, 3):
            args = ["onboard", str(rows), "--services", str(EXAMPLES / "services.json"),
                    "--base-url", emulator.base_url, "--out", str(tmp_path / f"out-{i}.csv"),
                    "--shard", f"{i}/3", "--concurrency", "16",
                    "--redis-url", redis_url, "--redis-fallback"]  # fmt: skip
            jobs.append(start_cli(args, emulator.env()))
        for job in jobs:
            _, stderr = job.communicate(timeout=120)
            assert job.returncode == 0, stderr
        counted = emulator.admin("counters")
    statuses: dict[str, int] = {}
    for by_status in counted["requests"].values():
        for status, count in by_status.items():
            statuses[status] = statuses.get(status, 0) + count
    assert counted["records"] == {"clients": 150, "links": 150}
    assert statuses.get("429", 0) <= 0.05 * sum(statuses.values()), statuses
    results = [row for i in (1, 2, 3) for row in read_results(tmp_path / f"out-{i}.csv")]
    assert [row["status"] for row in results] == ["onboarded"] * 150
