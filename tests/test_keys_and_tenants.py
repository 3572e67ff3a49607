"""Many keys in one process: where a key comes from, rotation per attempt, tenants on one pool.

Every test talks to the emulator (or a purpose-written server) over a real
loopback socket; the emulator's agencies stand in for a platform's tenants.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

import agencyaccess_async as aa
from agencyaccess_async.testing import RunningEmulator
from agencyaccess_async.types import RetryEvent

from .helpers import SECRET_KEY

pytestmark = pytest.mark.socket


# ------------------------------------------------------------ where the key comes from


def test_an_explicit_none_or_empty_key_is_refused_and_never_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGENCYACCESS_API_KEY", "the-platforms-own-key")
    with pytest.raises(aa.SessionError, match="api_key is None"):
        aa.Session(api_key=None)
    with pytest.raises(aa.SessionError, match="empty"):
        aa.Session(api_key="   ")


@pytest.mark.parametrize("wrong", [Path("/run/secrets/key"), 42, b"bytes-key"])
def test_a_key_of_another_type_is_a_session_error_naming_the_type(wrong: Any) -> None:
    with pytest.raises(aa.SessionError, match=type(wrong).__name__):
        aa.Session(api_key=wrong)


async def test_the_key_comes_from_the_file_named_by_the_environment(
    agencyaccess_emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "api_key"
    secret.write_text(agencyaccess_emulator.api_key + "\n")  # as Docker secrets often end
    monkeypatch.delenv("AGENCYACCESS_API_KEY", raising=False)
    monkeypatch.setenv("AGENCYACCESS_API_KEY_FILE", str(secret))
    async with aa.Session(base_url=agencyaccess_emulator.base_url) as session:
        page = await session.clients.list().page()
    assert page.items == ()


def test_an_unreadable_key_file_is_a_session_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AGENCYACCESS_API_KEY", raising=False)
    monkeypatch.setenv("AGENCYACCESS_API_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(aa.SessionError, match="AGENCYACCESS_API_KEY_FILE"):
        aa.Session()


async def test_a_provider_is_called_for_every_attempt_sync_or_async(
    agencyaccess_emulator: RunningEmulator,
) -> None:
    calls: list[str] = []

    def sync_key() -> str:
        calls.append("sync")
        return agencyaccess_emulator.api_key

    async def async_key() -> str:
        calls.append("async")
        return agencyaccess_emulator.api_key

    base_url = agencyaccess_emulator.base_url
    for provider in (sync_key, async_key):
        async with aa.Session(provider, base_url=base_url) as session:
            await session.clients.create(name="Acme", email="ops@acme.test")
            await session.clients.list().page()
    assert calls == ["sync", "sync", "async", "async"]


async def test_a_provider_that_raises_fails_the_call_with_its_error_chained_and_nothing_sent(
    agencyaccess_emulator: RunningEmulator,
) -> None:
    class VaultDown(Exception):
        pass

    def provider() -> str:
        raise VaultDown("vault sealed")

    before = (await agencyaccess_emulator.admin.counters())["total"]
    async with aa.Session(provider, base_url=agencyaccess_emulator.base_url) as session:
        with pytest.raises(aa.SessionError, match="provider failed: VaultDown") as info:
            await session.clients.create(name="Acme", email="ops@acme.test")
    assert isinstance(info.value.__cause__, VaultDown)
    assert info.value.attempts == 0
    assert (await agencyaccess_emulator.admin.counters())["total"] == before


async def test_a_provider_key_with_a_control_character_is_refused_without_showing_it(
    agencyaccess_emulator: RunningEmulator,
) -> None:
    async with aa.Session(
        lambda: SECRET_KEY + "\x00x", base_url=agencyaccess_emulator.base_url
    ) as session:
        with pytest.raises(aa.SessionError, match="control or non-ASCII") as info:
            await session.clients.list().page()
    assert SECRET_KEY not in str(info.value) and SECRET_KEY not in repr(info.value)


# ------------------------------------------------------------ rotation reaches every attempt


async def test_a_retry_after_a_rotation_carries_the_new_key(
    agencyaccess_emulator: RunningEmulator, real_waits: None
) -> None:
    """A 429 holds the call; the key is rotated (the old one revoked) meanwhile; the retry works."""
    admin = agencyaccess_emulator.admin
    old = await admin.create_key()
    new = await admin.create_key()
    await admin.set_faults(force429={"count": 1, "retryAfter": 0.2})
    async with aa.Session(old, base_url=agencyaccess_emulator.base_url) as session:

        def rotate(event: RetryEvent) -> None:
            session.api_key = new
            asyncio.get_running_loop().create_task(admin.revoke_key(old))

        session.hooks.on_retry.append(rotate)
        client = await session.clients.create(name="Acme", email="ops@acme.test")
        assert session.stats.rate_limited == 1
    assert client.name == "Acme"
    assert session.api_key is not None and session.api_key.reveal() == new


async def test_a_provider_is_read_again_once_after_a_401(
    agencyaccess_emulator: RunningEmulator,
) -> None:
    admin = agencyaccess_emulator.admin
    revoked, fresh = await admin.create_key(), await admin.create_key()
    await admin.revoke_key(revoked)
    handed = iter([revoked, fresh])
    async with aa.Session(lambda: next(handed), base_url=agencyaccess_emulator.base_url) as s:
        assert (await s.clients.list().page()).items == ()  # 401, read again, then 200

    reads: list[int] = []

    def always_revoked() -> str:
        reads.append(1)
        return revoked

    async with aa.Session(always_revoked, base_url=agencyaccess_emulator.base_url) as s:
        with pytest.raises(aa.AuthenticationError) as info:
            await s.clients.list().page()
    assert len(reads) == 2 and info.value.attempts == 2


# ------------------------------------------------------------ tenants on one pool


async def test_two_agencies_each_see_only_their_own_clients(
    agencyaccess_emulator: RunningEmulator,
) -> None:
    admin = agencyaccess_emulator.admin
    north = await admin.create_key(agency="north")
    south = await admin.create_key(agency="south")
    async with agencyaccess_emulator.session() as session:
        north_view = session.with_options(api_key=north, tenant="north")
        south_view = session.with_options(api_key=south, tenant="south")
        made = await north_view.clients.create(name="North Bakery", email="ops@north.test")
        await south_view.clients.create(name="South Bakery", email="ops@south.test")
        assert [c.name for c in await north_view.clients.list().collect()] == ["North Bakery"]
        assert [c.name for c in await south_view.clients.list().collect()] == ["South Bakery"]
        assert await session.clients.list().collect() == []  # the seeded key: the default agency
        with pytest.raises(aa.NotFoundError, match="Client does not exist"):
            await south_view.clients.retrieve(made.client_id)
        # Views work like the Session: post, bulk and with_options, on the same pool.
        raw = await north_view.post("/api/clients/list", {})
        assert [c["name"] for c in raw] == ["North Bakery"]
        assert north_view.with_options(retry=aa.RetryPolicy(deadline=5)).clients is not None
        run = south_view.bulk.create_clients([aa.NewClient(name="S2", email="s2@south.test")])
        summary = await run.run()
        assert sum(summary.outcomes.values()) == 1 and "failed" not in summary.outcomes
        assert len(await south_view.clients.list().collect()) == 2
        assert session.stats.requests >= 8  # one Session's counters


async def test_each_key_has_its_own_limiter_so_one_tenants_429_holds_no_other(
    agencyaccess_emulator: RunningEmulator, real_waits: None
) -> None:
    """The emulator limits each key to 5 requests a second: a busy tenant waits, another does not.

    Told by order, not by timing: the quiet tenant's three calls all finish
    before the busy tenant's twentieth.
    """
    admin = agencyaccess_emulator.admin
    busy, quiet = await admin.create_key(agency="busy"), await admin.create_key(agency="quiet")
    await admin.set_rate_limit(5, 1.0)
    finished: list[str] = []
    async with agencyaccess_emulator.session() as session:
        busy_view = session.with_options(api_key=busy)
        quiet_view = session.with_options(api_key=quiet)
        assert busy_view.clients is not quiet_view.clients

        async def calls(view: aa.SessionView, name: str, count: int) -> None:
            for _ in range(count):
                await view.clients.list().page()
                finished.append(name)

        busy_task = asyncio.create_task(calls(busy_view, "busy", 20))
        await asyncio.sleep(0)
        await calls(quiet_view, "quiet", 3)
        await busy_task
    assert finished.index("quiet") < 19 and finished.count("busy") == 20
    last_quiet = len(finished) - 1 - finished[::-1].index("quiet")
    assert finished[last_quiet + 1 :].count("busy") > 0  # the busy one was still waiting


async def test_one_provider_for_many_agencies_paces_each_key_on_its_own_budget(
    agencyaccess_emulator: RunningEmulator, real_waits: None
) -> None:
    """One provider reading the agency's key from a context variable, as a platform's is.

    The busy agency's call gets a 429 asking for 1.5 s: its key pauses. The
    quiet agency's three calls through the same provider finish before it
    (told by order, not by timing). Before, the provider's view had one
    limiter for every key it returned: the quiet agency waited out the pause.
    """
    admin = agencyaccess_emulator.admin
    busy, quiet = await admin.create_key(agency="busy"), await admin.create_key(agency="quiet")
    agency_key: contextvars.ContextVar[str] = contextvars.ContextVar("agency_key")
    finished: list[str] = []
    async with agencyaccess_emulator.session() as session:
        platform = session.with_options(api_key=agency_key.get)
        paused = asyncio.Event()
        session.hooks.on_retry.append(lambda event: paused.set())

        async def calls(key: str, name: str, count: int) -> None:
            agency_key.set(key)  # this task's context only
            for _ in range(count):
                await platform.clients.list().page()
                finished.append(name)

        await admin.set_faults(force429={"count": 1, "retryAfter": 1.5})
        busy_task = asyncio.create_task(calls(busy, "busy", 1))
        await asyncio.wait_for(paused.wait(), 10)
        await asyncio.create_task(calls(quiet, "quiet", 3))
        await busy_task
    assert finished == ["quiet", "quiet", "quiet", "busy"]


def _sockets() -> int:
    return sum(
        os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        for fd in os.listdir("/proc/self/fd")
        if os.path.exists(f"/proc/self/fd/{fd}")
    )


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="counts sockets in /proc")
async def test_a_thousand_tenants_share_one_bounded_pool_and_cost_a_few_kib_each(
    agencyaccess_emulator: RunningEmulator,
) -> None:
    keys = [f"tenant-key-{n}" for n in range(1000)]
    for key in keys[:50]:  # fifty real keys; the rest only cost their views
        await agencyaccess_emulator.admin.create_key(key=key, agency=key)
    async with agencyaccess_emulator.session(max_concurrency=8) as session:
        await session.clients.list().page()
        before = _sockets()
        await asyncio.gather(
            *(session.with_options(api_key=key).clients.list().page() for key in keys[:50])
        )
        # Both ends of each connection are in this process (the emulator runs in it).
        assert _sockets() - before <= 2 * (8 + 4)
        tracemalloc.start()
        start = tracemalloc.get_traced_memory()[0]
        views = [session.with_options(api_key=key, tenant=key) for key in keys]
        per_view = (tracemalloc.get_traced_memory()[0] - start) / len(views)
        tracemalloc.stop()
    assert per_view < 16 * 1024  # the benchmark's figure is the one to quote (bench_tenants.py)


async def test_the_tenant_registry_keeps_the_most_recent_keys_only(
    agencyaccess_emulator: RunningEmulator,
) -> None:
    async with agencyaccess_emulator.session(max_tenants=3) as session:
        first = session.with_options(api_key="k1").limiter
        second = session.with_options(api_key="k2").limiter
        assert first is not second is not session.limiter
        for key in ("k3", "k1", "k4"):  # k1 used again: k2 is now the least recent
            session.with_options(api_key=key)
        assert session.with_options(api_key="k1").limiter is first
        assert session.with_options(api_key="k2").limiter is not second  # dropped, made anew


async def test_a_view_of_the_sessions_own_key_shares_its_limiter(
    agencyaccess_emulator: RunningEmulator,
) -> None:
    """One key, one budget: a view given the Session's own key paces with the Session."""
    async with agencyaccess_emulator.session() as session:
        same = session.with_options(api_key=agencyaccess_emulator.api_key, tenant="self")
        assert same.limiter is session.limiter
        other = session.with_options(api_key=await agencyaccess_emulator.admin.create_key())
        assert other.limiter is not session.limiter


async def test_a_view_given_a_key_keeps_it_when_the_sessions_key_rotates(
    agencyaccess_emulator: RunningEmulator,
) -> None:
    """A view made with the Session's own key, then the Session rotated: the view stays north."""
    admin = agencyaccess_emulator.admin
    north = await admin.create_key(agency="north")
    south = await admin.create_key(agency="south")
    async with aa.Session(north, base_url=agencyaccess_emulator.base_url) as session:
        north_view = session.with_options(api_key=north, tenant="north")
        follower = session.with_options(tenant="follows the Session")
        session.api_key = south
        await north_view.clients.create(name="North Bakery", email="ops@north.test")
        await follower.clients.create(name="South Bakery", email="ops@south.test")
        north_only = session.with_options(api_key=north)
        assert [c.name for c in await north_only.clients.list().collect()] == ["North Bakery"]
        assert [c.name for c in await session.clients.list().collect()] == ["South Bakery"]
