"""The default transport: one pooled ``aiohttp.ClientSession``.

aiohttp's exceptions are translated to the SDK's in exactly one place,
``_translate_errors``, which also decides whether a failed request may have
reached the server.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import aiohttp

from ._errors import ConnectError, RemoteDisconnected, RequestTimeout, TransportError
from ._http import Request, Response, Timeout

__all__ = ["AiohttpTransport"]

# aiohttp warns about (and blocks the loop on) larger bytes bodies; stream those.
_LARGE_BODY = 1024 * 1024


class AiohttpTransport:
    """Sends requests over one ``aiohttp.ClientSession`` with a bounded connection pool.

    Args:
        session: an ``aiohttp.ClientSession`` of the caller's to use; it is
            never closed by this transport.
        limit: the most connections open at once (all hosts).
        limit_per_host: the most connections to one host (0: no extra bound).
        keepalive_timeout: seconds an idle connection is kept for reuse.
        ttl_dns_cache: seconds a DNS answer is cached.

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
    ) -> None:
        self._owns_session = session is None
        if session is None:
            connector = aiohttp.TCPConnector(
                limit=limit,
                limit_per_host=limit_per_host,
                keepalive_timeout=keepalive_timeout,
                ttl_dns_cache=ttl_dns_cache,
                use_dns_cache=ttl_dns_cache is not None,
            )
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None),
                skip_auto_headers=("User-Agent",),
            )
        self._session = session
        self._timeouts: dict[Timeout | None, aiohttp.ClientTimeout] = {}

    def __repr__(self) -> str:
        state = "closed" if self._session.closed else "open"
        owner = "own session" if self._owns_session else "caller's session"
        return f"<AiohttpTransport {state}, {owner}>"

    async def send(self, request: Request) -> Response:
        """Send one request; raise a ``TransportError`` if no answer comes back."""
        timeout = self._timeouts.get(request.timeout) or self._client_timeout(request.timeout)
        started = time.perf_counter()
        with _translate_errors(request):
            async with self._session.request(
                request.method,
                request.url,
                data=request.body if len(request.body) < _LARGE_BODY else io.BytesIO(request.body),
                headers=request.headers,
                timeout=timeout,
            ) as answer:
                body = await answer.read()
        return Response(answer.status, answer.headers, body, time.perf_counter() - started)

    def _client_timeout(self, timeout: Timeout | None) -> aiohttp.ClientTimeout:
        value = timeout or Timeout()
        client_timeout = aiohttp.ClientTimeout(
            total=value.total, sock_connect=value.connect, sock_read=value.read
        )
        self._timeouts[timeout] = client_timeout
        return client_timeout

    async def aclose(self) -> None:
        """Close the ``ClientSession`` if this transport created it."""
        if self._owns_session and not self._session.closed:
            await self._session.close()

    async def __aenter__(self) -> AiohttpTransport:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


@contextmanager
def _translate_errors(request: Request) -> Iterator[None]:
    """Map aiohttp's exceptions to the SDK's, saying whether the request may have arrived."""
    context: dict[str, Any] = {"operation": request.operation, "request_id": request.request_id}
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:
        raise RequestTimeout("connect timeout", kind="connect", **context) from exc
    except aiohttp.SocketTimeoutError as exc:
        raise RequestTimeout("read timeout", kind="read", **context) from exc
    except asyncio.TimeoutError as exc:
        raise RequestTimeout("total timeout", kind="total", **context) from exc
    except aiohttp.ClientConnectorError as exc:
        raise ConnectError(f"cannot connect: {exc.os_error}", **context) from exc
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
        raise RemoteDisconnected(f"connection dropped: {exc}", **context) from exc
    except aiohttp.ClientOSError as exc:
        raise RemoteDisconnected(f"connection error: {exc}", **context) from exc
    except aiohttp.ClientError as exc:
        raise TransportError(f"{type(exc).__name__}: {exc}", **context) from exc
