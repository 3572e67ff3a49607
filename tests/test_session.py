"""Tier 2: Session behaviour through MockTransport — headers, lifecycle, loops, limits, secrets."""

from __future__ import annotations

import asyncio
import gc
import re

import pytest

from agencyaccess_async import (
    AgencyAccessError,
    APIError,
    Client,
    RetryPolicy,
    ServerError,
    Session,
    SessionError,
    Timeout,
)
from agencyaccess_async.lowlevel import Request, Response
from agencyaccess_async.testing import MockTransport

from .helpers import SECRET_KEY, client_json, fail, ok

pytestmark = pytest.mark.unit


def make_session(handler, **kwargs) -> tuple[Session, MockTransport]:  # type: ignore[no-untyped-def]
    transport = MockTransport(handler)
    return Session(
        SECRET_KEY, base_url="https://api.test", transport=transport, **kwargs
    ), transport


async def test_sends_auth_content_type_user_agent_and_request_id() -> None:
    """Every request carries X-Auth, JSON content type, the User-Agent and a fresh request id."""
    session, transport = make_session(lambda r: ok(client_json()))
    async with session:
        await session.clients.retrieve("cl_1")
        await session.clients.retrieve("cl_1")
    first, second = transport.requests
    assert first.api_key.reveal() == SECRET_KEY and "X-Auth" not in first.headers
    assert first.headers["Content-Type"] == "application/json"
    assert re.fullmatch(
        r"agencyaccess-async/\S+ aiohttp/\S+ python/\S+", first.headers["User-Agent"]
    )
    assert first.request_id and second.request_id and first.request_id != second.request_id
    assert str(first.url) == "https://api.test/api/clients/retrieve"


async def test_request_id_is_kept_across_retries() -> None:
    """Retries of one call reuse its X-Request-ID."""
    answers = iter([fail(500, "boom"), ok(client_json())])
    session, transport = make_session(lambda r: next(answers))
    async with session:
        await session.clients.retrieve("cl_1")
    assert len(transport.requests) == 2
    assert transport.requests[0].request_id == transport.requests[1].request_id


async def test_missing_key_is_an_error_at_first_call_not_construction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Session without a key can be built; its first call raises a clear SessionError."""
    monkeypatch.delenv("AGENCYACCESS_API_KEY", raising=False)
    session = Session(transport=MockTransport(lambda r: ok({})))
    with pytest.raises(SessionError, match="AGENCYACCESS_API_KEY"):
        await session.clients.retrieve("cl_1")
    await session.aclose()


async def test_key_and_base_url_default_to_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """AGENCYACCESS_API_KEY and AGENCYACCESS_BASE_URL are the defaults."""
    monkeypatch.setenv("AGENCYACCESS_API_KEY", SECRET_KEY)
    monkeypatch.setenv("AGENCYACCESS_BASE_URL", "http://127.0.0.1:9/prefix/")
    transport = MockTransport(lambda r: ok(client_json()))
    async with Session(transport=transport) as session:
        await session.clients.retrieve("cl_1")
    assert transport.requests[0].api_key.reveal() == SECRET_KEY
    assert str(transport.requests[0].url) == "http://127.0.0.1:9/prefix/api/clients/retrieve"


def test_default_base_url_is_the_hosted_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without configuration the Session points at the hosted API."""
    monkeypatch.delenv("AGENCYACCESS_BASE_URL", raising=False)
    assert str(Session("k").base_url) == "https://api.agencyaccess.co"


def test_use_from_another_event_loop_is_refused() -> None:
    """A Session bound to one loop raises SessionError when used from another."""
    session, _ = make_session(lambda r: ok(client_json()))
    asyncio.run(session.clients.retrieve("cl_1"))
    with pytest.raises(SessionError, match="another event loop"):
        asyncio.run(session.clients.retrieve("cl_1"))
    asyncio.run(session.aclose())


async def test_close_twice_and_use_after_close() -> None:
    """aclose() is idempotent; a closed Session refuses calls."""
    session, transport = make_session(lambda r: ok(client_json()))
    await session.aclose()
    await session.aclose()
    with pytest.raises(SessionError, match="closed"):
        await session.clients.retrieve("cl_1")
    assert not transport.closed  # a transport passed in is the caller's to close


async def test_unclosed_session_warns_resource_warning() -> None:
    """A Session that created its transport and is never closed gives a ResourceWarning."""
    session = Session(SECRET_KEY, base_url="http://127.0.0.1:9")
    await session.__aenter__()  # binds and creates the transport, as 'async with' does
    transport = session.transport
    assert transport is not None
    with pytest.warns(ResourceWarning, match="unclosed") as record:
        del session
        gc.collect()
    assert all(SECRET_KEY not in str(w.message) for w in record)
    await transport.aclose()


async def test_max_concurrency_bounds_requests_in_flight() -> None:
    """No more than max_concurrency requests are in flight at once."""
    in_flight = peak = 0

    async def slow(request: Request) -> Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return ok(client_json())

    session, transport = make_session(slow, max_concurrency=4)
    async with session:
        await asyncio.gather(*(session.clients.retrieve("cl_1") for _ in range(40)))
    assert peak == 4
    assert len(transport.requests) == 40


async def test_per_call_timeout_overrides_session_default() -> None:
    """A call's timeout reaches the transport; others get the Session's default."""
    session, transport = make_session(lambda r: ok(client_json()), timeout=Timeout(read=5))
    async with session:
        await session.clients.retrieve("cl_1", timeout=Timeout(read=1, total=2))
        await session.clients.retrieve("cl_1")
    assert transport.requests[0].timeout == Timeout(read=1, total=2)
    assert transport.requests[1].timeout == Timeout(read=5)


async def test_api_errors_carry_operation_status_msg_request_id_and_attempts() -> None:
    """An API error names the operation, status, message, request id and attempts."""
    session, _ = make_session(
        lambda r: fail(404, "Client does not exist. cl_9", {"X-Request-ID": "srv-1"})
    )
    async with session:
        with pytest.raises(APIError) as info:
            await session.clients.retrieve("cl_9")
    error = info.value
    assert (error.operation, error.status, error.request_id) == ("clients.retrieve", 404, "srv-1")
    assert error.message == "Client does not exist. cl_9"
    assert error.attempts == 1


async def test_the_key_never_appears_in_reprs_or_errors() -> None:
    """Session, request, response and error reprs and strings never contain the API key."""
    session, transport = make_session(lambda r: fail(500, "boom"), retry=RetryPolicy.none())
    texts = [repr(session), str(session)]
    async with session:
        with pytest.raises(AgencyAccessError) as info:
            await session.clients.retrieve("cl_1")
        texts += [repr(session), repr(session.clients), repr(session.stats)]
    error = info.value
    assert isinstance(error, ServerError)
    texts += [str(error), repr(error), repr(error.__dict__)]
    texts += [repr(transport), repr(transport.requests[0]), str(transport.requests[0])]
    texts += [repr(fail(500, "boom"))]
    assert all(SECRET_KEY not in text for text in texts)


async def test_decodes_to_models() -> None:
    """The data of an answer is decoded to the operation's model."""
    session, _ = make_session(lambda r: ok(client_json("cl_7")))
    async with session:
        client = await session.clients.retrieve("cl_7")
    assert isinstance(client, Client) and client.client_id == "cl_7"


def test_invalid_settings_fail_clearly_and_leave_no_finalizer_noise() -> None:
    """A bad max_concurrency or rate is a ValueError at construction, and __del__ stays quiet."""
    with pytest.raises(ValueError, match="max_concurrency"):
        Session(SECRET_KEY, max_concurrency=0)
    with pytest.raises(ValueError, match="rate"):
        Session(SECRET_KEY, rate_limit=-1)
    gc.collect()
