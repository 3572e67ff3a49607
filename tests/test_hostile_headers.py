"""Hostile header values: ignored with one DEBUG line, never raised, and no limiter slot kept.

A purpose-written server answers every request with a valid envelope and one
hostile value in one header, on the first answer or on a later one. Every
call must succeed, and calls after it must not wait on a slot or a probe the
bad answer kept.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

import agencyaccess_async as aa
from agencyaccess_async._http import header_number, parse_retry_after

from .helpers import SECRET_KEY, serve_app

pytestmark = pytest.mark.socket

HOSTILE = ["inf", "-inf", "nan", "NaN", "1e999", "Infinity", "-3", "garbage", "", "9" * 400,
           "0x10", "1_000", "  ", "\u0661"]  # fmt: skip
HEADERS = ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"]
GOOD = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "99", "X-RateLimit-Reset": "1"}


@pytest.mark.unit
@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_number_is_ignored(value: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="agencyaccess_async"):
        assert header_number(value, "X-RateLimit-Remaining") is None
        assert parse_retry_after(value) is None
    assert "ignoring" in caplog.text


@pytest.fixture
async def hostile_server() -> AsyncIterator[tuple[str, dict[str, str]]]:
    """A server whose answers carry the headers in ``sent`` (the test sets them as it goes)."""
    sent: dict[str, str] = dict(GOOD)

    async def answer(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response(
            {"error": False, "data": [], "nextCursor": None}, headers=dict(sent)
        )

    app = web.Application()
    app.router.add_post("/api/clients/list", answer)
    async with serve_app(app) as url:
        yield url, sent


@pytest.mark.parametrize("header", HEADERS)
@pytest.mark.parametrize("when", ["first answer", "a later answer"])
async def test_hostile_values_fail_no_call_and_keep_no_slot(
    hostile_server: tuple[str, dict[str, str]], header: str, when: str
) -> None:
    url, sent = hostile_server
    async with aa.Session(
        SECRET_KEY, base_url=url, max_concurrency=2, retry=aa.RetryPolicy(deadline=5)
    ) as session:
        if when == "a later answer":
            for _ in range(3):
                await session.clients.list().page()
        for value in HOSTILE:
            sent.clear()
            sent.update(GOOD)
            sent[header] = value
            for _ in range(3):  # more calls than slots: a kept slot would stall the third
                assert (await session.clients.list().page()).items == ()
        assert session.stats.requests == (3 if when == "a later answer" else 0) + 3 * len(HOSTILE)


@pytest.mark.parametrize("length", ["inf", "-1", "1e999", "nan", "9" * 40, "12, 13"])
async def test_a_hostile_content_length_is_a_transport_error_not_a_crash(length: str) -> None:
    """The answer's Content-Length is garbage: a typed TransportError, and the Session goes on."""
    import asyncio

    answers = [0]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        answers[0] += 1
        body = b'{"error":false,"data":[],"nextCursor":null}'
        if answers[0] == 1:
            head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {length}"
        else:
            head = (
                f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
            )
        writer.write(head.encode() + b"\r\nConnection: close\r\n\r\n" + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with aa.Session(SECRET_KEY, base_url=f"http://127.0.0.1:{port}") as session:
            with pytest.raises(aa.TransportError):
                await session.clients.list(retry=aa.RetryPolicy.none()).page()
            assert (await session.clients.list().page()).items == ()
    finally:
        server.close()
        await server.wait_closed()
