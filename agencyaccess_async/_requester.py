"""The Requester: the one request loop every call goes through, below the resources.

``Requester.request`` reads top to bottom: encode the body, build the
``Request``, then for each attempt take a limiter slot, read the key, send,
classify the answer (``parse_response``), and carry out what ``decide``
says a failure allows (retry, reconcile, raise, done, read the key again,
resend at once); a success is decoded into the
route's model. An attempt is written in one place (``_attempt``), and
reconciliation looks records up through this same loop, with lookups that
``_idempotency`` describes as data.

A ``Requester`` is what a Session shares with its views: the transport and
the loop it is bound to, the configuration, the counters. What belongs to
one API key, the ``KeySource`` and its ``Limiter``, is a ``Tenant``: the
Session's own, or one per key of ``with_options(api_key=...)``.

Data flows one way: resources -> Requester -> limiter and transport -> the sans-I/O core.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import math
import secrets
import sys
import time
from collections.abc import Mapping
from typing import Any, TypeVar, overload

import attrs
from yarl import URL

from ._auth import APIKey, KeySource
from ._contract import LIST_LIMIT_MAX
from ._converter import CONVERTER
from ._errors import (
    AgencyAccessError,
    DecodeError,
    OutcomeUnknownError,
    RateLimitError,
    SessionError,
    TransportError,
    scrub,
    scrub_headers,
    scrub_text,
)
from ._events import announce_retry, report_attempt
from ._hooks import (
    CAPTURED,
    Hooks,
    RateLimitWaitEvent,
    RequestEvent,
    SessionStats,
    emit,
    logger,
    record,
)
from ._http import (
    Request,
    Response,
    ServerClock,
    Timeout,
    build_request,
    parse_response,
    redacted_url,
    target_url,
    with_extra_headers,
)
from ._idempotency import (
    DATE_MARGIN,
    CannotReconcile,
    Lookup,
    idempotency_key,
    lookup_for,
)
from ._limiter import Limiter
from ._models import Page
from ._retry import Action, RetryPolicy, Tried, decide, plan_retry
from ._routes import ROUTES, PagedRoute, Route
from ._scope import Budgets, CallOptions, Scope, Tenant
from ._telemetry import Telemetry
from ._transport import Transport
from ._version import __version__

__all__ = ["Requester"]

B = TypeVar("B")
R = TypeVar("R")

_PYTHON = ".".join(map(str, sys.version_info[:3]))
_DEBUG = 10


class Requester:
    """Sends every call of one Session and its views: see the module doc."""

    tenant: Tenant
    base_url: URL
    timeout: Timeout
    retry: RetryPolicy
    hooks: Hooks
    log_bodies: bool
    max_response_bytes: int
    strict_services: bool
    stats: SessionStats
    loop: asyncio.AbstractEventLoop | None
    closed: bool
    shown_url: str
    name: str | None
    telemetry: Telemetry | None
    budgets: Budgets

    def __init__(
        self,
        *,
        tenant: Tenant,
        base_url: URL,
        transport: Transport | None,
        timeout: Timeout,
        retry: RetryPolicy,
        hooks: Hooks,
        log_bodies: bool,
        max_response_bytes: int,
        routes: Mapping[str, str],
        strict_services: bool,
        name: str | None = None,
        telemetry: Telemetry | None = None,
        max_tenants: int,
    ) -> None:
        unknown = set(routes) - set(ROUTES)
        if unknown:
            raise SessionError(
                f"routes: no operation {sorted(unknown)[0]!r}; the operations are "
                + ", ".join(ROUTES)
            )
        self.tenant = tenant
        #: The base URL for reprs and messages: a password in it shows as ``***``.
        self.shown_url = redacted_url(base_url)
        # A gateway's user and password leave the URL (whose repr would show them)
        # for an Authorization header added at the last moment, like the key.
        self._authorization: APIKey | None = None
        self._password = APIKey(base_url.password) if base_url.password else None
        if base_url.user or base_url.password:
            credentials = f"{base_url.user or ''}:{base_url.password or ''}"
            encoded = base64.b64encode(credentials.encode()).decode("ascii")
            self._authorization = APIKey("Basic " + encoded)
            base_url = base_url.with_user(None)
        self.base_url = base_url
        self._urls = {op: self.url(routes.get(op, r.path)) for op, r in ROUTES.items()}
        self._transport = transport
        self._owns_transport = transport is None
        self.timeout = timeout
        self.retry = retry
        self.hooks = hooks
        self.log_bodies = log_bodies
        self.max_response_bytes = max_response_bytes
        self.strict_services = strict_services
        self.name = name
        self.telemetry = telemetry
        self.stats = SessionStats()
        self.server_clock: ServerClock = ServerClock()
        self.loop = None
        self.closed = False
        # Request ids: random per Session, then a counter (readable in logs, unique enough).
        self._headers: Mapping[str, str] = {}
        self._id_prefix = secrets.token_hex(6) + "-"
        self._request_numbers = itertools.count(1)
        #: One limiter per real key: the Session's own, its views', its providers' keys'.
        self.budgets = Budgets(self._adopt, max_tenants)
        if tenant.keys.fixed is not None:
            self.budgets.pin(tenant.keys.fixed.fingerprint, tenant.limiter)

    def _adopt(self, limiter: Limiter, key_fingerprint: str) -> None:
        """Make a key's limiter report its waits here, and name its budget after the key."""
        if limiter.on_wait is None:
            limiter.on_wait = self._on_rate_limit_wait
        limiter.attach(target_url(self.base_url), key_fingerprint)

    def bind(self) -> Transport:
        """The transport, bound to the running loop on first use; refuse any other loop."""
        loop = asyncio.get_running_loop()
        if self.closed:
            raise SessionError("this Session is closed; create a new one")
        if self.loop is None:
            # aiohttp is imported here, on first use: an import of the SDK does not pay for it.
            from aiohttp import __version__ as aiohttp_version

            user_agent = (
                f"agencyaccess-async/{__version__} aiohttp/{aiohttp_version} python/{_PYTHON}"
            )
            self._headers = {"Content-Type": "application/json", "User-Agent": user_agent}
            if self._transport is None:
                from ._aiohttp_transport import AiohttpTransport  # in the loop, on first use

                # One pool for the Session and every tenant view: its size bounds the
                # sockets, whatever the number of keys (each key's limiter bounds its own).
                self._transport = AiohttpTransport(
                    limit=self.tenant.limiter.max_concurrency,
                    max_response_bytes=self.max_response_bytes,
                )
            self.loop = loop
        elif self.loop is not loop:
            raise SessionError(
                "this Session belongs to another event loop; create one Session per loop"
            )
        assert self._transport is not None
        return self._transport

    @property
    def transport(self) -> Transport | None:
        """The transport: the caller's, or the default one once ``bind`` created it."""
        return self._transport

    @property
    def owns_open_transport(self) -> bool:
        """Whether an unclosed transport of the Requester's own making is bound to a loop."""
        return not self.closed and self.loop is not None and self._owns_transport

    async def aclose(self) -> None:
        """Close the transport if it was made here; calling it again does nothing."""
        if self.closed:
            return
        self.closed = True
        await self.tenant.limiter.aclose()
        if self._owns_transport and self._transport is not None:
            await self._transport.aclose()

    def url(self, path: str) -> URL:
        """The URL of ``path`` on the base URL."""
        return URL(str(self.base_url) + path)

    @overload
    async def request(
        self, route: PagedRoute[B, R], body: B, options: CallOptions, scope: Scope
    ) -> Page[R]: ...

    @overload
    async def request(
        self, route: Route[B, R], body: B, options: CallOptions, scope: Scope
    ) -> R: ...

    async def request(
        self, route: Route[Any, Any], body: Any, options: CallOptions, scope: Scope
    ) -> Any:
        """Make one call of ``route`` with ``body``; its answer decoded as the route's model.

        ``body`` is a request model, or plain JSON for a route of plain JSON
        (``session.post``, lookups). A paged route's answer is a ``Page``.
        ``options`` win over the ``scope``'s defaults; the scope's tenant
        gives the key and the limiter. With telemetry, the call is one span.
        """
        if self.telemetry is None:
            return await self._call(route, body, options, scope)
        with self.telemetry.operation(route.operation, self.base_url):
            return await self._call(route, body, options, scope)

    async def _call(
        self, route: Route[Any, Any], body: Any, options: CallOptions, scope: Scope
    ) -> Any:
        """The request loop: build, then attempt, classify and decide until done; decode."""
        loop = asyncio.get_running_loop()
        transport = self._transport if loop is self.loop and not self.closed else self.bind()
        assert transport is not None
        tenant = scope.tenant
        keys = tenant.keys
        if scope.defaults:
            options = {**scope.defaults, **options}
        payload = body if isinstance(body, Mapping) else CONVERTER.unstructure(body)
        extra_body, extra_headers = options.get("extra_body"), options.get("extra_headers")
        if extra_body:
            payload = {**payload, **extra_body}  # last: sent as given
        headers = self._headers
        if extra_headers:
            headers = with_extra_headers(headers, extra_headers)
        url = self._urls.get(route.operation)
        if url is None:  # a path of session.post
            url = self.url(route.path)
        request_id = f"{self._id_prefix}{next(self._request_numbers):x}"
        request = build_request(
            route.operation,
            url,
            payload,
            headers=headers,
            request_id=request_id,
            timeout=options.get("timeout") or self.timeout,
            api_key=keys.fixed,
            authorization=self._authorization,
        )
        policy = options.get("retry") or self.retry
        started = loop.time()
        deadline = started + policy.deadline
        attempt = 0
        tried = Tried()  # what decide() needs to know of the attempts so far
        response: Response | None = None
        key = keys.fixed
        while True:
            attempt += 1
            response = None
            try:
                key, limiter = keys.fixed, tenant.limiter  # as now: a rotation reaches a retry
                if key is None:  # a provider's key, read per attempt, paced on its own budget
                    key = await self._read_key(keys, deadline - loop.time())
                    limiter = self.budgets.of(key.fingerprint, tenant.limiter)
                response = await self._attempt(
                    transport, tenant, limiter, key, request, attempt, deadline
                )
                envelope = parse_response(response, operation=route.operation)
                break
            except _Refused as refused:  # nothing was sent: no retry
                refused.error.attempts = attempt - 1
                if isinstance(refused.error, RateLimitError):
                    refused.error.operation = route.operation
                raise refused.error from refused.error.__cause__
            except AgencyAccessError as error:
                scrub(error, self._secrets(key))
                tried = attrs.evolve(tried, refreshable=keys.refreshable)
                action = decide(route.kind, error, tried)
                if action is Action.DONE:
                    envelope = {"error": False, "data": {**payload, "deleted": True}}
                    break
                if action is Action.REFRESH_KEY:  # the next attempt reads the key again
                    tried = attrs.evolve(tried, key_refreshed=True)
                    continue
                if action is Action.RESEND:  # it may have arrived: a delete's 404 means done
                    tried = attrs.evolve(tried, resent=True, maybe_done=True)
                    attempt -= 1
                    continue
                if isinstance(error, RateLimitError):
                    self.stats.rate_limited += 1
                pause, wait = plan_retry(
                    policy, error, action, attempt, deadline - asyncio.get_running_loop().time()
                )
                if pause:
                    limiter.pause(pause)  # holds this key's every task, this one included
                if wait is None:
                    if action is Action.RECONCILE:
                        why = "no time left to look it up"
                        raise self._unknown(route, payload, error, attempt, why) from error
                    error.attempts = attempt
                    raise
                self.stats.retries += 1
                announce_retry(self.hooks, self.name, request, tenant, error, action, attempt, wait)
                await asyncio.sleep(wait)
                if action is Action.RECONCILE:
                    found = await self._reconcile(
                        route, payload, error, attempt, policy, started, deadline, scope
                    )
                    if found is not None:
                        self.stats.reconciled += 1
                        envelope, response = {"error": False, "data": found}, None
                        break
                if not (isinstance(error, TransportError) and not error.may_have_reached_server):
                    tried = attrs.evolve(tried, maybe_done=True)
        if response is not None:
            request_id = response.headers.get("X-Request-ID") or request_id
            server = self.server_clock  # kept as text: parsed only by a reconciliation
            server.date, server.seen_at = response.headers.get("Date"), server.clock()
        if CAPTURED.get() is not None:  # shown to the caller: what the server echoed, scrubbed
            secrets = self._secrets(key)
            answer = (
                (response.status, scrub_headers(response.headers, secrets))
                if response is not None
                else None
            )
            shown_id = scrub_text(request_id, secrets)
            record(route.operation, shown_id, answer, attempt, loop.time() - started)
        # Decode: the answer's data as the route's model (a Page of it for a paged
        # route; as it came for a route of plain JSON), a field the route says may
        # stand beside data (a link's inviteUrl) moved in first.
        data = envelope["data"]
        try:
            if isinstance(route, PagedRoute):
                if route.data is not dict:
                    data = [CONVERTER.structure(item, route.data) for item in data]
                return Page(tuple(data), envelope.get("nextCursor"))
            if route.data is dict:
                return data
            if isinstance(data, dict):
                for name in route.beside_data:
                    if data.get(name) is None and name in envelope:
                        data = {**data, name: envelope[name]}
                for name in route.requires:
                    if not data.get(name):
                        raise ValueError(f"{name} is missing, inside data and beside it")
            return CONVERTER.structure(data, route.data)
        except Exception as exc:  # the converter fails in many ways; all mean the same here
            undecodable = DecodeError(
                f"cannot read the answer of {route.operation} as {route.data.__name__}: {exc}",
                operation=route.operation,
                request_id=request_id,
                data=data,
            )
            scrub(undecodable, self._secrets(key))
            raise undecodable from exc

    async def _attempt(
        self,
        transport: Transport,
        tenant: Tenant,
        limiter: Limiter,
        key: APIKey,
        request: Request,
        attempt: int,
        deadline: float,
    ) -> Response:
        """One attempt with ``key``: a slot of its limiter, the send; every event paired.

        The limiter's wait and the attempt's total timeout both end by the
        call's deadline; the slot is released whatever happens. A resend
        first lets the loop turn once, so that the pool drops connections the
        server closed meanwhile (a reconciling lookup's, say) before one is
        taken for it.
        """
        if attempt > 1:
            await asyncio.sleep(0)
        loop = asyncio.get_running_loop()
        timeout = request.timeout
        if not limiter.try_acquire():
            budget = deadline - loop.time()
            if timeout is not None and timeout.total is not None:
                budget = min(budget, timeout.total)
            try:
                await limiter.acquire(timeout.pool if timeout else None, max(budget, 0.0))
            except (
                RateLimitError,
                SessionError,
            ) as error:  # a wait too long; a Redis misconfigured
                raise _Refused(error) from error.__cause__
        left = deadline - loop.time()
        if timeout is not None and timeout.total is not None and timeout.total > left:
            timeout = attrs.evolve(timeout, total=max(left, 0.001))
        if key is not request.api_key or timeout is not request.timeout:
            request = attrs.evolve(request, api_key=key, timeout=timeout)
        self.stats.requests += 1
        hooks = self.hooks
        if hooks.on_request:
            emit(hooks.on_request, RequestEvent(request.operation, request.method,
                 request.url.path, request.request_id or "", attempt, tenant.label,
                 self.name))  # fmt: skip
        started = time.perf_counter()
        response: Response | None = None
        failure: BaseException | None = None
        try:
            response = await transport.send(request)
            return response
        except BaseException as exc:
            failure = exc
            raise
        finally:
            # Measured here, whatever the transport reports: the limiter dates the
            # server's window from it, and events carry it.
            elapsed = time.perf_counter() - started
            limiter.release(response.headers if response is not None else None, elapsed)
            if self.telemetry is not None:
                self.telemetry.attempt_ended(request, response, self._secrets(request.api_key))
            if hooks.on_response or logger.isEnabledFor(_DEBUG):
                secrets = self._secrets(request.api_key)
                report_attempt(hooks, self.name, self.log_bodies, secrets, request, tenant,
                               attempt, response, elapsed, failure)  # fmt: skip

    async def _read_key(self, keys: KeySource, budget: float) -> APIKey:
        """A provider's key (or no key) for this attempt; a failure ends the call, nothing sent."""
        try:
            return await asyncio.wait_for(keys.read(), max(budget, 0.001))
        except SessionError as error:
            raise _Refused(error) from None
        except Exception as exc:
            failed = SessionError(f"the api_key provider failed: {type(exc).__name__}")
            failed.__cause__ = exc
            raise _Refused(failed) from None

    async def _reconcile(
        self,
        route: Route[Any, Any],
        payload: Mapping[str, Any],
        error: AgencyAccessError,
        attempt: int,
        policy: RetryPolicy,
        started: float,
        deadline: float,
        scope: Scope,
    ) -> Mapping[str, Any] | None:
        """The record an unanswered create may have made; None if provably not made.

        Raises ``OutcomeUnknownError`` when that cannot be told, and the error
        itself when the record is provably absent and no attempt is left.
        """
        loop = asyncio.get_running_loop()
        now = loop.time()

        def not_before() -> float:
            """When the call began on the server's clock, less a margin; -inf if unknown."""
            server_now = self.server_clock.now()
            if server_now is None:
                return -math.inf  # no server clock: the newest matching record
            return server_now - (loop.time() - started) - DATE_MARGIN

        try:
            lookup = lookup_for(route.operation, payload, not_before)
        except CannotReconcile as cannot:
            raise self._unknown(route, payload, error, attempt, str(cannot)) from error
        if lookup is None or deadline - now <= 0:
            raise self._unknown(route, payload, error, attempt, "no way to look the record up")
        try:
            found = await self.find(lookup, attrs.evolve(policy, deadline=deadline - now), scope)
        except AgencyAccessError as lookup_error:
            why = f"the lookup failed: {lookup_error}"
            raise self._unknown(route, payload, error, attempt, why) from lookup_error
        if found is None and attempt >= policy.attempts:
            error.attempts = attempt
            raise error  # provably not created: a plain failure
        return found

    async def find(
        self, lookup: Lookup, policy: RetryPolicy, scope: Scope
    ) -> Mapping[str, Any] | None:
        """The record ``lookup`` describes, searched through list pages; None if absent."""
        found = None
        cursor: str | None = None
        while True:
            query = {
                **lookup.query,
                "limit": LIST_LIMIT_MAX,
                **({"cursor": cursor} if cursor else {}),
            }
            page = await self.request(lookup.route, query, {"retry": policy}, scope)
            for item in page.items:
                if isinstance(item, Mapping) and lookup.match(item):
                    found = item  # pages come in creation order: a later match is newer
                    if not lookup.newest:
                        return found
            cursor = page.next_cursor
            if not cursor:
                return found

    def _unknown(
        self,
        route: Route[Any, Any],
        payload: Mapping[str, Any],
        error: AgencyAccessError,
        attempt: int,
        why: str,
    ) -> OutcomeUnknownError:
        operation = route.operation
        unknown = OutcomeUnknownError(
            f"{operation}: outcome unknown after {attempt} attempt(s) ({error!s}); {why}",
            operation=operation,
            idempotency_key=idempotency_key(operation, payload),
            last_error=error,
        )
        unknown.attempts = attempt
        unknown.__cause__ = error
        return unknown

    def _secrets(self, key: APIKey | None) -> tuple[str, ...]:
        """The texts nothing the SDK shows may hold: the API key, the base URL's password."""
        key_text = (key.reveal(),) if key is not None else ()
        return key_text + ((self._password.reveal(),) if self._password is not None else ())

    def _on_rate_limit_wait(self, delay: float, reason: str) -> None:
        if self.telemetry is not None:
            self.telemetry.waited(delay)
        if self.hooks.on_rate_limit_wait:
            emit(self.hooks.on_rate_limit_wait, RateLimitWaitEvent(delay, reason))
        logger.debug("rate limit: holding a request for %.3fs (%s)", delay, reason)


class _Refused(Exception):
    """Carries an error that ends the call before its attempt was sent (no retry)."""

    def __init__(self, error: AgencyAccessError) -> None:
        super().__init__(str(error))
        self.error = error
