"""The Session: owns the transport, the limiter and the configuration of every call.

Data flows one way: an endpoint method names a route and hands over a
request model; the Session turns it into wire JSON and a ``Request``, and a
``Call`` (``_call.py``) sends it through the limiter and the transport,
retrying or reconciling as ``_retry.decide`` says; the Session decodes the
answer's ``data`` into the route's model.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import itertools
import os
import secrets
import sys
import warnings
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import aiohttp
import attrs
from yarl import URL

from ._call import Call, Outcome
from ._converter import CONVERTER
from ._errors import DecodeError, SessionError
from ._hooks import Hooks, RateLimitWaitEvent, emit, logger
from ._http import DEFAULT_MAX_RESPONSE_BYTES, Request, Timeout, build_request
from ._limiter import Limiter
from ._models import Page
from ._retry import RetryPolicy
from ._routes import ROUTES, Kind, Route
from ._transport import ClosingContext, Transport
from ._version import __version__

if TYPE_CHECKING:
    from ._bulk import Bulk

__all__ = ["DEFAULT_BASE_URL", "ResponseInfo", "Session", "SessionStats"]


DEFAULT_BASE_URL = "https://api.agencyaccess.co"
USER_AGENT = (
    f"agencyaccess-async/{__version__} aiohttp/{aiohttp.__version__} "
    f"python/{'.'.join(map(str, sys.version_info[:3]))}"
)


@attrs.frozen
class ResponseInfo:
    """What the HTTP exchange of one call looked like (see ``Session.capture_responses``).

    ``status`` and ``headers`` are those of the last answer (``None`` / empty
    when no answer came back or the result came from reconciliation).
    """

    operation: str
    request_id: str
    status: int | None
    headers: Mapping[str, str]
    attempts: int
    elapsed: float
    reconciled: bool = False


@attrs.define
class SessionStats:
    """Counters of one Session: requests sent, retries, 429s, reconciliations."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    reconciled: int = 0


_captured: contextvars.ContextVar[list[ResponseInfo] | None] = contextvars.ContextVar(
    "agencyaccess_async_captured", default=None
)


class Session(ClosingContext):
    """An async client of the AgencyAccess API. Use it as ``async with Session() as s:``.

    Args:
        api_key: the API key; defaults to ``$AGENCYACCESS_API_KEY``. A missing
            key is an error at the first call, not here.
        base_url: defaults to ``$AGENCYACCESS_BASE_URL``, else the hosted API.
        transport: how requests travel; defaults to an ``AiohttpTransport``
            created inside the running loop and closed with the Session. A
            transport you pass is yours to close.
        max_concurrency: the most requests in flight at once.
        rate_limit: requests per second to stay under (``None``: learn it from
            the server's ``X-RateLimit-*`` headers).
        limiter: a ``Limiter`` to use instead of one built from
            ``max_concurrency`` and ``rate_limit`` (to share one budget, or to
            test pacing on a virtual clock).
        max_response_bytes: the largest answer body the default transport
            reads (after decompression); a larger one is a ``ProtocolError``.
        strict_services: refuse requested services the SDK's catalog does not
            know (``InvalidServiceError``) instead of logging a warning and
            sending them as given.
        routes: paths to use instead of the route table's, by operation
            (``{"links.retrieve": "/api/links/get"}``): where our model of the
            API guessed wrong, a one-line fix rather than a new release.
        timeout: the default ``Timeout`` of each attempt; calls may override it.
        retry: the default ``RetryPolicy``; calls may override it.
        hooks: event callbacks (``Hooks``) for metrics and tracing.
        log_bodies: log request and response bodies at DEBUG level (they hold
            client records, which are personal data: off by default).

    One Session serves a whole application: it is bound to the event loop of
    its first call and refuses use from any other.

    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | URL | None = None,
        transport: Transport | None = None,
        max_concurrency: int = 32,
        rate_limit: float | None = None,
        limiter: Limiter | None = None,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        hooks: Hooks | None = None,
        log_bodies: bool = False,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        routes: Mapping[str, str] | None = None,
        strict_services: bool = False,
    ) -> None:
        from ._endpoints import Clients, Links

        self._api_key = _clean_key(
            api_key if api_key is not None else os.environ.get("AGENCYACCESS_API_KEY")
        )
        base = base_url or os.environ.get("AGENCYACCESS_BASE_URL") or DEFAULT_BASE_URL
        self.base_url = URL(str(base).rstrip("/"))
        unknown = set(routes or {}) - set(ROUTES)
        if unknown:
            raise SessionError(
                f"routes: no operation {sorted(unknown)[0]!r}; the operations are "
                + ", ".join(ROUTES)
            )
        paths = {op: (routes or {}).get(op, route.path) for op, route in ROUTES.items()}
        self._urls = {op: self._url(path) for op, path in paths.items()}
        self._transport = transport
        self._owns_transport = transport is None
        self.timeout = timeout or Timeout()
        self.retry = retry or RetryPolicy()
        self.hooks = hooks or Hooks()
        self.log_bodies = log_bodies
        self.stats = SessionStats()
        self.max_response_bytes = max_response_bytes
        self.strict_services = strict_services
        if limiter is None:
            limiter = Limiter(max_concurrency, rate_limit)
        if limiter.on_wait is None:
            limiter.on_wait = self._on_rate_limit_wait
        self._limiter = limiter
        self._loop: asyncio.AbstractEventLoop | None = None
        self._headers: dict[str, str] = {}
        self._closed = False
        # Request ids: random per Session, then a counter (cheaper than a UUID per call).
        self._id_prefix = secrets.token_hex(6) + "-"
        self._request_numbers = itertools.count(1)
        self.clients = Clients(self)
        self.links = Links(self)
        self._bulk: Bulk | None = None

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("open" if self._loop else "not started")
        return (
            f"<Session {self.base_url} {state}, max_concurrency={self._limiter.max_concurrency}, "
            f"requests={self.stats.requests}>"
        )

    @property
    def bulk(self) -> Bulk:
        """Bulk operations: ``create_clients``, ``create_links`` and ``onboard``."""
        if self._bulk is None:
            from ._bulk import Bulk  # imported on first use: it brings sqlite3 and more

            self._bulk = Bulk(self)
        return self._bulk

    @property
    def max_concurrency(self) -> int:
        """The most requests this Session has in flight at once."""
        return self._limiter.max_concurrency

    @property
    def api_key(self) -> str | None:
        """The API key. Assign a new one to rotate it: the next request uses it.

        The pool, the limiter and the loop binding stay as they are, so a
        long-lived Session survives a key roll (the old key stops at once).
        """
        return self._api_key

    @api_key.setter
    def api_key(self, key: str) -> None:
        cleaned = _clean_key(key)
        if not cleaned:
            raise SessionError("the new API key is empty")
        self._api_key = cleaned
        if self._headers:
            self._headers = {**self._headers, "X-Auth": cleaned}

    async def post(
        self,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        idempotent: bool = False,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
    ) -> Any:
        """POST ``body`` to a route the SDK does not know; return the answer's ``data`` as JSON.

        The same headers, limiter, deadline, envelope checks and error classes
        as every other call. Retries resend only what provably never reached
        the server (and 429s), unless ``idempotent=True`` says a resend is
        harmless; an unanswered non-idempotent call is an
        ``OutcomeUnknownError``.
        """
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/', got {path!r}")
        kind = Kind.UPDATE if idempotent else Kind.CREATE
        route = Route(f"POST {path}", path, "", kind, dict, dict)
        envelope = (await self._execute(route, dict(body or {}), timeout=timeout, retry=retry))[0]
        return envelope["data"]

    @property
    def key_fingerprint(self) -> str:
        """A short hash of the API key: tells keys apart, never reveals one (safe to store).

        A bulk journal records it, so that a journal written with one key is
        not taken as done with another.
        """
        digest = hashlib.sha256(b"agencyaccess-key\n" + (self._api_key or "").encode())
        return digest.hexdigest()[:16]

    async def __aenter__(self) -> Session:
        self._bind()
        return self

    async def aclose(self) -> None:
        """Close the transport if the Session created it; calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        if self._owns_transport and self._transport is not None:
            await self._transport.aclose()

    def __del__(self, _warn: Any = warnings.warn) -> None:
        # Only a warning: no work may be scheduled from a finalizer. (getattr: an
        # __init__ that raised leaves the attributes unset.)
        if not getattr(self, "_closed", True) and self._loop is not None and self._owns_transport:
            _warn(f"unclosed {self!r}; use 'async with' or await aclose()", ResourceWarning, 2)

    @contextlib.contextmanager
    def capture_responses(self) -> Iterator[list[ResponseInfo]]:
        """Collect a ``ResponseInfo`` for every call made inside the ``with`` block.

        >>> with session.capture_responses() as responses:  # doctest: +SKIP
        ...     client = await session.clients.create(name="Acme", email="ops@acme.test")
        >>> responses[-1].request_id, responses[-1].attempts  # doctest: +SKIP
        """
        captured: list[ResponseInfo] = []
        token = _captured.set(captured)
        try:
            yield captured
        finally:
            _captured.reset(token)

    # ------------------------------------------------------------ internals

    def _bind(self) -> Transport:
        loop = asyncio.get_running_loop()
        if self._closed:
            raise SessionError("this Session is closed; create a new one")
        if self._loop is None:
            if not self._api_key:
                raise SessionError(
                    "no API key: pass Session(api_key=...) or set AGENCYACCESS_API_KEY"
                )
            self._headers = {
                "X-Auth": self._api_key,
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
            }
            if self._transport is None:
                from ._aiohttp_transport import AiohttpTransport

                self._transport = AiohttpTransport(
                    limit=max(100, self.max_concurrency),
                    max_response_bytes=self.max_response_bytes,
                )
            self._loop = loop
        elif self._loop is not loop:
            raise SessionError(
                "this Session belongs to another event loop; create one Session per loop"
            )
        assert self._transport is not None
        return self._transport

    async def _call(
        self,
        route: Route,
        body: Any,
        *,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Any:
        """Send ``body`` (a request model) to ``route`` and return the decoded ``data``.

        ``extra_body`` is merged into the wire body last: fields the SDK does
        not model yet go out as given.
        """
        payload = CONVERTER.unstructure(body)
        if extra_body:
            payload = {**payload, **extra_body}
        envelope, response, _, _ = await self._execute(route, payload, timeout=timeout, retry=retry)
        data = envelope["data"]
        try:
            if route.paged:
                items: tuple[Any, ...] = tuple(
                    CONVERTER.structure(item, route.data) for item in data
                )
                return Page(items, envelope.get("nextCursor"))
            data = _lift(route, envelope)
            return CONVERTER.structure(data, route.data)
        except Exception as exc:
            raise DecodeError(
                f"cannot read the answer of {route.operation} as {route.data.__name__}: {exc}",
                operation=route.operation,
                request_id=response.request_id if response is not None else None,
                data=data,
            ) from exc

    async def _execute(
        self,
        route: Route,
        payload: Mapping[str, Any],
        *,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
    ) -> Outcome:
        """Send one call (``payload`` in wire form) with retries; return its outcome."""
        transport = self._bind()
        url = self._urls.get(route.operation) or self._url(route.path)
        request = build_request(
            route.operation,
            url,
            payload,
            headers=self._headers,
            request_id=f"{self._id_prefix}{next(self._request_numbers):x}",
            timeout=timeout or self.timeout,
        )
        outcome = await Call(self, transport, route, payload, request, retry or self.retry).run()
        captured = _captured.get()
        if captured is not None:
            captured.append(_response_info(request, outcome))
        return outcome

    def _url(self, path: str) -> URL:
        return URL(str(self.base_url) + path)

    def _on_rate_limit_wait(self, delay: float, reason: str) -> None:
        if self.hooks.on_rate_limit_wait:
            emit(self.hooks.on_rate_limit_wait, RateLimitWaitEvent(delay, reason))
        logger.debug("rate limit: holding a request for %.3fs (%s)", delay, reason)


def _lift(route: Route, envelope: Mapping[str, Any]) -> Any:
    """The answer's ``data``, with the route's fields found beside it moved in; checked."""
    data = envelope["data"]
    if not isinstance(data, dict):
        return data
    lifted = [k for k in route.beside_data if data.get(k) is None and k in envelope]
    if lifted:
        data = {**data, **{k: envelope[k] for k in lifted}}
    missing = [k for k in route.requires if not data.get(k)]
    if missing:
        raise ValueError(f"{missing[0]} is missing, inside data and beside it")
    return data


def _clean_key(key: str | None) -> str | None:
    """The API key without surrounding whitespace; a ``SessionError`` if it cannot be a header.

    A key read from a file or a ``.env`` often ends with a newline: that is
    stripped. A control or non-ASCII character inside it would be refused by
    the HTTP library as header injection; it is refused here, at construction,
    with a message that never shows the key.
    """
    if key is None:
        return None
    key = key.strip()
    for position, char in enumerate(key):
        if not " " <= char <= "~":
            raise SessionError(
                f"the API key has a control or non-ASCII character at position {position}; "
                "check how it was copied"
            )
    return key


def _response_info(request: Request, outcome: Outcome) -> ResponseInfo:
    _, response, attempts, elapsed = outcome
    if response is None:  # the record was found by reconciliation
        return ResponseInfo(
            request.operation, request.request_id or "", None, {}, attempts, elapsed, True
        )
    request_id = response.request_id or request.request_id or ""
    return ResponseInfo(
        request.operation, request_id, response.status, response.headers, attempts, elapsed
    )
