"""Tier 2: what is resent, what is reconciled, deadlines, hooks, logging — through MockTransport."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from agencyaccess_async import (
    AuthenticationError,
    ConnectError,
    Hooks,
    InvalidRequestError,
    Limiter,
    NotFoundError,
    OutcomeUnknownError,
    RemoteDisconnectedError,
    RequestTimeoutError,
    RetryPolicy,
    ServerError,
    Session,
)
from agencyaccess_async._retry import Action, Tried, decide
from agencyaccess_async._routes import Kind
from agencyaccess_async.lowlevel import IDEMPOTENCY_METADATA_KEY, Request, Response
from agencyaccess_async.testing import MockTransport
from agencyaccess_async.types import DeletedClient

from .helpers import SECRET_KEY, body_of, client_json, fail, link_json, ok, subscribe_to_everything

pytestmark = pytest.mark.unit


class Script:
    """Answers each request of a route from a list of scripted outcomes (Response or exception)."""

    def __init__(self, **routes: list[Any]) -> None:
        self.routes = {
            f"/api/{name.replace('_', '/')}": list(steps) for name, steps in routes.items()
        }
        self.log: list[tuple[str, Any]] = []

    def __call__(self, request: Request) -> Response:
        self.log.append((request.url.path, body_of(request)))
        step = self.routes[request.url.path].pop(0)
        if callable(step):
            step = step(request)
        if isinstance(step, BaseException):
            raise step
        return step

    def paths(self) -> list[str]:
        return [path for path, _ in self.log]


def session_for(script: Callable[[Request], Response], **kwargs: Any) -> Session:
    return Session(
        SECRET_KEY, base_url="https://api.test", transport=MockTransport(script), **kwargs
    )


def dropped() -> RemoteDisconnectedError:
    return RemoteDisconnectedError("connection dropped")


@pytest.mark.parametrize(
    ("kind", "error", "action"),
    [
        (Kind.CREATE, ConnectError("refused"), Action.RETRY),
        (Kind.CREATE, RequestTimeoutError("pool", kind="pool"), Action.RETRY),
        (Kind.CREATE, RequestTimeoutError("read", kind="read"), Action.RECONCILE),
        (Kind.CREATE, RemoteDisconnectedError("dropped"), Action.RECONCILE),
        (Kind.CREATE, ServerError("x", status=502), Action.RECONCILE),
        (Kind.CREATE, ServerError("x", status=503, retry_after=1), Action.RETRY),
        (Kind.CREATE, ServerError("x", status=503), Action.RECONCILE),
        (Kind.READ, RemoteDisconnectedError("dropped"), Action.RETRY),
        (Kind.UPDATE, ServerError("x", status=500), Action.RETRY),
        (Kind.DELETE, RequestTimeoutError("read", kind="read"), Action.RETRY),
        (Kind.READ, InvalidRequestError("bad", status=400), Action.FAIL),
    ],
)
def test_decide_is_the_one_place(kind: Kind, error: Exception, action: Action) -> None:
    """decide() maps operation kind and error to resend, reconcile or fail."""
    assert decide(kind, error) is action


def _early_reset() -> RemoteDisconnectedError:
    return RemoteDisconnectedError("closed before any answer", before_answer=True)


@pytest.mark.parametrize(
    ("kind", "error", "tried", "action"),
    [
        (Kind.DELETE, NotFoundError("gone", status=404), Tried(maybe_done=True), Action.DONE),
        (Kind.DELETE, NotFoundError("gone", status=404), Tried(), Action.FAIL),
        (Kind.READ, AuthenticationError("no", status=401), Tried(refreshable=True),
         Action.REFRESH_KEY),
        (Kind.READ, AuthenticationError("no", status=401),
         Tried(refreshable=True, key_refreshed=True), Action.FAIL),
        (Kind.READ, AuthenticationError("no", status=401), Tried(), Action.FAIL),
        (Kind.UPDATE, _early_reset(), Tried(), Action.RESEND),
        (Kind.UPDATE, _early_reset(), Tried(resent=True), Action.RETRY),
        (Kind.CREATE, _early_reset(), Tried(), Action.RECONCILE),
    ],
)  # fmt: skip
def test_decide_also_says_done_refresh_the_key_and_resend_now(
    kind: Kind, error: Exception, tried: Tried, action: Action
) -> None:
    """The once-only actions are decide()'s too; the request loop only carries them out."""
    assert decide(kind, error, tried) is action


async def test_reads_are_retried_on_5xx_and_drops() -> None:
    """A retrieve is resent after a 500 and a dropped connection."""
    script = Script(clients_retrieve=[fail(500, "boom"), dropped(), ok(client_json())])
    async with session_for(script) as session:
        with session.capture_responses() as responses:
            client = await session.clients.retrieve("cl_1")
    assert client.client_id == "cl_1"
    assert responses[0].attempts == 3
    assert responses[0].status == 200
    assert session.stats.retries == 2


async def test_client_errors_are_not_retried() -> None:
    """A 400 is final: one request."""
    script = Script(clients_retrieve=[fail(400, "Invalid field clientID: bad")])
    async with session_for(script) as session:
        with pytest.raises(InvalidRequestError) as info:
            await session.clients.retrieve("cl_1")
    assert info.value.attempts == 1
    assert len(script.log) == 1


async def test_create_that_never_reached_is_resent() -> None:
    """A connect error on a create is safe to resend as is."""
    script = Script(clients_create=[ConnectError("refused"), ok(client_json("cl_9"))])
    async with session_for(script) as session:
        client = await session.clients.create(name="Acme", email="a@b.co")
    assert client.client_id == "cl_9"
    assert script.paths() == ["/api/clients/create", "/api/clients/create"]
    assert script.log[0][1] == script.log[1][1]  # the same body, the same idempotency key


async def test_unanswered_create_is_reconciled_not_resent() -> None:
    """A create dropped after sending is looked up by its key; found, it is not created again."""
    found = []

    def lookup(request: Request) -> Response:
        key = body_of(request)["search"]
        found.append(key)
        return ok(
            [
                client_json("cl_other"),
                client_json("cl_made", metadata={IDEMPOTENCY_METADATA_KEY: key}),
            ],
            nextCursor=None,
        )

    script = Script(clients_create=[dropped()], clients_list=[lookup])
    async with session_for(script) as session:
        with session.capture_responses() as responses:
            client = await session.clients.create(name="Acme", email="a@b.co")
    assert client.client_id == "cl_made"
    assert script.paths() == ["/api/clients/create", "/api/clients/list"]
    assert script.log[0][1]["metadata"][IDEMPOTENCY_METADATA_KEY] == found[0]
    assert responses[-1].reconciled is True
    assert session.stats.reconciled == 1


async def test_reconciliation_that_finds_nothing_creates_again() -> None:
    """A 502 on a create, then an empty lookup: the create is resent once."""
    script = Script(
        clients_create=[fail(502, "bad gateway"), ok(client_json("cl_2"))],
        clients_list=[ok([], nextCursor=None)],
    )
    async with session_for(script) as session:
        client = await session.clients.create(name="Acme", email="a@b.co")
    assert client.client_id == "cl_2"
    assert script.paths() == ["/api/clients/create", "/api/clients/list", "/api/clients/create"]


async def test_reconciliation_that_cannot_decide_says_outcome_unknown() -> None:
    """If the lookup fails too, the error says the outcome is unknown and keeps the key."""
    script = Script(
        clients_create=[dropped()],
        clients_list=[ok([], nextCursor=None), InvalidRequestError("nope", status=400)],
    )
    async with session_for(script) as session:
        with pytest.raises(OutcomeUnknownError) as info:
            await session.clients.create(name="Acme", email="a@b.co", idempotency_key="row-17")
    assert info.value.idempotency_key == "row-17"
    assert isinstance(info.value.last_error, RemoteDisconnectedError)
    assert "outcome unknown" in str(info.value)
    assert len([p for p in script.paths() if p.endswith("create")]) == 1


async def test_unanswered_link_create_is_matched_by_client_and_services(services: Any) -> None:
    """A dropped links.create finds the link with the same client and services."""
    wire_services = services.to_json()
    match = link_json(
        "ln_made",
        requestedServices=wire_services,
        createdAt=time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
    )
    old = link_json("ln_old", requestedServices=wire_services, createdAt="2020-01-01T00:00:00.000Z")
    other = link_json("ln_other")
    script = Script(links_create=[dropped()], links_list=[ok([old, other, match], nextCursor=None)])
    async with session_for(script) as session:
        link = await session.links.create("cl_1", services=services)
    assert link.link_id == "ln_made"
    assert script.log[1] == ("/api/links/list", {"clientID": "cl_1", "limit": 100})


async def test_delete_not_found_after_an_unanswered_attempt_is_done() -> None:
    """A delete whose first answer was lost and whose resend finds nothing is done."""
    script = Script(clients_delete=[dropped(), fail(404, "Client does not exist. cl_1")])
    async with session_for(script) as session:
        deleted = await session.clients.delete("cl_1")
    assert deleted == DeletedClient("cl_1", True)


async def test_delete_not_found_at_first_attempt_is_an_error() -> None:
    """A plain 404 on the first delete is still an error."""
    script = Script(clients_delete=[fail(404, "Client does not exist. cl_1")])
    async with session_for(script) as session:
        with pytest.raises(NotFoundError, match="does not exist"):
            await session.clients.delete("cl_1")


async def test_attempts_bound_and_per_call_policy() -> None:
    """A call makes at most `attempts` requests; a per-call policy overrides the Session's."""
    script = Script(clients_retrieve=[fail(500, "boom")] * 10)
    async with session_for(script, retry=RetryPolicy(attempts=4)) as session:
        with pytest.raises(ServerError) as info:
            await session.clients.retrieve("cl_1")
        assert info.value.attempts == 4
        with pytest.raises(ServerError) as info:
            await session.clients.retrieve("cl_1", retry=RetryPolicy(attempts=2))
        assert info.value.attempts == 2


@pytest.mark.usefixtures("real_waits")
async def test_deadline_bounds_a_call_that_always_fails() -> None:
    """Against a server that always answers 503, a call gives up by its deadline.

    Every wait is the server's 0.1 s (the jittered backoff is capped below it,
    so no random draw can end the call early): five attempts fit in 0.5 s of
    the 100 allowed, four on a machine slow enough to lose a tenth of it.
    """
    script = Script(clients_retrieve=[fail(503, "unavailable", {"Retry-After": "0.1"})] * 100)
    policy = RetryPolicy(attempts=100, deadline=0.5, backoff_initial=0.05, backoff_max=0.05)
    async with session_for(script, retry=policy) as session:
        with pytest.raises(ServerError) as info:
            await session.clients.retrieve("cl_1")
    assert 4 <= info.value.attempts <= 6


@pytest.mark.usefixtures("real_waits")
async def test_429_pauses_the_whole_session() -> None:
    """A 429 with Retry-After holds every task, not only the one that got it.

    The limiter runs on a virtual clock that moves only when it sleeps: every
    request after the 429 is sent at or after the pause's end on that clock.
    """
    from .test_deadlines import VirtualClock

    clock = VirtualClock()
    paused_at = clock()
    sent: list[float] = []

    def handler(request: Request) -> Response:
        sent.append(clock())
        if len(sent) == 1:
            return fail(429, "Rate limit exceeded", {"Retry-After": "0.5"})
        return ok(client_json())

    limiter = Limiter(1, clock=clock, sleep=clock.sleep)
    async with session_for(handler, limiter=limiter) as session:
        await asyncio.gather(*(session.clients.retrieve("cl_1") for _ in range(5)))
    assert len(sent) == 6
    assert sent[0] == paused_at
    assert min(sent[1:]) >= paused_at + 0.5
    assert session.stats.rate_limited == 1


async def test_hooks_and_logs_never_carry_the_key(caplog: pytest.LogCaptureFixture) -> None:
    """With DEBUG logging and every hook subscribed, the key appears nowhere; bodies stay out."""
    hooks = Hooks()
    events = subscribe_to_everything(hooks)
    script = Script(
        clients_create=[dropped()],
        clients_list=[ok([], nextCursor=None)],
        clients_retrieve=[
            fail(429, "Rate limit exceeded", {"Retry-After": "0"}),
            ok(client_json(email="secret@pii.test")),
        ],
    )
    script.routes["/api/clients/create"].append(ok(client_json()))
    caplog.set_level(logging.DEBUG, logger="agencyaccess_async")
    async with session_for(script, hooks=hooks) as session:
        await session.clients.create(name="Acme", email="secret@pii.test")
        await session.clients.retrieve("cl_1")
    kinds = {type(e).__name__ for e in events}
    assert {"RequestEvent", "ResponseEvent", "RetryEvent"} <= kinds
    text = caplog.text + "".join(repr(e) for e in events)
    assert SECRET_KEY not in text
    assert "secret@pii.test" not in caplog.text  # bodies are off by default
    assert "/api/clients/create" in caplog.text and "attempt=1" in caplog.text


async def test_log_bodies_when_enabled(caplog: pytest.LogCaptureFixture) -> None:
    """log_bodies=True adds request and response bodies to DEBUG lines, never the key."""
    caplog.set_level(logging.DEBUG, logger="agencyaccess_async")
    async with session_for(
        Script(clients_retrieve=[ok(client_json(email="x@pii.test"))]), log_bodies=True
    ) as session:
        await session.clients.retrieve("cl_1")
    assert "x@pii.test" in caplog.text
    assert SECRET_KEY not in caplog.text


async def test_a_failing_hook_does_not_break_the_call(caplog: pytest.LogCaptureFixture) -> None:
    """Exceptions from hooks are logged, not raised."""
    hooks = Hooks(on_request=[lambda e: 1 / 0])
    async with session_for(Script(clients_retrieve=[ok(client_json())]), hooks=hooks) as session:
        assert (await session.clients.retrieve("cl_1")).client_id == "cl_1"
    assert "hook" in caplog.text


async def test_capture_responses_gives_status_headers_request_id_attempts_elapsed() -> None:
    """capture_responses() records the HTTP exchange of each call in the block."""
    answer = Response.json(
        {"error": False, "data": client_json()}, headers={"X-Request-ID": "srv-7", "X-Extra": "1"}
    )
    script = Script(clients_retrieve=[fail(500, "x"), answer, ok(client_json())])
    async with session_for(script) as session:
        with session.capture_responses() as responses:
            await session.clients.retrieve("cl_1")
        await session.clients.retrieve("cl_1")  # outside the block: not captured
    (info,) = responses
    assert (info.operation, info.status, info.attempts) == ("clients.retrieve", 200, 2)
    assert info.headers["X-Extra"] == "1"
    assert info.request_id == "srv-7"
    assert info.elapsed > 0  # measured, not left at its default


async def test_deadline_cuts_a_slow_attempt_short() -> None:
    """An attempt still running at the call's deadline gets only the time left as its total timeout."""
    seen: list[Any] = []

    def handler(request: Request) -> Response:
        seen.append(request.timeout)
        return fail(500, "boom")

    from agencyaccess_async import Timeout

    policy = RetryPolicy(attempts=3, deadline=5.0)
    async with session_for(handler, retry=policy, timeout=Timeout(total=60)) as session:
        with pytest.raises(ServerError):
            await session.clients.retrieve("cl_1")
    assert all(t.total <= 5.0 for t in seen)


def test_testing_mode_nests_and_restores_the_previous_state() -> None:
    """set_testing is a context manager that puts back what was there, so it nests."""
    from agencyaccess_async import _retry
    from agencyaccess_async._retry import set_testing

    policy = RetryPolicy(backoff_initial=1.0, backoff_max=1.0)
    assert _retry._testing  # the suite's autouse fixture
    with set_testing(False):
        assert policy.backoff(3) > 0 or policy.backoff(3) > 0  # real jitter (0 twice is ~never)
        with set_testing(True):
            assert policy.backoff(3) == 0.0
        assert not _retry._testing
    assert _retry._testing


async def test_instant_mode_records_retry_after_and_the_pause_instead_of_sleeping() -> None:
    """In testing mode a 429 with Retry-After: 30 costs nothing, and the 30 s is on record."""
    from agencyaccess_async.testing import instant_retries

    script = Script(
        clients_retrieve=[
            fail(429, "Rate limit exceeded", {"Retry-After": "30"}),
            ok(client_json()),
        ]
    )
    with instant_retries() as waits:
        async with session_for(script) as session:
            client = await asyncio.wait_for(session.clients.retrieve("cl_1"), 5)
    assert client.client_id == "cl_1"
    assert 30.0 in waits


@pytest.mark.unit
def test_the_web_policy_is_a_few_seconds_in_all() -> None:
    """RetryPolicy.web(): three attempts within five seconds, backoff capped at one."""
    from agencyaccess_async import RetryPolicy

    policy = RetryPolicy.web()
    assert (policy.attempts, policy.deadline, policy.backoff_max) == (3, 5.0, 1.0)
    assert RetryPolicy.web(deadline=2).deadline == 2


async def test_events_carry_the_sessions_name_and_the_views_tenant() -> None:
    """name= and with_options(tenant=...) label every event, and every DEBUG record's extra."""
    from agencyaccess_async import Session
    from agencyaccess_async.testing import make_client

    from .helpers import SECRET_KEY, subscribe_to_everything

    transport = MockTransport().respond(
        "clients.retrieve",
        side_effect=[ServerError("busy", status=502), make_client()],
    )
    async with Session(SECRET_KEY, base_url="https://api.test", transport=transport,
                       name="billing") as session:  # fmt: skip
        events = subscribe_to_everything(session.hooks)
        view = session.with_options(tenant="agency-42")
        await view.clients.retrieve("cl_test")
    labelled = [e for e in events if hasattr(e, "tenant")]
    assert len(labelled) == 5  # two requests, two responses, one retry
    assert all(e.session == "billing" and e.tenant == "agency-42" for e in labelled)
