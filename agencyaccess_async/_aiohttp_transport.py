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
from typing import Any

import aiohttp

from ._errors import (
    ConnectError,
    ProtocolError,
    RemoteDisconnected,
    RequestTimeout,
    TransportError,
)
from ._http import DEFAULT_MAX_RESPONSE_BYTES, Request, Response, Timeout
from ._read_buffer import connector_class
from ._transport import ClosingContext
from ._watchdog import AVAILABLE as watchdog_available
from ._watchdog import Watchdog

__all__ = ["AiohttpTransport"]

# aiohttp warns about (and blocks the loop on) larger bytes bodies; stream those.
_LARGE_BODY = 1024 * 1024
_NO_TIMEOUT_GIVEN = Timeout()


class AiohttpTransport(ClosingContext):
    """Sends requests over one ``aiohttp.ClientSession`` with a bounded connection pool.

    Args:
        session: an ``aiohttp.ClientSession`` of the caller's to use; it is
            never closed by this transport.
        limit: the most connections open at once (all hosts).
        limit_per_host: the most connections to one host (0: no extra bound).
        keepalive_timeout: seconds an idle connection is kept for reuse.
        ttl_dns_cache: seconds a DNS answer is cached.
        max_response_bytes: the largest answer body read (after decompression).

    Create it inside a running event loop (the Session does that lazily).

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
            connector = connector_class()(
                limit=limit,
                limit_per_host=limit_per_host,
                keepalive_timeout=keepalive_timeout,
                ttl_dns_cache=ttl_dns_cache,
                use_dns_cache=ttl_dns_cache is not None,
            )
            # No session-wide timeout: each request carries its own. No cookies:
            # the API authenticates by header, and a jar costs work on every request.
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        self._session = session
        self._watchdog: Watchdog | None = None
        self._last_timeout: Timeout | None = None
        self._last_total: float | None = None
        self._last_client_timeout = self._client_timeout(_NO_TIMEOUT_GIVEN, None)

    def __repr__(self) -> str:
        state = "closed" if self._session.closed else "open"
        owner = "own session" if self._owns_session else "caller's session"
        return f"<AiohttpTransport {state}, {owner}>"

    async def send(self, request: Request) -> Response:
        """Send one request; raise a ``TransportError`` if no answer comes back."""
        timeout = request.timeout or _NO_TIMEOUT_GIVEN
        total = timeout.total
        task = watchdog = None
        if total is not None and watchdog_available:  # the watchdog times the total
            watchdog = self._watchdog or self._start_watchdog()
            # Given the loop, current_task does not look it up (a getpid on Python 3.11).
            task = asyncio.current_task(watchdog.loop)
            if task is not None:
                watchdog.watch(task, watchdog.loop.time() + total)
        # aiohttp's own timer for the total, if the watchdog does not time it.
        client_timeout = self._client_timeout(timeout, total if task is None else None)
        body = request.body
        started = time.perf_counter()
        try:
            # Awaited, not ``async with``: aiohttp's documented other form, five
            # coroutines fewer a request; ``release`` below is what its exit does.
            answer = await self._session.request(
                request.method,
                request.url,
                data=body if len(body) < _LARGE_BODY else io.BytesIO(body),
                headers=request.headers,
                timeout=client_timeout,
                allow_redirects=False,
            )
            try:
                if _sized(answer, self._max_response_bytes):
                    content = await answer.read()  # the common case: the parser stops at the length
                else:
                    content = await self._read_capped(answer, request)
            finally:
                answer.release()
        except asyncio.CancelledError:
            if task is not None and watchdog is not None and watchdog.expired(task):
                raise _translate(asyncio.TimeoutError(), request) from None
            raise
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _translate(exc, request) from exc
        finally:
            if task is not None and watchdog is not None:
                watchdog.forget(task)
        return Response(answer.status, answer.headers, content, time.perf_counter() - started)

    def _start_watchdog(self) -> Watchdog:
        self._watchdog = Watchdog(asyncio.get_running_loop())
        return self._watchdog

    async def _read_capped(self, answer: aiohttp.ClientResponse, request: Request) -> bytes:
        """The answer's body, or a ``ProtocolError`` once it passes ``max_response_bytes``.

        For answers whose size is not known in advance (chunked, compressed)
        or is over the cap; ``send`` reads the others in one go.
        """
        cap = self._max_response_bytes
        length = answer.content_length
        if length is not None and length > cap:
            raise self._too_large(answer, request, f" of {length} bytes")
        chunks: list[bytes] = []
        size = 0
        while chunk := await answer.content.readany():
            size += len(chunk)
            if size > cap:
                raise self._too_large(answer, request, "")
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(
        self, answer: aiohttp.ClientResponse, request: Request, how: str
    ) -> ProtocolError:
        answer.close()  # drop the connection: the rest of the body is never read
        return ProtocolError(
            f"HTTP {answer.status} answer{how} is over max_response_bytes="
            f"{self._max_response_bytes}; the rest was not read",
            status=answer.status,
            operation=request.operation,
            request_id=request.request_id,
        )

    def _client_timeout(self, timeout: Timeout, total: float | None) -> aiohttp.ClientTimeout:
        """The ClientTimeout for ``timeout``, its total replaced by ``total``; cached."""
        if timeout is self._last_timeout and total == self._last_total:
            return self._last_client_timeout
        client_timeout = aiohttp.ClientTimeout(
            total=total, sock_connect=timeout.connect, sock_read=timeout.read
        )
        self._last_timeout, self._last_total = timeout, total
        self._last_client_timeout = client_timeout
        return client_timeout

    async def aclose(self) -> None:
        """Close the ``ClientSession`` if this transport created it."""
        if self._watchdog is not None:
            self._watchdog.close()
        if self._owns_session and not self._session.closed:
            await self._session.close()


def _sized(answer: aiohttp.ClientResponse, cap: int) -> bool:
    """Whether the body's size is known, final (not compressed) and within ``cap``."""
    length = answer.content_length
    return length is not None and length <= cap and "Content-Encoding" not in answer.headers


def _translate(exc: BaseException, request: Request) -> TransportError:
    """Map one of aiohttp's exceptions to the SDK's, saying whether the request may have arrived.

    This is the only place that knows aiohttp's exception types.
    """
    context: dict[str, Any] = {"operation": request.operation, "request_id": request.request_id}
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return RequestTimeout("connect timeout", kind="connect", **context)
    if isinstance(exc, aiohttp.SocketTimeoutError):
        return RequestTimeout("read timeout", kind="read", **context)
    if isinstance(exc, asyncio.TimeoutError):
        return RequestTimeout("total timeout", kind="total", **context)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return ConnectError(f"cannot connect: {exc.os_error}", **context)
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError)):
        return RemoteDisconnected(f"connection dropped: {exc}", **context)
    if isinstance(exc, aiohttp.ClientOSError):
        return RemoteDisconnected(f"connection error: {exc}", **context)
    return TransportError(f"{type(exc).__name__}: {exc}", **context)
