"""The Session: the façade that assembles a transport, a limiter, a Requester and the resources.

It owns configuration and lifetime, nothing else: requests go from a
resource (``session.clients``, ``session.links``, ``session.bulk``) to the
``Requester`` (``_requester.py``), whose one request loop (``_call``) binds
to the loop, encodes, sends each attempt and decodes. Nothing below the
Session knows it exists.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from yarl import URL

from ._auth import APIKey, KeyProvider, KeySource, key_from_environment
from ._clients import Clients
from ._errors import SessionError
from ._hooks import Hooks, ResponseInfo, SessionStats, capture_responses
from ._http import DEFAULT_MAX_RESPONSE_BYTES, Timeout, redacted_url
from ._limiter import Limiter
from ._links import Links
from ._models import UNSET, Unset
from ._requester import Requester
from ._resource import invalid_argument
from ._retry import RetryPolicy
from ._routes import Kind, Route
from ._scope import CallOptions, Scope, Tenant
from ._telemetry import Telemetry, default_telemetry
from ._transport import ClosingContext, Transport

if TYPE_CHECKING:
    from ._bulk import Bulk

__all__ = [
    "DEFAULT_BASE_URL",
    "ResponseInfo",
    "Session",
    "SessionStats",
    "SessionView",
    "checked_base_url",
]


DEFAULT_BASE_URL = "https://api.agencyaccess.co"
#: The most API keys whose limiters a Session keeps (least recently used go first).
DEFAULT_MAX_TENANTS = 1024
# The most paths ``post`` keeps a route for (beyond them, one is made per call).
_RAW_ROUTES_MAX = 256


def checked_base_url(value: str | URL) -> URL:
    """``value`` as the base URL requests are built on; a ``SessionError`` if it cannot be one.

    An http(s) URL with a host, and no query or fragment (a path is appended
    to the base URL, so either would mangle every request). Messages never
    show a password the text may hold.
    """
    try:
        url = URL(str(value).rstrip("/"))
        host = url.host
    except ValueError:
        raise SessionError("the base URL is not a valid URL") from None
    if url.scheme not in ("http", "https") or not host:
        raise SessionError(f"the base URL {redacted_url(url)} is not an http(s) URL with a host")
    if url.query_string or url.fragment:
        raise SessionError(
            f"the base URL {redacted_url(url)} has a query or a fragment; give the address "
            "the API's paths (/api/...) follow"
        )
    return url


class _Calls:
    """What a Session and its views share: the resources, ``bulk``, ``post``, ``with_options``."""

    clients: Clients
    links: Links

    def __init__(self, session: Session, requester: Requester, scope: Scope) -> None:
        self._session = session
        self._requester = requester
        self._scope = scope
        self.clients = Clients(requester, scope)
        self.links = Links(requester, scope)
        self._bulk: Bulk | None = None

    @property
    def bulk(self) -> Bulk:
        """Bulk operations: ``create_clients``, ``create_links`` and ``onboard``."""
        if self._bulk is None:
            from ._bulk import Bulk  # imported on first use: it brings sqlite3 and more

            self._bulk = Bulk(self._requester, self._scope.tenant, self.clients, self.links)
        return self._bulk

    @property
    def limiter(self) -> Limiter:
        """The limiter pacing this key's requests (local, or shared like ``RedisLimiter``)."""
        return self._scope.tenant.limiter

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
            raise invalid_argument("path", f"must start with '/', got {path!r}")
        route = self._session._raw_route(path, Kind.UPDATE if idempotent else Kind.CREATE)
        options: CallOptions = {}
        if timeout is not None:
            options["timeout"] = timeout
        if retry is not None:
            options["retry"] = retry
        return await self._requester.request(route, dict(body or {}), options, self._scope)

    def with_options(
        self,
        *,
        api_key: str | KeyProvider | Unset = UNSET,
        tenant: str | None = None,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> SessionView:
        """A view whose calls default to these options; it shares this Session's pool.

        ``api_key`` makes a view for another key (a tenant of a platform): its
        own key, its own limiter (its own pacing and 429 pause), on the
        Session's connection pool. ``tenant`` is a label for hooks and logs
        (never the key). A call's own ``timeout=``/``retry=``/``extra_headers=``
        still win; closing a view closes nothing::

            urgent = session.with_options(retry=aa.RetryPolicy(deadline=5))
            agency = session.with_options(api_key=agency_key, tenant="agency-42")
            client = await agency.clients.retrieve(client_id)
        """
        earlier = self._scope.defaults
        defaults: CallOptions = {**earlier}
        if timeout is not None:
            defaults["timeout"] = timeout
        if retry is not None:
            defaults["retry"] = retry
        if headers:  # headers add up; the later view's win a clash
            defaults["extra_headers"] = {**(earlier.get("extra_headers") or {}), **headers}
        view_tenant = self._scope.tenant
        if not isinstance(api_key, Unset):
            view_tenant = self._session._tenant_for(api_key, tenant)
        elif tenant is not None:
            view_tenant = Tenant(view_tenant.keys, view_tenant.limiter, tenant)
        return SessionView(self._session, self._requester, Scope(view_tenant, defaults))


class Session(_Calls, ClosingContext):
    """An async client of the AgencyAccess API. Use it as ``async with Session() as s:``.

    Args:
        api_key: the API key, or a callable (sync or async) returning it,
            called for each attempt (a secrets manager that rotates it).
            Omitted: ``$AGENCYACCESS_API_KEY``, else the contents of the file
            named by ``$AGENCYACCESS_API_KEY_FILE``; no key there is an error
            at the first call. An explicit ``None`` or ``""`` is an error here,
            never a fall back to the environment.
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
        max_tenants: the most other keys (``with_options(api_key=...)``) whose
            limiters are kept; the least recently used go first.
        name: a name for this Session in events and log records (``session``),
            to tell several apart.
        tracing: OpenTelemetry spans and metrics per operation when
            ``opentelemetry-api`` is installed (the ``otel`` extra); ``False``
            turns them off; a ``Telemetry`` uses providers of your own.

    One Session serves a whole application: it is bound to the event loop of
    its first call and refuses use from any other. For many keys, keep one
    Session and take a view per key with ``with_options(api_key=...)``.

    """

    base_url: URL

    def __init__(
        self,
        api_key: str | KeyProvider | Unset | None = UNSET,
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
        max_tenants: int = DEFAULT_MAX_TENANTS,
        name: str | None = None,
        tracing: bool | Telemetry = True,
    ) -> None:
        if api_key is None:  # not a "use the default": a tenant's key may be missing
            raise SessionError(
                "api_key is None; pass the key, or omit the argument to read the environment"
            )
        keys = KeySource(key_from_environment() if isinstance(api_key, Unset) else api_key)
        base = base_url or os.environ.get("AGENCYACCESS_BASE_URL") or DEFAULT_BASE_URL
        requester = Requester(
            tenant=Tenant(keys, limiter or Limiter(max_concurrency, rate_limit)),
            base_url=checked_base_url(base),
            transport=transport,
            timeout=timeout or Timeout(),
            retry=retry or RetryPolicy(),
            hooks=hooks or Hooks(),
            log_bodies=log_bodies,
            max_response_bytes=max_response_bytes,
            routes=routes or {},
            strict_services=strict_services,
            name=name,
            telemetry=default_telemetry(tracing),
            max_tenants=max_tenants,
        )
        # Without a gateway's credentials, if the URL had any (they travel as a header).
        self.base_url = requester.base_url
        self._raw_routes: dict[tuple[str, Kind], Route[Any, Any]] = {}
        super().__init__(self, requester, Scope(requester.tenant))

    def __repr__(self) -> str:
        requester = self._requester
        state = "closed" if requester.closed else ("open" if requester.loop else "not started")
        return (
            f"<Session {requester.shown_url} {state}, max_concurrency={self.max_concurrency}, "
            f"requests={self.stats.requests}>"
        )

    @property
    def max_concurrency(self) -> int:
        """The most requests this Session has in flight at once."""
        return self._scope.tenant.limiter.max_concurrency

    @property
    def transport(self) -> Transport | None:
        """The transport in use: yours, or the default one once the first call created it."""
        return self._requester.transport

    @property
    def stats(self) -> SessionStats:
        """Requests sent, retries, 429s and reconciliations so far."""
        return self._requester.stats

    @property
    def timeout(self) -> Timeout:
        """The default ``Timeout`` of each attempt."""
        return self._requester.timeout

    @property
    def retry(self) -> RetryPolicy:
        """The default ``RetryPolicy`` of each call."""
        return self._requester.retry

    @property
    def hooks(self) -> Hooks:
        """The event callbacks; append to their lists to subscribe."""
        return self._requester.hooks

    @property
    def log_bodies(self) -> bool:
        """Whether request and response bodies are logged at DEBUG level."""
        return self._requester.log_bodies

    @log_bodies.setter
    def log_bodies(self, enabled: bool) -> None:
        self._requester.log_bodies = enabled

    @property
    def strict_services(self) -> bool:
        """Whether requested services the SDK's catalog does not know are refused."""
        return self._requester.strict_services

    @property
    def api_key(self) -> APIKey | None:
        """The API key, as an ``APIKey`` that never shows itself (``.reveal()`` gives the text).

        Assign a new one (a str or a provider) to rotate it: the next attempt
        uses it, a retry already waiting included. The pool, the limiter and
        the loop binding stay as they are.
        """
        return self._scope.tenant.keys.last

    @api_key.setter
    def api_key(self, key: str | APIKey | KeyProvider) -> None:
        tenant = self._scope.tenant
        tenant.keys.set(key)
        if tenant.keys.fixed is not None:  # the same budget, under the new key's fingerprint
            self._requester.budgets.pin(tenant.keys.fixed.fingerprint, tenant.limiter)

    @property
    def key_fingerprint(self) -> str:
        """A short hash of the API key: tells keys apart, never reveals one (safe to store).

        A bulk journal records it, so that a journal written with one key is
        not taken as done with another. Empty while a key provider was never read.
        """
        key = self._scope.tenant.keys.last
        return key.fingerprint if key is not None else ""

    def capture_responses(self) -> AbstractContextManager[list[ResponseInfo]]:
        """Collect a ``ResponseInfo`` for every call made inside the ``with`` block.

        >>> with session.capture_responses() as responses:  # doctest: +SKIP
        ...     client = await session.clients.create(name="Acme", email="ops@acme.test")
        >>> responses[-1].request_id, responses[-1].attempts  # doctest: +SKIP
        """
        return capture_responses()

    def _tenant_for(self, api_key: str | KeyProvider, label: str | None) -> Tenant:
        """The tenant of ``api_key``: a key source of the view's own, and its key's limiter.

        Its own key source, so that rotating the Session's key (or another
        view's) never changes the key this view sends. A fixed key's limiter
        is the one kept for that key (the Session's own, if it is the same
        key); a provider's view takes the Session's limiter as a template,
        and each attempt paces on the limiter of the key it read.
        """
        keys = KeySource(api_key)
        own = self._scope.tenant
        if keys.fixed is None:
            return Tenant(keys, own.limiter, label)
        limiter = self._requester.budgets.of(keys.fixed.fingerprint, own.limiter)
        if label is None and limiter is own.limiter:
            label = own.label
        return Tenant(keys, limiter, label)

    def _raw_route(self, path: str, kind: Kind) -> Route[Any, Any]:
        """The route of ``session.post(path)``: made once per path (up to a bound)."""
        route = self._raw_routes.get((path, kind))
        if route is None:
            route = Route(f"POST {path}", path, "", kind, dict, dict)
            if len(self._raw_routes) < _RAW_ROUTES_MAX:
                self._raw_routes[path, kind] = route
        return route

    async def __aenter__(self) -> Session:
        self._requester.bind()
        return self

    async def aclose(self) -> None:
        """Close the transport if the Session created it; calling it again does nothing."""
        await self._requester.aclose()

    def __del__(self, _warn: Any = warnings.warn) -> None:
        # Only a warning: no work may be scheduled from a finalizer. (getattr: an
        # __init__ that raised leaves the attributes unset.)
        requester = getattr(self, "_requester", None)
        if requester is not None and requester.owns_open_transport:
            _warn(f"unclosed {self!r}; use 'async with' or await aclose()", ResourceWarning, 2)


class SessionView(_Calls):
    """A Session's calls with other defaults, or another key (see ``Session.with_options``).

    It shares the Session's pool, loop binding and counters; closing it
    closes nothing.
    """

    def __repr__(self) -> str:
        label = f" tenant={self._scope.tenant.label!r}" if self._scope.tenant.label else ""
        return f"<SessionView of {self._requester.shown_url}{label} {sorted(self._scope.defaults)}>"
