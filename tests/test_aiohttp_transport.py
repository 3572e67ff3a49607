"""AiohttpTransport against a real aiohttp server on 127.0.0.1 (port 0)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from agencyaccess_async import (
    AiohttpTransport,
    ConnectError,
    RemoteDisconnectedError,
    RequestTimeoutError,
    Session,
    Timeout,
)
from agencyaccess_async.lowlevel import Request

from .helpers import SECRET_KEY, client_json, closed_port, serve_app

pytestmark = pytest.mark.socket


async def _echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.json_response(
        {"error": False, "data": {**client_json(), "name": body.decode()}},
        headers={"X-Request-ID": request.headers.get("X-Request-ID", "")},
    )


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(2)
    return web.json_response({"error": False, "data": {}})


async def _drop(request: web.Request) -> web.Response:
    await request.read()
    assert request.transport is not None
    request.transport.close()
    return web.Response()


@pytest.fixture
async def server() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/echo", _echo)
    app.router.add_post("/api/clients/retrieve", _echo)
    app.router.add_post("/slow", _slow)
    app.router.add_post("/drop", _drop)
    async with serve_app(app) as url:
        yield url


def _request(url: str, timeout: Timeout | None = None) -> Request:
    return Request("POST", URL(url), {"X-Request-ID": "rid-9"}, b"hello", "test.op", timeout)


async def test_round_trip_over_loopback(server: str) -> None:
    """A request goes out and the status, headers, body and elapsed time come back."""
    async with AiohttpTransport() as transport:
        response = await transport.send(_request(server + "/echo"))
    assert response.status == 200
    assert response.request_id == "rid-9"
    assert b'"name": "hello"' in response.body
    assert response.elapsed > 0


async def test_session_end_to_end_over_loopback(server: str) -> None:
    """A Session with its default transport reaches a real server and decodes the answer."""
    async with Session(SECRET_KEY, base_url=server) as session:
        client = await session.clients.retrieve("cl_1")
    assert client.name == '{"clientID":"cl_1"}'


async def test_connection_refused_is_connect_error_that_never_reached() -> None:
    """A refused connection is a ConnectError: the request provably never reached a server."""
    port = closed_port()
    async with AiohttpTransport() as transport:
        with pytest.raises(ConnectError) as info:
            await transport.send(_request(f"http://127.0.0.1:{port}/echo"))
    assert info.value.may_have_reached_server is False
    assert info.value.request_id == "rid-9"


async def test_read_timeout_may_have_reached(server: str) -> None:
    """A read timeout says so, and that the server may have acted on the request."""
    async with AiohttpTransport() as transport:
        with pytest.raises(RequestTimeoutError) as info:
            await transport.send(_request(server + "/slow", Timeout(read=0.2, total=5)))
    assert info.value.kind == "read"
    assert info.value.may_have_reached_server is True


async def test_total_timeout(server: str) -> None:
    """A total timeout is a RequestTimeoutError of kind total."""
    async with AiohttpTransport() as transport:
        with pytest.raises(RequestTimeoutError) as info:
            await transport.send(_request(server + "/slow", Timeout(read=None, total=0.2)))
    assert info.value.kind == "total"


async def test_dropped_connection_is_remote_disconnected(server: str) -> None:
    """A connection closed after the body was sent is RemoteDisconnectedError (outcome unknown)."""
    async with AiohttpTransport() as transport:
        with pytest.raises(RemoteDisconnectedError) as info:
            await transport.send(_request(server + "/drop"))
    assert info.value.may_have_reached_server is True


async def test_callers_client_session_is_left_open(server: str) -> None:
    """A ClientSession passed in is used but never closed by the transport or Session."""
    async with aiohttp.ClientSession() as http:
        transport = AiohttpTransport(session=http)
        async with Session(SECRET_KEY, base_url=server, transport=transport) as session:
            await session.clients.retrieve("cl_1")
        await transport.aclose()
        assert not http.closed
        async with http.post(server + "/echo", data=b"still open") as answer:
            assert answer.status == 200


async def test_session_closes_the_transport_it_created(server: str) -> None:
    """The Session closes the aiohttp session it created."""
    session = Session(SECRET_KEY, base_url=server)
    async with session:
        await session.clients.retrieve("cl_1")
        transport = session.transport
    assert isinstance(transport, AiohttpTransport)
    assert transport._session.closed
