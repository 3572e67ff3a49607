"""The default transport: one pooled ``aiohttp.ClientSession``.

aiohttp's exceptions are translated to the SDK's in exactly one place,
``_translate``, which also decides whether a failed request may have
reached the server.

Two promises hold here, whatever the server does:

- redirects are never followed, so the ``X-Auth`` header and the body never
  go to a host the caller did not name (``parse_response`` turns a 3xx into
  a ``RedirectError`` naming the target host);
- an answer body is read up to ``max_response_bytes`` (counted after
  decompression, enforced while reading): past that the connection is
  closed and the call fails with a ``ProtocolError``.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import aiohttp
from aiohttp.http_exceptions import ContentEncodingError

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

__all__ = ["AiohttpTransport"]

# aiohttp warns about (and blocks the loop on) larger bytes bodies; stream those.
_LARGE_BODY = 1024 * 1024
_NO_TIMEOUT_GIVEN = Timeout()
_Handler = Callable[[aiohttp.ClientRequest], Awaitable[aiohttp.ClientResponse]]


async def _add_secrets(
    key: APIKey | None,
    authorization: APIKey | None,
    request: aiohttp.ClientRequest,
    handler: _Handler,
) -> aiohttp.ClientResponse:
    """Put the attempt's key (and a gateway's credentials) on aiohttp's request, last.

    A per-request middleware (``functools.partial`` of this), so neither is in
    any mapping a frame could render: not in ``Request.headers``, not in the
    ``headers`` aiohttp's ``_request`` prepares; only in the outgoing
    ``ClientRequest``, whose repr shows none.
    """
    if key is not None:
        request.headers["X-Auth"] = key.reveal()
    if authorization is not None:
        request.headers["Authorization"] = authorization.reveal()
    return await handler(request)


class AiohttpTransport(ClosingContext):
    """Sends requests over one ``aiohttp.ClientSession`` with a bounded connection pool.

    Args:
        session: an ``aiohttp.ClientSession`` of the caller's to use; it is
            never closed by this transport, and its ``raise_for_status``
            setting is overridden per request (an error answer is the SDK's
            to classify).
        limit: the most connections open at once (all hosts).
        limit_per_host: the most connections to one host (0: no extra bound).
        keepalive_timeout: seconds an idle connection is kept for reuse.
        ttl_dns_cache: seconds a DNS answer is cached.
        max_response_bytes: the largest answer body read (after decompression).

    Create it inside a running event loop (the Session does that lazily).
    Several Sessions may share one (``Session(transport=...)``): they then
    share its pool, and each still closes only what it made.

    """

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None = None,
        limit: int = 100,
        limit_per_host: int = 0,
        keepalive_timeout: float = 30.0,
        ttl_dns_cache: int | None = 300,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if max_response_bytes < 1:
            raise ValueError("max_response_bytes must be positive")
        self._max_response_bytes = max_response_bytes
        self._owns_session = session is None
        if session is None:
            connector = aiohttp.TCPConnector(
                limit=limit,
                limit_per_host=limit_per_host,
                keepalive_timeout=keepalive_timeout,
                ttl_dns_cache=ttl_dns_cache,
                use_dns_cache=ttl_dns_cache is not None,
            )
            # No session-wide timeout: each request carries its own. No cookies:
            # the API authenticates by header.
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        self._session = session

    def __repr__(self) -> str:
        state = "closed" if self._session.closed else "open"
        owner = "own session" if self._owns_session else "caller's session"
        return f"<AiohttpTransport {state}, {owner}>"

    async def send(self, request: Request) -> Response:
        """Send one request; raise a ``TransportError`` if no answer comes back.

        aiohttp's exception is not chained (``from None``): its traceback's
        frames and its request info hold the outgoing headers. Its type and
        text are in the message instead.
        """
        timeout = request.timeout or _NO_TIMEOUT_GIVEN
        body = request.body
        started = time.perf_counter()
        answer: aiohttp.ClientResponse | None = None
        try:
            async with self._session.request(
                request.method,
                request.url,
                data=body if len(body) < _LARGE_BODY else io.BytesIO(body),
                headers=request.headers,
                timeout=aiohttp.ClientTimeout(
                    total=timeout.total, sock_connect=timeout.connect, sock_read=timeout.read
                ),
                allow_redirects=False,
                raise_for_status=False,
                middlewares=(partial(_add_secrets, request.api_key, request.authorization),),
            ) as answer:
                refusal = head_refusal(answer.raw_headers)  # as an older aiohttp would not
                if refusal is not None:
                    answer.close()
                    raise malformed(
                        refusal, 0, operation=request.operation, request_id=request.request_id
                    )
                headers = answer.headers
                framed = "Content-Encoding" not in headers and "Transfer-Encoding" not in headers
                content = await read_capped(
                    request, answer.status, answer.content.iter_any(),
                    length=answer.content_length, cap=self._max_response_bytes,
                    on_refusal=answer.close, whole=answer.read if framed else None,
                )  # fmt: skip
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            error = _translate(exc, request, answer.status if answer is not None else 0)
            if isinstance(error, RemoteDisconnectedError) and answer is None:
                error.before_answer = True
                # One turn of the loop: the pool drops the connections the server
                # closed (their end reaches the protocol), so a resend gets a new one.
                await asyncio.sleep(0)
            raise error from None
        return Response(answer.status, answer.headers, content, time.perf_counter() - started)

    async def aclose(self) -> None:
        """Close the ``ClientSession`` if this transport created it."""
        if self._owns_session and not self._session.closed:
            await self._session.close()


def _translate(exc: BaseException, request: Request, status: int) -> TransportError:
    """Map one of aiohttp's exceptions to the SDK's, saying whether the request may have arrived.

    This is the only place that knows aiohttp's exception types. Messages
    name the failure, never the request's headers nor the answer's bytes.
    With ``raise_for_status`` off, a ``ClientResponseError`` is aiohttp's
    parser refusing the answer's head or framing (its 400 is not the
    server's): a ``ProtocolError`` with status 0, as on every transport; a
    body that does not decompress is one with the answer's ``status``. A
    body cut short is a dropped connection.
    """
    context: dict[str, Any] = {"operation": request.operation, "request_id": request.request_id}
    if isinstance(exc, aiohttp.ClientResponseError):
        return malformed(exc.message, 0, **context)
    if isinstance(exc, aiohttp.ClientPayloadError) and isinstance(
        exc.__cause__, ContentEncodingError
    ):
        return malformed(exc.__cause__.message, status, **context)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return RequestTimeoutError("connect timeout", kind="connect", **context)
    if isinstance(exc, aiohttp.SocketTimeoutError):
        return RequestTimeoutError("read timeout", kind="read", **context)
    if isinstance(exc, asyncio.TimeoutError):
        return RequestTimeoutError("total timeout", kind="total", **context)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return ConnectError(f"cannot connect: {exc.os_error}", **context)
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError)):
        return RemoteDisconnectedError(f"connection dropped: {exc}", **context)
    if isinstance(exc, aiohttp.ClientOSError):
        return RemoteDisconnectedError(f"connection error: {exc}", **context)
    return TransportError(f"{type(exc).__name__}: {exc}", **context)
