"""The Session: the façade that assembles a transport, a limiter, a Requester and the resources.

It owns configuration and lifetime, nothing else: requests go from a
resource (``session.clients``, ``session.links``, ``session.bulk``) to the
``Requester`` (``_requester.py``), which binds to the loop, encodes, runs a
``Call`` and decodes. Nothing below the Session knows it exists.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from yarl import URL

from ._capture import ResponseInfo
from ._clients import Clients
from ._hooks import Hooks, SessionStats
from ._http import DEFAULT_MAX_RESPONSE_BYTES, Timeout
from ._limiter import Limiter
from ._links import Links
from ._requester import CallOptions, Requester
from ._retry import RetryPolicy
from ._transport import ClosingContext, Transport

if TYPE_CHECKING:
    from ._bulk import Bulk

__all__ = ["DEFAULT_BASE_URL", "ResponseInfo", "Session", "SessionStats", "SessionView"]


DEFAULT_BASE_URL = "https://api.agencyaccess.co"


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

    clients: Clients
    links: Links
    base_url: URL

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
        base = base_url or os.environ.get("AGENCYACCESS_BASE_URL") or DEFAULT_BASE_URL
        self.base_url = URL(str(base).rstrip("/"))
        self._requester = Requester(
            api_key=api_key if api_key is not None else os.environ.get("AGENCYACCESS_API_KEY"),
            base_url=self.base_url,
            transport=transport,
            limiter=limiter or Limiter(max_concurrency, rate_limit),
            timeout=timeout or Timeout(),
            retry=retry or RetryPolicy(),
            hooks=hooks or Hooks(),
            log_bodies=log_bodies,
            max_response_bytes=max_response_bytes,
            routes=routes or {},
            strict_services=strict_services,
        )
        self.clients = Clients(self._requester)
        self.links = Links(self._requester)
        self._bulk: Bulk | None = None

    def __repr__(self) -> str:
        requester = self._requester
        state = "closed" if requester.closed else ("open" if requester.loop else "not started")
        return (
            f"<Session {self.base_url} {state}, max_concurrency={self.max_concurrency}, "
            f"requests={self.stats.requests}>"
        )

    @property
    def bulk(self) -> Bulk:
        """Bulk operations: ``create_clients``, ``create_links`` and ``onboard``."""
        if self._bulk is None:
            from ._bulk import Bulk  # imported on first use: it brings sqlite3 and more

            self._bulk = Bulk(self._requester, self.clients, self.links)
        return self._bulk

    @property
    def max_concurrency(self) -> int:
        """The most requests this Session has in flight at once."""
        return self._requester.limiter.max_concurrency

    @property
    def transport(self) -> Transport | None:
        """The transport in use: yours, or the default one once the first call created it."""
        return self._requester.transport

    @property
    def limiter(self) -> Limiter:
        """The limiter pacing this Session's requests (local, or shared like ``RedisLimiter``)."""
        return self._requester.limiter

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
    def api_key(self) -> str | None:
        """The API key. Assign a new one to rotate it: the next request uses it.

        The pool, the limiter and the loop binding stay as they are, so a
        long-lived Session survives a key roll (the old key stops at once).
        """
        return self._requester.api_key

    @api_key.setter
    def api_key(self, key: str) -> None:
        self._requester.api_key = key

    @property
    def key_fingerprint(self) -> str:
        """A short hash of the API key: tells keys apart, never reveals one (safe to store).

        A bulk journal records it, so that a journal written with one key is
        not taken as done with another.
        """
        return self._requester.key_fingerprint

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
        return await self._requester.post(
            path, body, idempotent=idempotent, timeout=timeout, retry=retry
        )

    def with_options(
        self,
        *,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> SessionView:
        """A view of this Session whose calls default to these options.

        It shares the pool, the limiter, the loop binding and the key; closing
        it closes nothing. A call's own ``timeout=``/``retry=``/``extra_headers=``
        still win::

            urgent = session.with_options(retry=aa.RetryPolicy(deadline=5))
            client = await urgent.clients.retrieve(client_id)
        """
        return SessionView(self._requester, _defaults(timeout, retry, headers))

    def capture_responses(self) -> AbstractContextManager[list[ResponseInfo]]:
        """Collect a ``ResponseInfo`` for every call made inside the ``with`` block.

        >>> with session.capture_responses() as responses:  # doctest: +SKIP
        ...     client = await session.clients.create(name="Acme", email="ops@acme.test")
        >>> responses[-1].request_id, responses[-1].attempts  # doctest: +SKIP
        """
        return self._requester.capture_responses()

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


class SessionView:
    """A Session's resources with default per-call options (see ``Session.with_options``)."""

    clients: Clients
    links: Links

    def __init__(self, requester: Requester, defaults: CallOptions) -> None:
        self._requester = requester
        self._defaults = defaults
        self.clients = Clients(requester, defaults)
        self.links = Links(requester, defaults)

    def __repr__(self) -> str:
        return f"<SessionView of {self._requester.base_url} {sorted(self._defaults)}>"

    def with_options(
        self,
        *,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> SessionView:
        """A view with these options on top of this one's."""
        earlier = self._defaults.get("extra_headers") or {}
        merged: CallOptions = {**self._defaults, **_defaults(timeout, retry, headers)}
        if earlier and headers:  # headers add up; the later view's win a clash
            merged["extra_headers"] = {**earlier, **headers}
        return SessionView(self._requester, merged)


def _defaults(
    timeout: Timeout | None, retry: RetryPolicy | None, headers: Mapping[str, str] | None
) -> CallOptions:
    options: CallOptions = {}
    if timeout is not None:
        options["timeout"] = timeout
    if retry is not None:
        options["retry"] = retry
    if headers:
        options["extra_headers"] = dict(headers)
    return options
