"""The 64 KiB read buffer: applied on CPython's selector loop, guarded, and harmless to bodies."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from agencyaccess_async import AiohttpTransport, Request
from agencyaccess_async import _read_buffer as rb

from .helpers import serve_app

pytestmark = pytest.mark.socket

BIG = bytes(range(256)) * 4096 + b"end"  # 1 MiB and 3 bytes: sixteen capped reads and more


async def _big(request: web.Request) -> web.StreamResponse:
    await request.read()
    if request.query.get("chunked"):
        answer = web.StreamResponse()
        answer.enable_chunked_encoding()
        await answer.prepare(request)
        for start in range(0, len(BIG), 100_000):
            await answer.write(BIG[start : start + 100_000])
        await answer.write_eof()
        return answer
    return web.Response(body=BIG, content_type="application/octet-stream")


@pytest.fixture
async def server() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/big", _big)
    async with serve_app(app) as url:
        yield url


def _request(url: str) -> Request:
    return Request("POST", URL(url), {"Content-Type": "application/json"}, b"{}", "big")


def test_the_hook_is_available_on_this_python_and_aiohttp() -> None:
    # CI runs every claimed Python with the aiohttp it installs: if this fails,
    # the guard switched the hook off there, and the module needs a look.
    assert rb.HOOKED
    assert rb.connector_class() is rb._CappedConnector


@pytest.mark.parametrize("query", ["", "?chunked=1"])
async def test_new_connections_read_64_kib_and_bodies_arrive_whole(server: str, query: str) -> None:
    async with AiohttpTransport() as transport:
        for _ in range(3):
            answer = await transport.send(_request(server + "/big" + query))
            assert answer.body == BIG
        connector = transport._session.connector
        assert isinstance(connector, rb._CappedConnector)
        assert connector.capped == 1  # one pooled connection, capped once


async def test_cap_sets_the_recv_size_of_a_selector_transport_only(server: str) -> None:
    loop = asyncio.get_running_loop()
    url = URL(server)
    transport, _ = await loop.create_connection(asyncio.Protocol, url.host, url.port)
    try:
        assert transport.max_size == 256 * 1024  # type: ignore[attr-defined]
        assert rb.cap_read_buffer(transport) is True
        assert transport.max_size == rb.READ_BUFFER  # type: ignore[attr-defined]
        assert rb.cap_read_buffer(transport) is False  # already small enough
        assert type(transport).max_size == 256 * 1024  # type: ignore[attr-defined]
    finally:
        transport.close()
    assert rb.cap_read_buffer(object()) is False
    assert rb.cap_read_buffer(None) is False


async def test_without_the_hook_the_plain_connector_is_used(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rb, "HOOKED", False)
    async with AiohttpTransport() as transport:
        assert type(transport._session.connector) is aiohttp.TCPConnector
        assert (await transport.send(_request(server + "/big"))).body == BIG


def test_guard_refuses_a_changed_aiohttp_or_asyncio(monkeypatch: pytest.MonkeyPatch) -> None:
    assert rb._hookable()

    async def renamed(self: Any, request: Any, traces: Any, timeout: Any) -> Any: ...

    monkeypatch.setattr(aiohttp.TCPConnector, "_create_connection", renamed)
    assert not rb._hookable()
    monkeypatch.undo()

    def not_a_coroutine(self: Any, req: Any, traces: Any, timeout: Any) -> Any: ...

    monkeypatch.setattr(aiohttp.TCPConnector, "_create_connection", not_a_coroutine)
    assert not rb._hookable()
    monkeypatch.undo()

    monkeypatch.setattr(rb, "_SELECTOR_TRANSPORT", None)
    assert not rb._hookable()
    assert rb.cap_read_buffer(object()) is False
    assert inspect.iscoroutinefunction(aiohttp.TCPConnector._create_connection)
