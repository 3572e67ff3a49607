"""The Requester: the path of every call below the resources, and knowing no resource.

Bind to the running loop (creating the default transport there), encode the
request model to wire JSON, build the ``Request`` with the Session's headers
and a request id, run a ``Call`` (the limiter, the transport, retries and
reconciliation), then decode the answer's ``data`` into the route's model.
It also keeps the counters and the response capture of ``capture_responses``.

Data flows one way: resources (``_clients``, ``_links``) -> Requester -> Call ->
limiter and transport -> the sans-I/O core. The Requester is what ``Call``
knows as its ``CallContext``: a limiter, hooks, stats, and ``envelope`` for
the finders' lookups; nothing above it.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import secrets
import sys
from collections.abc import Coroutine, Mapping
from contextlib import AbstractContextManager
from typing import Any, TypedDict, TypeVar

import aiohttp
from yarl import URL

from . import _fast_codec
from ._call import CallResult, Finish, run_call
from ._capture import ResponseInfo, capture_responses, record
from ._errors import DecodeError, SessionError
from ._hooks import Hooks, RateLimitWaitEvent, SessionStats, emit, logger
from ._http import Timeout, build_request
from ._limiter import Limiter
from ._models import Page
from ._retry import RetryPolicy
from ._routes import ROUTES, Kind, Route
from ._transport import Transport
from ._version import __version__

__all__ = ["CallOptions", "Requester"]

B = TypeVar("B")
R = TypeVar("R")
T = TypeVar("T")

USER_AGENT = (
    f"agencyaccess-async/{__version__} aiohttp/{aiohttp.__version__} "
    f"python/{'.'.join(map(str, sys.version_info[:3]))}"
)


# The most paths ``post`` keeps a route and a parsed URL for (beyond them, made per call).
_RAW_ROUTES_MAX = 256


class CallOptions(TypedDict, total=False):
    """The per-call options every endpoint method takes as keywords.

    ``timeout`` and ``retry`` override the Session's for this call;
    ``extra_body`` is merged into the JSON body last, for fields the SDK does
    not model yet; ``extra_headers`` are sent besides the Session's (any but
    ``X-Auth``: rotate the key with ``session.api_key``).
    """

    timeout: Timeout | None
    retry: RetryPolicy | None
    extra_body: Mapping[str, Any] | None
    extra_headers: Mapping[str, str] | None


class Requester:
    """Sends calls for one Session: see the module doc. Built by the Session, not by users."""

    base_url: URL
    limiter: Limiter
    timeout: Timeout
    retry: RetryPolicy
    hooks: Hooks
    log_bodies: bool
    max_response_bytes: int
    strict_services: bool
    stats: SessionStats
    loop: asyncio.AbstractEventLoop | None
    closed: bool

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: URL,
        transport: Transport | None,
        limiter: Limiter,
        timeout: Timeout,
        retry: RetryPolicy,
        hooks: Hooks,
        log_bodies: bool,
        max_response_bytes: int,
        routes: Mapping[str, str],
        strict_services: bool,
    ) -> None:
        unknown = set(routes) - set(ROUTES)
        if unknown:
            raise SessionError(
                f"routes: no operation {sorted(unknown)[0]!r}; the operations are "
                + ", ".join(ROUTES)
            )
        self._api_key = clean_key(api_key)
        self.base_url = base_url
        self._urls = {op: self._url(routes.get(op, route.path)) for op, route in ROUTES.items()}
        self._raw_routes: dict[tuple[str, Kind], Route[dict[str, Any], Any]] = {}
        self._transport = transport
        self._owns_transport = transport is None
        self.limiter = limiter
        self.timeout = timeout
        self.retry = retry
        self.hooks = hooks
        self.log_bodies = log_bodies
        self.max_response_bytes = max_response_bytes
        self.strict_services = strict_services
        self.stats = SessionStats()
        if limiter.on_wait is None:
            limiter.on_wait = self._on_rate_limit_wait
        limiter.attach(str(base_url), self.key_fingerprint)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.closed = False
        self._headers: dict[str, str] = {}
        # Request ids: random per Session, then a counter (cheaper than a UUID per call).
        self._id_prefix = secrets.token_hex(6) + "-"
        self._request_numbers = itertools.count(1)

    @property
    def api_key(self) -> str | None:
        """The API key; a new one takes effect on the next request."""
        return self._api_key

    @api_key.setter
    def api_key(self, key: str) -> None:
        cleaned = clean_key(key)
        if not cleaned:
            raise SessionError("the new API key is empty")
        self._api_key = cleaned
        if self._headers:
            self._headers = {**self._headers, "X-Auth": cleaned}

    @property
    def key_fingerprint(self) -> str:
        """A short hash of the API key: tells keys apart, never reveals one."""
        digest = hashlib.sha256(b"agencyaccess-key\n" + (self._api_key or "").encode())
        return digest.hexdigest()[:16]

    def bind(self) -> Transport:
        """The transport, bound to the running loop on first use; refuse any other loop."""
        loop = asyncio.get_running_loop()
        if self.closed:
            raise SessionError("this Session is closed; create a new one")
        if self.loop is None:
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
                from ._aiohttp_transport import AiohttpTransport  # in the loop, on first use

                self._transport = AiohttpTransport(
                    limit=max(100, self.limiter.max_concurrency),
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
        await self.limiter.aclose()
        if self._owns_transport and self._transport is not None:
            await self._transport.aclose()

    def send(self, route: Route[B, R], body: B, options: CallOptions) -> Coroutine[Any, Any, R]:
        """Send ``body`` (a request model) to ``route``; the answer's ``data`` as its model.

        ``extra_body`` is merged into the wire body last: fields the SDK does
        not model yet go out as given. Like every sending method here, this
        one returns ``run_call``'s coroutine for the caller to await, rather
        than awaiting it in a coroutine of its own: one frame less a call,
        on every resume of the task.
        """
        return self._call(route, _payload(body, options), options, _decode_record)

    def send_page(
        self, route: Route[B, R], body: B, options: CallOptions
    ) -> Coroutine[Any, Any, Page[R]]:
        """Send a list query to a paged ``route``; one ``Page`` of its model."""
        return self._call(route, _payload(body, options), options, _decode_page)

    def post(
        self,
        path: str,
        body: Mapping[str, Any] | None,
        *,
        idempotent: bool,
        timeout: Timeout | None,
        retry: RetryPolicy | None,
    ) -> Coroutine[Any, Any, Any]:
        """POST to a path the route table does not know; the answer's ``data`` as plain JSON."""
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/', got {path!r}")
        kind = Kind.UPDATE if idempotent else Kind.CREATE
        route = self._raw_routes.get((path, kind))
        if route is None:  # the route and its URL are made once per path
            route = Route(f"POST {path}", path, "", kind, dict, dict)
            if len(self._raw_routes) < _RAW_ROUTES_MAX:
                self._raw_routes[path, kind] = route
                self._urls[route.operation] = self._url(path)
        options: CallOptions = {"timeout": timeout, "retry": retry}
        return self._call(route, dict(body or {}), options, _data)

    def envelope(
        self, route: Route[Any, Any], payload: Mapping[str, Any], retry: RetryPolicy
    ) -> Coroutine[Any, Any, Mapping[str, Any]]:
        """The envelope of one call of a wire ``payload``: the finders' way to look records up."""
        return self._call(route, payload, {"retry": retry}, _envelope)

    def capture_responses(self) -> AbstractContextManager[list[ResponseInfo]]:
        """Collect a ``ResponseInfo`` for every call made inside the ``with`` block."""
        return capture_responses()

    #: Hand a successful call to ``capture_responses`` (the Call's way to report one).
    record = staticmethod(record)

    def _call(
        self,
        route: Route[Any, Any],
        payload: Mapping[str, Any],
        options: CallOptions,
        finish: Finish[T],
    ) -> Coroutine[Any, Any, T]:
        """Build the request of one call of a wire ``payload``; the coroutine that makes it.

        ``run_call`` ends the call with ``finish(route, result)``: the decoding
        that the sending method would otherwise await the call to do.
        """
        transport = self.bind()
        extra_headers = options.get("extra_headers")
        headers = self._headers if not extra_headers else _with_extra(self._headers, extra_headers)
        url = self._urls.get(route.operation)
        if url is None:  # (not ``or``: a URL's truth is a Python call)
            url = self._url(route.path)
        request = build_request(
            route.operation,
            url,
            payload,
            headers=headers,
            request_id=f"{self._id_prefix}{next(self._request_numbers):x}",
            timeout=options.get("timeout") or self.timeout,
        )
        policy = options.get("retry") or self.retry
        return run_call(self, transport, route, payload, request, policy, finish)

    def _url(self, path: str) -> URL:
        return URL(str(self.base_url) + path)

    def _on_rate_limit_wait(self, delay: float, reason: str) -> None:
        if self.hooks.on_rate_limit_wait:
            emit(self.hooks.on_rate_limit_wait, RateLimitWaitEvent(delay, reason))
        logger.debug("rate limit: holding a request for %.3fs (%s)", delay, reason)


def _with_extra(headers: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """The Session's headers with a call's extra ones; the key is never one of them."""
    if any(name.lower() == "x-auth" for name in extra):
        raise ValueError("extra_headers may not set X-Auth; rotate the key with session.api_key")
    return {**headers, **extra}


def _payload(body: Any, options: CallOptions) -> Any:
    """The wire form of a request model, with ``extra_body`` merged in last."""
    payload = _fast_codec.unstructure(body)
    extra_body = options.get("extra_body")
    return {**payload, **extra_body} if extra_body else payload


def _lift(route: Route[Any, Any], envelope: Mapping[str, Any]) -> Any:
    """The answer's ``data``, with the route's fields found beside it moved in; checked."""
    data = envelope["data"]
    if not isinstance(data, dict):
        return data
    if route.beside_data:
        lifted = [k for k in route.beside_data if data.get(k) is None and k in envelope]
        if lifted:
            data = {**data, **{k: envelope[k] for k in lifted}}
    for name in route.requires:
        if not data.get(name):
            raise ValueError(f"{name} is missing, inside data and beside it")
    return data


def _decode_record(route: Route[Any, R], result: CallResult) -> R:
    """The answer's record as the route's model."""
    try:
        return _fast_codec.structure(_lift(route, result.envelope), route.data)
    except Exception as exc:  # the converter fails in many ways; all mean the same here
        raise _decode_error(route, result, exc) from exc


def _decode_page(route: Route[Any, R], result: CallResult) -> Page[R]:
    """A list answer's records as a ``Page`` of the route's model."""
    envelope = result.envelope
    try:
        items = tuple(_fast_codec.structure(item, route.data) for item in envelope["data"])
    except Exception as exc:
        raise _decode_error(route, result, exc) from exc
    return Page(items, envelope.get("nextCursor"))


def _decode_error(route: Route[Any, Any], result: CallResult, exc: Exception) -> DecodeError:
    """The error of an answer that cannot be read as the route's model: it carries the raw data."""
    response = result.response
    return DecodeError(
        f"cannot read the answer of {route.operation} as {route.data.__name__}: {exc}",
        operation=route.operation,
        request_id=response.request_id if response is not None else None,
        data=result.envelope.get("data"),
    )


def _data(route: Route[Any, Any], result: CallResult) -> Any:
    """The answer's ``data``, as plain JSON."""
    return result.envelope["data"]


def _envelope(route: Route[Any, Any], result: CallResult) -> Mapping[str, Any]:
    """The answer's whole envelope."""
    return result.envelope


def clean_key(key: str | None) -> str | None:
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
