"""Tier 3: promises at the edges, over real loopback sockets: no redirect is followed, bodies are capped."""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from agencyaccess_async import (
    ProtocolError,
    RedirectError,
    RetryPolicy,
    Session,
    WaitTimeoutError,
)

from .helpers import SECRET_KEY, client_json, serve_app

pytestmark = pytest.mark.socket

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@contextlib.asynccontextmanager
async def serve(handler: Handler, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """A purpose-written server on a free loopback port; yields its base URL."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    async with serve_app(app, host) as url:
        yield url


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_to_another_host_never_receives_the_key_or_body(status: int) -> None:
    """A 3xx is a RedirectError naming the target host (never its query); the other host gets nothing."""
    seen_by_other: list[tuple[dict[str, str], bytes]] = []

    async def other(request: web.Request) -> web.Response:
        seen_by_other.append((dict(request.headers), await request.read()))
        return web.json_response({"error": False, "data": client_json()})

    async with serve(other, host="localhost") as other_url:

        async def redirecting(request: web.Request) -> web.Response:
            location = f"{other_url}{request.path}?token=QUERY-SECRET"
            return web.Response(status=status, headers={"Location": location})

        async with serve(redirecting) as api_url, Session(SECRET_KEY, base_url=api_url) as session:
            with pytest.raises(RedirectError) as info:
                await session.clients.create(name="Acme", email="ops@acme.test")
    error = info.value
    assert error.status == status
    assert error.location_host == "localhost"
    assert "localhost" in str(error)
    assert "QUERY-SECRET" not in str(error) + repr(error)
    assert error.attempts == 1  # final: a redirect is not retried
    assert seen_by_other == []


async def test_a_redirect_on_the_same_host_is_not_followed_either() -> None:
    """Even a same-host redirect stops the call: the base URL is wrong and should be fixed."""
    calls: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        calls.append(request.path)
        return web.Response(status=308, headers={"Location": "/v2" + request.path})

    async with serve(handler) as url, Session(SECRET_KEY, base_url=url) as session:
        with pytest.raises(RedirectError) as info:
            await session.clients.retrieve("cl_1")
    assert info.value.location_host is None  # a path on the same host
    assert "another path" in str(info.value)
    assert calls == ["/api/clients/retrieve"]


async def _stream_forever(response: web.StreamResponse, request: web.Request) -> None:
    """Write 64 KiB chunks until the client hangs up (bounded: 64 MiB at most)."""
    await response.prepare(request)
    chunk = b" " * 65536
    with contextlib.suppress(ConnectionError, RuntimeError):
        for _ in range(1024):
            await response.write(chunk)


def _announced(response: web.StreamResponse) -> None:
    response.content_length = 10 * 1024**3  # refused before reading


def _chunked(response: web.StreamResponse) -> None:
    response.enable_chunked_encoding()  # no length: the cap is enforced while reading


@pytest.mark.parametrize("framing", [_announced, _chunked], ids=["announced", "chunked"])
async def test_a_huge_body_fails_at_the_cap(framing: Callable[[web.StreamResponse], None]) -> None:
    """A 10 GiB Content-Length, or an endless chunked body: a ProtocolError, not 10 GiB read."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        framing(response)
        await _stream_forever(response, request)
        return response

    async with (
        serve(handler) as url,
        Session(
            SECRET_KEY, base_url=url, max_response_bytes=1 << 20, retry=RetryPolicy.none()
        ) as s,
    ):
        with pytest.raises(ProtocolError, match="max_response_bytes"):
            await s.clients.retrieve("cl_1")


async def test_a_compressed_bomb_is_measured_after_decompression() -> None:
    """A small gzip body that expands past the cap fails; a normal gzip answer still works."""
    bomb = zlib.compress(b" " * (64 << 20), 9)  # 64 MiB of spaces, ~64 KiB compressed
    assert len(bomb) < 1 << 20
    normal = zlib.compress(b'{"error": false, "data": %s}' % web.json_response(client_json()).body)

    async def handler(request: web.Request) -> web.Response:
        body = normal if request.path.endswith("retrieve") else bomb
        return web.Response(
            body=body, headers={"Content-Type": "application/json", "Content-Encoding": "deflate"}
        )

    async with (
        serve(handler) as url,
        Session(
            SECRET_KEY, base_url=url, max_response_bytes=1 << 20, retry=RetryPolicy.none()
        ) as s,
    ):
        assert (await s.clients.retrieve("cl_1")).client_id == "cl_1"
        with pytest.raises(ProtocolError, match="max_response_bytes"):
            await s.clients.update("cl_1", name="New")


async def test_a_wait_that_runs_out_mid_poll_is_a_wait_timeout_not_a_request_timeout() -> None:
    """wait_until_granted's timeout bounds the poll in flight too, and says so as WaitTimeoutError."""

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1)  # longer than the whole wait
        return web.json_response({"error": False, "data": {"linkID": "ln_1", "status": "pending"}})

    async with serve(slow) as url, Session(SECRET_KEY, base_url=url) as session:
        with pytest.raises(WaitTimeoutError) as info:
            await session.links.wait_until_granted("ln_1", deadline=0.2, poll_interval=0.05)
    assert info.value.last_seen is None
    assert "never read" in str(info.value)
