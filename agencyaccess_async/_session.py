"""The Session: owns the transport, the limiter and the retry loop of every call.

Data flows one way: an endpoint method names a route and hands over a
request model; the Session turns it into wire JSON, sends it through the
limiter and the transport, applies the envelope rules, and retries,
reconciles or raises as ``_retry.decide`` says.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import platform
import time
import uuid
import warnings
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Any, TypeVar

import aiohttp
import attrs
from yarl import URL

from . import _reconcile
from ._converter import CONVERTER
from ._errors import (
    AgencyAccessError,
    DecodeError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    SessionError,
    TransportError,
)
from ._hooks import (
    Hooks,
    RateLimitWaitEvent,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
    emit,
    logger,
)
from ._http import Request, Response, Timeout, build_request, parse_response
from ._limiter import Limiter
from ._models import Page
from ._retry import Action, RetryPolicy, decide
from ._routes import ROUTES, Kind, Route
from ._transport import Transport
from ._version import __version__

__all__ = ["DEFAULT_BASE_URL", "ResponseInfo", "Session", "SessionStats"]

T = TypeVar("T")

DEFAULT_BASE_URL = "https://api.agencyaccess.co"
USER_AGENT = (
    f"agencyaccess-async/{__version__} aiohttp/{aiohttp.__version__} "
    f"python/{platform.python_version()}"
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


@attrs.frozen
class _Outcome:
    envelope: Mapping[str, Any]
    info: ResponseInfo


_captured: contextvars.ContextVar[list[ResponseInfo] | None] = contextvars.ContextVar(
    "agencyaccess_async_captured", default=None
)


class Session:
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
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        hooks: Hooks | None = None,
        log_bodies: bool = False,
    ) -> None:
        from ._bulk import Bulk
        from ._endpoints import Clients, Links

        self._api_key = api_key if api_key is not None else os.environ.get("AGENCYACCESS_API_KEY")
        base = base_url or os.environ.get("AGENCYACCESS_BASE_URL") or DEFAULT_BASE_URL
        self.base_url = URL(str(base).rstrip("/"))
        self._urls = {op: URL(str(self.base_url) + r.path) for op, r in ROUTES.items()}
        self._transport = transport
        self._owns_transport = transport is None
        self.timeout = timeout or Timeout()
        self.retry = retry or RetryPolicy()
        self.hooks = hooks or Hooks()
        self.log_bodies = log_bodies
        self.stats = SessionStats()
        self._limiter = Limiter(max_concurrency, rate_limit, on_wait=self._on_rate_limit_wait)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._headers: dict[str, str] = {}
        self._closed = False
        self.clients = Clients(self)
        self.links = Links(self)
        self.bulk = Bulk(self)

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("open" if self._loop else "not started")
        return (
            f"<Session {self.base_url} {state}, max_concurrency={self._limiter.max_concurrency}, "
            f"requests={self.stats.requests}>"
        )

    @property
    def max_concurrency(self) -> int:
        """The most requests this Session has in flight at once."""
        return self._limiter.max_concurrency

    async def __aenter__(self) -> Session:
        self._bind()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the transport if the Session created it; calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        if self._owns_transport and self._transport is not None:
            await self._transport.aclose()

    def __del__(self, _warn: Any = warnings.warn) -> None:
        # Only a warning: no work may be scheduled from a finalizer.
        if not self._closed and self._loop is not None and self._owns_transport:
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
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            }
            if self._transport is None:
                from ._aiohttp_transport import AiohttpTransport

                self._transport = AiohttpTransport(limit=max(100, self.max_concurrency))
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
    ) -> Any:
        """Send ``body`` (a request model) to ``route`` and return the decoded ``data``."""
        outcome = await self._execute(
            route, CONVERTER.unstructure(body), timeout=timeout, retry=retry
        )
        try:
            if route.paged:
                items: tuple[Any, ...] = tuple(
                    CONVERTER.structure(item, route.data) for item in outcome.envelope["data"]
                )
                return Page(items, outcome.envelope.get("nextCursor"))
            return CONVERTER.structure(outcome.envelope["data"], route.data)
        except Exception as exc:
            raise DecodeError(
                f"cannot read the answer of {route.operation} as {route.data.__name__}: {exc}",
                operation=route.operation,
                request_id=outcome.info.request_id,
            ) from exc

    async def _execute(
        self,
        route: Route,
        payload: Mapping[str, Any],
        *,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
    ) -> _Outcome:
        """Send one call with retries; return its envelope, or raise its final error."""
        transport = self._bind()
        policy = retry or self.retry
        request = build_request(
            route.operation,
            self._urls[route.operation],
            payload,
            headers=self._headers,
            request_id=uuid.uuid4().hex,
            timeout=timeout or self.timeout,
        )
        loop = asyncio.get_running_loop()
        started = loop.time()
        started_wall = time.time()
        deadline = started + policy.deadline
        attempt = 0
        maybe_done = False  # an earlier attempt may have been processed
        while True:
            attempt += 1
            response: Response | None = None
            try:
                response = await self._attempt(transport, request, attempt)
                envelope = parse_response(response, operation=route.operation)
                return self._finish(request, response, envelope, attempt, started)
            except AgencyAccessError as error:
                if maybe_done and route.kind is Kind.DELETE and isinstance(error, NotFoundError):
                    # The earlier, unanswered delete did it.
                    data = {**payload, "deleted": True}
                    return self._finish(
                        request, response, {"error": False, "data": data}, attempt, started
                    )
                action = decide(route.kind, error)
                wait = self._plan_retry(error, action, policy, attempt, deadline - loop.time())
                if wait is None and action is Action.RECONCILE:
                    key = _reconcile.idempotency_key(route.operation, payload)
                    raise self._unknown(
                        route, key, error, attempt, "no time left to look it up"
                    ) from error
                if wait is None:
                    error.attempts = attempt
                    raise
                emit_retry = self.hooks.on_retry
                if emit_retry:
                    emit(
                        emit_retry,
                        RetryEvent(
                            route.operation,
                            request.request_id or "",
                            attempt,
                            wait,
                            action.value,
                            repr(error),
                        ),
                    )
                logger.info(
                    "%s attempt %d failed (%s); %s in %.2fs",
                    route.operation,
                    attempt,
                    type(error).__name__,
                    action.value,
                    wait,
                )
                self.stats.retries += 1
                await asyncio.sleep(wait)
                if action is Action.RECONCILE:
                    found = await self._reconcile(
                        route, payload, error, attempt, policy, deadline, started_wall
                    )
                    if found is not None:
                        return self._finish(
                            request,
                            None,
                            {"error": False, "data": found},
                            attempt,
                            started,
                            reconciled=True,
                        )
                if isinstance(error, TransportError):
                    maybe_done = maybe_done or error.may_have_reached_server
                else:
                    maybe_done = True

    def _plan_retry(
        self,
        error: AgencyAccessError,
        action: Action,
        policy: RetryPolicy,
        attempt: int,
        time_left: float,
    ) -> float | None:
        """Seconds to wait before trying again, or ``None`` if this error is final."""
        if action is Action.FAIL:
            return None
        retry_after = getattr(error, "retry_after", None)
        if isinstance(error, RateLimitError):
            self.stats.rate_limited += 1
            self._limiter.pause(retry_after if retry_after is not None else policy.backoff(attempt))
            retry_after = None  # the limiter now holds every task, this one included
        reconciling = action is Action.RECONCILE
        if attempt >= policy.attempts and not reconciling:
            return None
        wait = policy.backoff(attempt, retry_after)
        if wait >= time_left:
            return None
        return wait

    async def _reconcile(
        self,
        route: Route,
        payload: Mapping[str, Any],
        error: AgencyAccessError,
        attempt: int,
        policy: RetryPolicy,
        deadline: float,
        started_wall: float,
    ) -> Mapping[str, Any] | None:
        """Find the record an unanswered create may have made; raise if that cannot be told."""
        finder = _reconcile.FINDERS.get(route.operation)
        key = _reconcile.idempotency_key(route.operation, payload)
        time_left = deadline - asyncio.get_running_loop().time()
        if finder is None or time_left <= 0:
            raise self._unknown(route, key, error, attempt, "no way to look the record up")
        lookup_policy = attrs.evolve(policy, deadline=time_left)
        try:
            found: Mapping[str, Any] | None = await finder(
                self, payload, started_wall - _reconcile.CLOCK_SKEW, lookup_policy
            )
        except AgencyAccessError as lookup_error:
            raise self._unknown(
                route, key, error, attempt, f"the lookup failed: {lookup_error}"
            ) from lookup_error
        if found is not None:
            self.stats.reconciled += 1
            return found
        if attempt >= policy.attempts:
            error.attempts = attempt
            raise error  # provably not created: a plain failure
        return None

    def _unknown(
        self,
        route: Route,
        key: str | None,
        error: AgencyAccessError,
        attempt: int,
        why: str,
    ) -> OutcomeUnknownError:
        unknown = OutcomeUnknownError(
            f"{route.operation}: outcome unknown after {attempt} attempt(s) ({error!s}); {why}",
            operation=route.operation,
            idempotency_key=key,
            last_error=error,
        )
        unknown.attempts = attempt
        unknown.__cause__ = error
        return unknown

    async def _attempt(self, transport: Transport, request: Request, attempt: int) -> Response:
        await self._limiter.acquire(
            self.timeout.pool if request.timeout is None else request.timeout.pool
        )
        self.stats.requests += 1
        if self.hooks.on_request:
            emit(
                self.hooks.on_request,
                RequestEvent(
                    request.operation,
                    request.method,
                    request.url.path,
                    request.request_id or "",
                    attempt,
                ),
            )
        started = time.perf_counter()
        try:
            response = await transport.send(request)
        except BaseException as exc:
            self._limiter.release(None)
            if isinstance(exc, TransportError):
                self._after_attempt(request, attempt, None, time.perf_counter() - started, exc)
            raise
        self._limiter.release(response.headers)
        self._after_attempt(request, attempt, response, response.elapsed, None)
        return response

    def _after_attempt(
        self,
        request: Request,
        attempt: int,
        response: Response | None,
        elapsed: float,
        error: BaseException | None,
    ) -> None:
        status = response.status if response is not None else None
        if self.hooks.on_response:
            emit(
                self.hooks.on_response,
                ResponseEvent(
                    request.operation,
                    request.request_id or "",
                    attempt,
                    status,
                    elapsed,
                    repr(error) if error else None,
                ),
            )
        if logger.isEnabledFor(10):
            logger.debug(
                "%s %s -> %s attempt=%d elapsed=%.4fs request_id=%s%s",
                request.method,
                request.url.path,
                status if status is not None else type(error).__name__,
                attempt,
                elapsed,
                request.request_id,
                self._bodies(request, response) if self.log_bodies else "",
            )

    @staticmethod
    def _bodies(request: Request, response: Response | None) -> str:
        answer = response.body.decode("utf-8", "replace") if response is not None else ""
        return f" request_body={request.body.decode('utf-8', 'replace')} response_body={answer}"

    def _finish(
        self,
        request: Request,
        response: Response | None,
        envelope: Mapping[str, Any],
        attempts: int,
        started: float,
        *,
        reconciled: bool = False,
    ) -> _Outcome:
        server_id = response.request_id if response is not None else None
        info = ResponseInfo(
            request.operation,
            server_id or request.request_id or "",
            response.status if response is not None else None,
            response.headers if response is not None else {},
            attempts,
            asyncio.get_running_loop().time() - started,
            reconciled,
        )
        captured = _captured.get()
        if captured is not None:
            captured.append(info)
        return _Outcome(envelope, info)

    def _on_rate_limit_wait(self, delay: float, reason: str) -> None:
        if self.hooks.on_rate_limit_wait:
            emit(self.hooks.on_rate_limit_wait, RateLimitWaitEvent(delay, reason))
        logger.debug("rate limit: holding a request for %.3fs (%s)", delay, reason)
