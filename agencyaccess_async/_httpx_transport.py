"""``HttpxTransport``: the Session over httpx, for apps already built on it (the ``httpx`` extra).

A second real transport, proof that transports are pluggable, and a fit for
code that already has an ``httpx.AsyncClient`` with its proxies, certificates
and event hooks: give it that client and it is used as it is (and never
closed here). respx then mocks the SDK like any httpx code. HTTP/2 is offered
when ``h2`` is installed (``http2=True`` on a client this transport makes).

It keeps every promise ``AiohttpTransport`` keeps: redirects are never
followed (a 3xx comes back as an answer, for the SDK to refuse); the key is
added at the last moment, by an ``httpx.Auth`` flow, so no mapping of ours
holds it; answers are read in chunks and capped after decompression; httpx's
exceptions are translated here, in one place, and never chained (they carry
the outgoing request, headers and all).

httpx has connect, read, write and pool timeouts but no total one: the
total is an ``asyncio.wait_for`` around the whole exchange.
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
from collections.abc import AsyncGenerator, Generator
from typing import Any

import httpx

from ._auth import APIKey
from ._errors import (
    ConnectError,
    RemoteDisconnectedError,
    RequestTimeoutError,
    TransportError,
    malformed,
)
from ._http import DEFAULT_MAX_RESPONSE_BYTES, Request, Response, Timeout, head_refusal
from ._transport import ClosingContext, read_capped

__all__ = ["HttpxTransport"]

_NO_TIMEOUT_GIVEN = Timeout()
#: How h11 says a connection was closed, before the answer or inside its body: a
#: dropped connection. Its other protocol errors are answers that are not HTTP.
_CUT_SHORT = ("Server disconnected", "peer closed connection", "without sending")


class _Secrets(httpx.Auth):
    """Puts the attempt's key (and a gateway's credentials) on httpx's request, last."""

    def __init__(self, key: APIKey | None, authorization: APIKey | None) -> None:
        self._key = key
        self._authorization = authorization

    def __repr__(self) -> str:
        return "<key ***>"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._key is not None:
            request.headers["X-Auth"] = self._key.reveal()
        if self._authorization is not None:
            request.headers["Authorization"] = self._authorization.reveal()
        yield request


class HttpxTransport(ClosingContext):
    """Sends requests over an ``httpx.AsyncClient``: yours, or one it makes and closes.

    Args:
        client: an ``httpx.AsyncClient`` of the caller's (its proxies,
            certificates, event hooks and limits are kept); never closed by
            this transport. Redirects are not followed whatever it says.
        limit: the most connections of a client this transport makes.
        http2: offer HTTP/2 on a client this transport makes (needs ``h2``;
            default: when ``h2`` is installed).
        max_response_bytes: the largest answer body read (after decompression).

    """

    def __init__(
        self,
        *,
        client: httpx.AsyncClient | None = None,
        limit: int = 100,
        http2: bool | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if max_response_bytes < 1:
            raise ValueError("max_response_bytes must be positive")
        self._max_response_bytes = max_response_bytes
        self._owns_client = client is None
        if client is None:
            if http2 is None:
                http2 = importlib.util.find_spec("h2") is not None
            client = httpx.AsyncClient(
                http2=http2,
                limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
                follow_redirects=False,
                trust_env=False,
            )
        self._client = client

    def __repr__(self) -> str:
        state = "closed" if self._client.is_closed else "open"
        owner = "own client" if self._owns_client else "caller's client"
        return f"<HttpxTransport {state}, {owner}>"

    async def send(self, request: Request) -> Response:
        """Send one request; raise a ``TransportError`` if no answer comes back."""
        timeout = request.timeout or _NO_TIMEOUT_GIVEN
        started = time.perf_counter()
        status: list[int] = []  # the answer's status, once its head has arrived
        try:
            exchange = self._exchange(request, timeout, status)
            if timeout.total is None:
                _, headers, content = await exchange
            else:
                _, headers, content = await asyncio.wait_for(exchange, timeout.total)
        except (httpx.HTTPError, asyncio.TimeoutError) as exc:
            raise _translate(exc, request, status[0] if status else 0) from None
        return Response(status[0], headers, content, time.perf_counter() - started)

    async def _exchange(
        self, request: Request, timeout: Timeout, status: list[int]
    ) -> tuple[int, Any, bytes]:
        outgoing = self._client.build_request(
            request.method,
            str(request.url),
            content=request.body,
            headers=request.headers,
            timeout=httpx.Timeout(
                connect=timeout.connect, read=timeout.read, write=timeout.read,
                pool=timeout.pool,
            ),
        )  # fmt: skip
        answer = await self._client.send(
            outgoing,
            stream=True,
            follow_redirects=False,
            auth=_Secrets(request.api_key, request.authorization),
        )
        status.append(answer.status_code)
        try:
            refusal = head_refusal(answer.headers.raw)  # the limits every transport keeps
            if refusal is not None:
                raise malformed(
                    refusal, 0, operation=request.operation, request_id=request.request_id
                )
            length = answer.headers.get("Content-Length")
            content = await read_capped(
                request, answer.status_code, _chunks(answer),
                length=int(length) if length is not None and length.isdigit() else None,
                cap=self._max_response_bytes,
            )  # fmt: skip
        finally:
            await answer.aclose()
        return answer.status_code, answer.headers, content

    async def aclose(self) -> None:
        """Close the ``AsyncClient`` if this transport created it."""
        if self._owns_client and not self._client.is_closed:
            await self._client.aclose()


async def _chunks(answer: httpx.Response) -> AsyncGenerator[bytes, None]:
    """The body, decompressed, as it arrives."""
    async for chunk in answer.aiter_bytes():
        yield chunk


def _translate(exc: BaseException, request: Request, status: int) -> TransportError:
    """Map one of httpx's exceptions to the SDK's, saying whether the request may have arrived.

    The only place that knows httpx's exception types. Messages name the
    failure, never the request's headers. As on every transport: an answer
    whose head or framing is not valid HTTP is a ``ProtocolError`` with
    status 0, one whose body does not decompress has its ``status``
    (``status`` here is the head's, 0 before one was read); a connection dropped
    before the answer's head (``status`` 0), whether closed or reset, is a
    ``RemoteDisconnectedError`` with ``before_answer``.
    """
    context: dict[str, Any] = {"operation": request.operation, "request_id": request.request_id}
    if isinstance(exc, httpx.ConnectTimeout):
        return RequestTimeoutError("connect timeout", kind="connect", **context)
    if isinstance(exc, httpx.PoolTimeout):
        return RequestTimeoutError("pool timeout", kind="pool", **context)
    if isinstance(exc, (httpx.ReadTimeout, httpx.WriteTimeout)):
        return RequestTimeoutError("read timeout", kind="read", **context)
    if isinstance(exc, asyncio.TimeoutError):
        return RequestTimeoutError("total timeout", kind="total", **context)
    if isinstance(exc, httpx.ConnectError):
        return ConnectError(f"cannot connect: {exc}", **context)
    if isinstance(exc, httpx.DecodingError) or (
        isinstance(exc, httpx.RemoteProtocolError)
        and not any(cut in str(exc) for cut in _CUT_SHORT)
    ):
        return malformed(str(exc), status if isinstance(exc, httpx.DecodingError) else 0, **context)
    if isinstance(exc, httpx.RemoteProtocolError):
        dropped = f"connection dropped: {exc}"
        return RemoteDisconnectedError(dropped, before_answer=not status, **context)
    if isinstance(exc, (httpx.ReadError, httpx.WriteError, httpx.CloseError)):
        dropped = f"connection error: {type(exc).__name__}"
        return RemoteDisconnectedError(dropped, before_answer=not status, **context)
    return TransportError(f"{type(exc).__name__}: {exc}", **context)
