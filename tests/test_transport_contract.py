"""One contract, every transport: AiohttpTransport, HttpxTransport and MockTransport.

Each test runs a Session over each transport against purpose-written
loopback servers. Where a promise is about the wire (decompression,
sockets, timeouts), MockTransport, which has no wire, is skipped with the
reason; the rest hold for it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import socket
import struct
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import httpx
import pytest
import respx
from aiohttp import web

import agencyaccess_async as aa
from agencyaccess_async.lowlevel import Request, Response, Transport
from agencyaccess_async.testing import MockTransport
from agencyaccess_async.types import ResponseEvent

from .helpers import SECRET_KEY, client_json, closed_port, serve_app

pytestmark = pytest.mark.socket

KINDS = ("aiohttp", "httpx", "mock")
NO_RETRY = aa.RetryPolicy.none()


_MADE: list[Transport] = []


def transport(kind: str, handler: Any = None, **options: Any) -> Transport:
    """A transport of this kind, closed after the test (a caller's: the Session never closes it)."""
    made: Transport
    if kind == "aiohttp":
        made = aa.AiohttpTransport(**options)
    elif kind == "httpx":
        made = aa.HttpxTransport(**options)
    else:
        made = MockTransport(handler)
    _MADE.append(made)
    return made


@pytest.fixture(autouse=True)
async def _close_transports() -> AsyncIterator[None]:
    yield
    while _MADE:
        await _MADE.pop().aclose()


@contextlib.asynccontextmanager
async def session_on(
    kind: str, app: web.Application, mock: Any, **options: Any
) -> AsyncIterator[aa.Session]:
    """A Session over a transport of this kind: to ``app`` on a loopback port, or to ``mock``."""
    async with (
        serve_app(app) as base_url,
        aa.Session(SECRET_KEY, base_url=base_url, transport=transport(kind, mock), **options) as s,
    ):
        yield s


def no_wire(kind: str) -> None:
    if kind == "mock":
        pytest.skip("MockTransport has no wire: decompression, sockets and timeouts are not its")


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def elsewhere() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    """Another host: it records what reaches it (nothing should)."""
    seen: list[dict[str, str]] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.json_response({"error": False, "data": []})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    async with serve_app(app) as base_url:
        yield base_url, seen


async def test_redirects_are_not_followed_and_the_key_never_travels(
    kind: str, elsewhere: tuple[str, list[dict[str, str]]]
) -> None:
    target, seen = elsewhere
    headers_seen: list[dict[str, str]] = []

    async def redirect(request: web.Request) -> web.Response:
        headers_seen.append(dict(request.headers))
        raise web.HTTPTemporaryRedirect(f"{target}/api/clients/retrieve")

    def mock(request: Request) -> Response:
        headers_seen.append(dict(request.headers))  # the Request's headers: never the key
        return Response(307, {"Location": f"{target}/api/clients/retrieve"})

    app = web.Application()
    app.router.add_post("/api/clients/retrieve", redirect)
    async with session_on(kind, app, mock, retry=NO_RETRY) as session:
        with pytest.raises(aa.RedirectError):
            await session.clients.retrieve("cl_1")
    assert seen == []  # the other host got nothing
    (headers,) = headers_seen
    assert headers.get("X-Auth") == (None if kind == "mock" else SECRET_KEY)


async def test_the_body_cap_counts_bytes_after_decompression(kind: str) -> None:
    """64 KiB of JSON, gzipped to a few hundred bytes, against a 16 KiB cap: refused."""
    no_wire(kind)
    big = json.dumps({"error": False, "data": client_json(name="x" * 65536)}).encode()

    async def bomb(request: web.Request) -> web.Response:
        body = gzip.compress(big)
        assert len(body) < 16 * 1024
        return web.Response(body=body, headers={"Content-Encoding": "gzip",
                                                "Content-Type": "application/json"})  # fmt: skip

    app = web.Application()
    app.router.add_post("/api/clients/retrieve", bomb)
    async with serve_app(app) as base_url:
        chosen = transport(kind, max_response_bytes=16 * 1024)
        async with aa.Session(
            SECRET_KEY, base_url=base_url, transport=chosen, retry=NO_RETRY
        ) as session:
            with pytest.raises(aa.ProtocolError, match="max_response_bytes"):
                await session.clients.retrieve("cl_1")


@pytest.fixture
def unaccepting() -> Iterator[int]:
    """A port whose accept queue is full: a new connection waits for ever (connect timeout)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    for _ in range(8):  # fill the accept queue (and the SYN queue's leeway)
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(listener.getsockname())
        fillers.append(filler)
    try:
        yield int(listener.getsockname()[1])
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


async def test_connect_timeout(kind: str, unaccepting: int) -> None:
    no_wire(kind)
    chosen = transport(kind)
    async with aa.Session(
        SECRET_KEY, base_url=f"http://127.0.0.1:{unaccepting}", transport=chosen,
        retry=NO_RETRY, timeout=aa.Timeout(connect=0.3, total=5),
    ) as session:  # fmt: skip
        with pytest.raises(aa.RequestTimeoutError) as caught:
            await session.clients.retrieve("cl_1")
    assert caught.value.kind == "connect"
    assert caught.value.may_have_reached_server is False


@pytest.fixture
async def silent() -> AsyncIterator[str]:
    """A server that reads the request and never answers (until the test ends)."""
    done = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await done.wait()
        return web.json_response({"error": False, "data": client_json()})

    app = web.Application()
    app.router.add_post("/api/clients/retrieve", hang)
    async with serve_app(app) as base_url:
        yield base_url
        done.set()


@pytest.mark.parametrize(
    ("given", "expected"), [({"read": 0.3}, "read"), ({"total": 0.3}, "total")]
)
async def test_read_and_total_timeouts(
    kind: str, silent: str, given: dict[str, float], expected: str
) -> None:
    no_wire(kind)
    chosen = transport(kind)
    async with aa.Session(
        SECRET_KEY, base_url=silent, transport=chosen, retry=NO_RETRY,
        timeout=aa.Timeout(**given),
    ) as session:  # fmt: skip
        with pytest.raises(aa.RequestTimeoutError) as caught:
            await session.clients.retrieve("cl_1")
    assert caught.value.kind == expected
    assert caught.value.may_have_reached_server is True


async def test_exceptions_say_whether_the_request_may_have_arrived(kind: str) -> None:
    """A closed port: never sent. A connection dropped after the request: may have arrived."""
    no_wire(kind)
    chosen = transport(kind)
    async with aa.Session(
        SECRET_KEY, base_url=f"http://127.0.0.1:{closed_port()}", transport=chosen,
        retry=NO_RETRY,
    ) as session:  # fmt: skip
        with pytest.raises(aa.ConnectError) as refused:
            await session.clients.retrieve("cl_1")
    assert refused.value.may_have_reached_server is False

    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(drop, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with (
        server,
        aa.Session(
            SECRET_KEY, base_url=f"http://127.0.0.1:{port}", transport=chosen, retry=NO_RETRY
        ) as session,
    ):
        with pytest.raises(aa.RemoteDisconnectedError) as dropped:
            await session.clients.retrieve("cl_1")
    assert dropped.value.may_have_reached_server is True
    assert SECRET_KEY not in repr(dropped.value) + str(dropped.value)
    assert dropped.value.__cause__ is None and dropped.value.__suppress_context__


async def test_a_callers_client_is_never_closed(kind: str) -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.json_response({"error": False, "data": client_json()})

    app = web.Application()
    app.router.add_post("/api/clients/retrieve", answer)
    async with serve_app(app) as base_url:
        if kind == "aiohttp":
            own: Any = aiohttp.ClientSession(raise_for_status=True)
            chosen: Transport = aa.AiohttpTransport(session=own)
        elif kind == "httpx":
            own = httpx.AsyncClient(follow_redirects=True)
            chosen = aa.HttpxTransport(client=own)
        else:
            own = chosen = MockTransport(lambda request: Response(200, {}, json.dumps(
                {"error": False, "data": client_json()}).encode()))  # fmt: skip
        async with aa.Session(SECRET_KEY, base_url=base_url, transport=chosen) as session:
            assert (await session.clients.retrieve("cl_1")).client_id == "cl_1"
        if kind == "aiohttp":
            assert not own.closed
            await own.close()
        elif kind == "httpx":
            assert not own.is_closed
            await own.aclose()
        else:
            assert not own.closed


async def test_respx_mocks_the_sdk_over_httpx() -> None:
    """With HttpxTransport, respx intercepts the SDK's calls like any httpx code's."""
    with respx.mock(base_url="https://api.agencyaccess.example") as router:
        route = router.post("/api/clients/create").respond(
            201, json={"error": False, "data": client_json("cl_respx")}
        )
        async with aa.Session(
            SECRET_KEY, base_url="https://api.agencyaccess.example",
            transport=aa.HttpxTransport(),
        ) as session:  # fmt: skip
            client = await session.clients.create(name="Ada", email="ada@example.test")
    assert client.client_id == "cl_respx"
    assert route.call_count == 1
    sent = route.calls.last.request
    assert json.loads(sent.content)["name"] == "Ada"
    assert sent.headers["X-Auth"] == SECRET_KEY


async def test_every_attempt_reports_how_long_it_took(kind: str) -> None:
    """on_response carries the attempt's time, whatever the transport measures itself.

    The limiter dates the server's rate-limit window from the same figure.
    """

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.02)
        return web.json_response({"error": False, "data": client_json()})

    async def mock(request: Request) -> Response:
        await asyncio.sleep(0.02)
        return Response.json({"error": False, "data": client_json()})

    events: list[ResponseEvent] = []
    hooks = aa.Hooks()
    hooks.on_response.append(events.append)
    app = web.Application()
    app.router.add_post("/api/clients/retrieve", slow)
    async with session_on(kind, app, mock, hooks=hooks) as session:
        await session.clients.retrieve("cl_1")
    (event,) = events
    assert event.elapsed > 0.01  # the 20 ms sleep is in it: never 0, never a default


_JSON = json.dumps({"error": False, "data": client_json()}).encode()
#: Answers that are not valid HTTP, as raw bytes; None: a reset before any answer.
HOSTILE: dict[str, bytes | None] = {
    "bad status line": b"HTTP/1.1 two-hundred OK\r\nContent-Length: 2\r\n\r\n{}",
    "bad chunking": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    + _JSON
    + b"\r\n0\r\n\r\n",
    "duplicate Content-Length": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: "
    + str(len(_JSON)).encode()
    + b"\r\n\r\n"
    + _JSON,
    # 200 headers: httpx and aiohttp before 3.14 take them, aiohttp since refuses; the SDK
    # holds every transport to 128.
    "200 headers": b"HTTP/1.1 200 OK\r\n"
    + b"".join(b"X-H%d: v\r\n" % i for i in range(200))
    + b"Content-Length: %d\r\n\r\n" % len(_JSON)
    + _JSON,
    "20,000 headers": b"HTTP/1.1 200 OK\r\n"
    + b"".join(b"X-H%d: v\r\n" % i for i in range(20_000))
    + b"Content-Length: %d\r\n\r\n" % len(_JSON)
    + _JSON,
    "corrupt gzip": b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 36\r\n\r\n"
    + b"\x1f\x8b\x08\x00"
    + b"garbage!" * 4,
    "100 KB header": b"HTTP/1.1 200 OK\r\nX-Big: "
    + b"a" * 100_000
    + b"\r\nContent-Length: %d\r\n\r\n" % len(_JSON)
    + _JSON,
    "reset before any answer": None,
}
#: The status of a malformed answer's ProtocolError: 0, but when only the body is at fault.
READ_STATUS = {"corrupt gzip": 200}


@contextlib.asynccontextmanager
async def hostile_server(answer: bytes | None) -> AsyncIterator[tuple[str, list[int]]]:
    """A raw server: each request read whole, then ``answer`` sent, or the connection reset."""
    requests: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (int(line.split(b":")[1]) for line in head.split(b"\r\n")
                 if line.lower().startswith(b"content-length:")), 0,
            )  # fmt: skip
            await reader.readexactly(length)
            requests.append(1)
            if answer is None:  # RST, not FIN: SO_LINGER with a zero timeout
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
                return
            writer.write(answer)
            await writer.drain()
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", requests


def _as_the_contract_says(case: str) -> aa.TransportError:
    """What a transport raises for ``case``: what the mock raises to simulate it."""
    if HOSTILE[case] is None:
        return aa.RemoteDisconnectedError("connection dropped", before_answer=True)
    return aa.ProtocolError("the answer is not valid HTTP", status=READ_STATUS.get(case, 0))


@pytest.mark.parametrize("case", list(HOSTILE))
async def test_every_transport_maps_a_hostile_answer_to_one_error_and_one_resend_count(
    kind: str, case: str
) -> None:
    """Answers that are not HTTP (or past its limits), or none: one error class and count.

    Three attempts: a malformed answer is retried (a read) like any answer
    that may have been processed, 3 requests; a reset before any answer is
    also resent once at once, uncounted (a pooled connection the server
    closed looks the same), 4 requests. Before, aiohttp and httpx differed
    in six of the seven classes, httpx accepted the 100 KB header, and only
    aiohttp resent after a reset.
    """
    expected = _as_the_contract_says(case)
    mocked: list[int] = []

    def mock(request: Request) -> Response:
        mocked.append(1)
        raise _as_the_contract_says(case)

    retry = aa.RetryPolicy(attempts=3, backoff_initial=0.001, backoff_max=0.001)
    async with (
        hostile_server(HOSTILE[case]) as (base_url, requests),
        aa.Session(
            SECRET_KEY, base_url=base_url, transport=transport(kind, mock), retry=retry
        ) as session,
    ):
        with pytest.raises(aa.TransportError) as caught:
            await session.clients.retrieve("cl_1")
    assert type(caught.value) is type(expected)
    assert len(mocked if kind == "mock" else requests) == (4 if HOSTILE[case] is None else 3)
    if isinstance(expected, aa.ProtocolError):
        assert isinstance(caught.value, aa.ProtocolError)
        assert caught.value.status == expected.status
        assert "not valid HTTP" in str(caught.value) and "aaaa" not in str(caught.value)
    else:
        assert isinstance(caught.value, aa.RemoteDisconnectedError) and caught.value.before_answer
