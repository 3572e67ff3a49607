"""Tier 3: reliability over a real socket against the emulator's fault injection."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from agencyaccess_async import (
    AgencyAccessError,
    Client,
    Hooks,
    NewLink,
    RetryPolicy,
    ServerError,
    Session,
)
from agencyaccess_async.emulator import EmulatorConfig
from agencyaccess_async.testing import RunningEmulator, run_emulator
from agencyaccess_async.types import RequestEvent

from .helpers import SECRET_KEY, subscribe_to_everything

pytestmark = pytest.mark.socket


@pytest.mark.slow
async def test_a_thousand_creates_through_503s_drops_and_rate_limit() -> None:
    """1,000 creates at concurrency 64 through 20% 503s, 10% drops after processing and a
    100 req/s limit: exactly 1,000 clients exist, every call answered, 429s <= 1%."""
    total = 1000
    async with run_emulator(EmulatorConfig(random_seed=7)) as emulator:
        await emulator.admin.set_rate_limit(100, window=1.0)
        await emulator.admin.set_faults(
            errorRates={"503": 0.2}, dropAfter=0.1, routes=["clients.create"]
        )
        policy = RetryPolicy(attempts=20, deadline=300)
        async with emulator.session(max_concurrency=64, retry=policy) as session:

            async def create(i: int) -> Client | AgencyAccessError:
                try:
                    return await session.clients.create(
                        name=f"Client {i}", email=f"c{i}@example.test"
                    )
                except AgencyAccessError as error:
                    return error

            results = await asyncio.gather(*(create(i) for i in range(total)))
            stats = session.stats
        counters = await emulator.admin.counters()
    failures = [r for r in results if not isinstance(r, Client)]
    assert failures == []
    assert len({r.client_id for r in results if isinstance(r, Client)}) == total
    assert counters["records"]["clients"] == total
    requests_made = counters["total"]
    too_many = sum(by_status.get("429", 0) for by_status in counters["requests"].values())
    assert too_many <= 0.01 * requests_made, (too_many, requests_made)
    assert stats.reconciled > 0  # the drops really happened and were reconciled
    print(
        f"requests={requests_made} 429s={too_many} retries={stats.retries} reconciled={stats.reconciled}"
    )


@pytest.mark.usefixtures("real_waits")
async def test_a_429_holds_every_task_for_retry_after(
    agencyaccess_emulator: RunningEmulator,
) -> None:
    """A 429 with Retry-After: 2 seen by one of 32 tasks: no task sends in the 2 s after it.

    Timed on the client, from the 429's answer to each attempt started after
    it: a lower bound, which a busy machine can only lengthen (the server's
    arrival times would need a tolerance for requests already on the wire).
    """
    admin = agencyaccess_emulator.admin
    loop = asyncio.get_running_loop()
    timeline: list[tuple[float, object]] = []
    hooks = Hooks()
    hooks.on_request.append(lambda event: timeline.append((loop.time(), event)))
    hooks.on_response.append(lambda event: timeline.append((loop.time(), event)))
    async with agencyaccess_emulator.session(max_concurrency=32, hooks=hooks) as session:
        await session.clients.list(limit=1).page()  # learn the (unlimited) rate first
        await admin.set_faults(force429={"count": 1, "retryAfter": 2})
        await asyncio.gather(*(session.clients.list(limit=1).page() for _ in range(64)))
    log = [entry for entry in await admin.requests() if entry["operation"] == "clients.list"]
    assert len([entry for entry in log if entry["status"] == 429]) == 1
    answered = [i for i, (_, event) in enumerate(timeline) if getattr(event, "status", 0) == 429]
    assert len(answered) == 1
    t429 = timeline[answered[0]][0]
    started_after = [
        when for when, event in timeline[answered[0] :] if isinstance(event, RequestEvent)
    ]
    assert started_after  # the 429's call and the held ones went on after the pause
    assert min(started_after) >= t429 + 2 - 0.01  # the clock's and the timer's granularity


@pytest.mark.usefixtures("real_waits")
async def test_deadline_against_an_always_503_server(
    agencyaccess_emulator: RunningEmulator,
) -> None:
    """A call against a server that always answers 503 gives up by its deadline with the attempt count.

    Each wait honours Retry-After (0.3 s), so a 1 s deadline leaves room for four attempts at
    most; without the deadline the policy would make twenty. No clock is read here.
    """
    admin = agencyaccess_emulator.admin
    await admin.set_faults(errorRates={"503": 1.0}, retryAfter503=0.3)
    policy = RetryPolicy(attempts=20, deadline=1.0)
    async with agencyaccess_emulator.session(retry=policy) as session:
        with pytest.raises(ServerError) as info:
            await session.clients.retrieve("cl_1")
    assert 2 <= info.value.attempts <= 4
    assert info.value.status == 503
    sent = [entry for entry in await admin.requests() if entry["operation"] == "clients.retrieve"]
    assert len(sent) == info.value.attempts


async def test_key_appears_nowhere_with_debug_logging_and_all_hooks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A distinctive key never shows in logs, hook events, errors or reprs, even under faults."""
    hooks = Hooks()
    events = subscribe_to_everything(hooks)
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    async with run_emulator(EmulatorConfig(api_key=SECRET_KEY)) as emulator:
        await emulator.admin.set_faults(errorRates={"502": 0.3}, dropAfter=0.2)
        await emulator.admin.set_rate_limit(20)
        async with Session(
            SECRET_KEY, base_url=emulator.base_url, hooks=hooks, log_bodies=True
        ) as session:
            for i in range(10):
                try:
                    texts.append(
                        repr(await session.clients.create(name=f"C{i}", email=f"c{i}@x.test"))
                    )
                except AgencyAccessError as error:
                    texts += [str(error), repr(error)]
            try:
                await session.clients.retrieve("cl_missing")
            except AgencyAccessError as error:
                texts += [str(error), repr(error), repr(vars(error))]
            texts += [repr(session), repr(session.stats)]
    texts += [caplog.text] + [repr(e) for e in events]
    assert events
    assert all(SECRET_KEY not in text for text in texts)


@pytest.mark.parametrize("where", ["view", "call"])
async def test_a_views_and_a_calls_retry_reach_the_reconciling_lookups(
    agencyaccess_emulator: RunningEmulator, where: str
) -> None:
    """RetryPolicy(attempts=1) on a view (or a call): a keyed create's lookup is tried once.

    The lookup-first of ``create(..., idempotency_key=...)`` and ``links.find_like``
    list pages through the request loop; they take the policy the call would.
    """
    admin = agencyaccess_emulator.admin
    await admin.set_faults(errorRates={"503": 1.0}, retryAfter503=0.01)
    once = RetryPolicy(attempts=1)
    async with agencyaccess_emulator.session() as session:
        view = session.with_options(retry=once) if where == "view" else session
        options = {"retry": once} if where == "call" else {}
        with pytest.raises(ServerError):
            await view.clients.create(name="A", email="a@a.test", idempotency_key="k-1", **options)
        with pytest.raises(ServerError):
            await view.links.find_like(
                NewLink(client_id="cl_1", services={"google": {}}), **options
            )
    sent = [entry["operation"] for entry in await admin.requests()]
    assert sent.count("clients.list") == 1
    assert sent.count("links.list") == 1
    assert "clients.create" not in sent  # the lookup failed: nothing was created blindly


@pytest.mark.parametrize(
    "skew", [-86_400.0, 600.0, 86_400.0], ids=["day-slow", "10min-fast", "day-fast"]
)
async def test_a_lost_link_create_makes_one_link_whatever_the_local_clock_says(
    agencyaccess_emulator: RunningEmulator, skew: float
) -> None:
    """Every links.create answer lost, the local clock off: the lookup reads the server's clock.

    The request loop's wall clock is set ``skew`` seconds off; the server's
    Date header is what bounds the search, so the first create is found,
    never made a second or third time.
    """
    admin = agencyaccess_emulator.admin
    services = {"google": {"googleAds": {"accessLevel": "standard",
                                         "agencyAccountID": "acct_google_1"}}}  # fmt: skip
    async with agencyaccess_emulator.session() as session:
        client = await session.clients.create(name="Acme", email="ops@acme.test")
        session._requester.clock = lambda: time.time() + skew
        await admin.set_faults(dropAfter=1.0, routes=["links.create"])
        link = await session.links.create(client.client_id, services=services)
        await admin.set_faults()
        made = await session.links.list(client_id=client.client_id).collect()
    assert [found.link_id for found in made] == [link.link_id]
    sent = [entry["operation"] for entry in await admin.requests()]
    assert sent.count("links.create") == 1
