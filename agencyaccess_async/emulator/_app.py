"""The emulator's aiohttp application: the ten public routes, rate limits, faults, counters.

One handler serves every public route, in the order a real deployment would
apply things: request id, route lookup, body size, authentication, rate
limit, injected faults (drop before, latency, 5xx), capability, JSON body,
validation and the operation itself, then a drop after processing or
``errors_as_200`` if asked for.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import math
import random
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError as _PayloadError

from . import _validate as v
from ._state import ALL_CAPABILITIES, Store
from ._validate import ApiFailure

try:  # the emulator's own codec choice; it shares no code with the SDK's
    import orjson

    def _dumps(payload: Any) -> bytes:
        return orjson.dumps(payload)

    _loads: Callable[[bytes], Any] = orjson.loads
except ImportError:  # pragma: no cover - depends on the environment
    _encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

    def _dumps(payload: Any) -> bytes:
        return _encoder.encode(payload).encode()

    _loads = json.loads

MAX_BODY = 1024 * 1024
#: The operation name the counters give every path that is no route of the API.
UNKNOWN_ROUTE = "(unknown route)"
_logger = logging.getLogger("agencyaccess_async.emulator")
#: orjson refuses a lone surrogate while parsing; the stdlib parser keeps it, and
#: a record holding one could never be written back out.
_CHECK_SURROGATES = _loads is json.loads
UNLIMITED = 1_000_000
_HTML_502 = (
    b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
)

Operation = Callable[[Store, dict[str, Any]], tuple[Any, dict[str, Any]]]


@attrs.frozen
class RouteSpec:
    """One public route: its operation, capability, body and answer schemas, and handler.

    ``body`` names a schema of ``_validate.SCHEMAS``, which checks the body
    before ``handler`` sees it; ``answer`` names the schema of the answer's
    ``data`` (of each record when ``paged``). The OpenAPI document is built
    from this table (``_openapi.py``).
    """

    operation: str
    capability: str
    body: str
    answer: str
    handler: Operation
    paged: bool = False
    changes: bool = False  # an update: at least one field besides the id


def _listed(items_and_cursor: tuple[list[Any], str | None]) -> tuple[Any, dict[str, Any]]:
    items, cursor = items_and_cursor
    return items, {"nextCursor": cursor}


#: path -> RouteSpec. The emulator's own copy of the contract's route table (it
#: does not import the SDK's; a test checks that both agree).
ROUTES: Mapping[str, RouteSpec] = {
    "/api/clients/create": RouteSpec("clients.create", "clients:create", "NewClient", "Client",
                                     lambda s, b: (s.create_client(b), {})),
    "/api/clients/list": RouteSpec("clients.list", "clients:retrieve", "ListQuery", "Client",
                                   lambda s, b: _listed(s.list_clients(b)), paged=True),
    "/api/clients/retrieve": RouteSpec("clients.retrieve", "clients:retrieve", "ClientRef",
                                       "Client", lambda s, b: (s.client(b["clientID"]), {})),
    "/api/clients/update": RouteSpec("clients.update", "clients:edit", "ClientChanges", "Client",
                                     lambda s, b: (s.update_client(b), {}), changes=True),
    "/api/clients/delete": RouteSpec("clients.delete", "clients:delete", "ClientRef",
                                     "DeletedClient",
                                     lambda s, b: (s.delete_client(b["clientID"]), {})),
    "/api/links/create": RouteSpec("links.create", "links:create", "NewLink", "Link",
                                   lambda s, b: (s.create_link(b), {})),
    "/api/links/list": RouteSpec("links.list", "links:retrieve", "LinkListQuery", "Link",
                                 lambda s, b: _listed(s.list_links(b)), paged=True),
    "/api/links/retrieve": RouteSpec("links.retrieve", "links:retrieve", "LinkRef", "Link",
                                     lambda s, b: (s.link(b["linkID"]), {})),
    "/api/links/update": RouteSpec("links.update", "links:edit", "LinkChanges", "Link",
                                   lambda s, b: (s.update_link(b), {}), changes=True),
    "/api/links/delete": RouteSpec("links.delete", "links:delete", "LinkRef", "DeletedLink",
                                   lambda s, b: (s.delete_link(b["linkID"]), {})),
}  # fmt: skip


@attrs.define
class Faults:
    """Faults to inject into public routes (all off by default).

    Rates are shares of requests (0.0-1.0). ``routes`` limits the faults to
    some operations (``"clients.create"``...); ``None`` means all.
    """

    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    error_rates: dict[int, float] = attrs.field(factory=dict)
    retry_after_503: float | None = 1.0
    drop_before: float = 0.0
    drop_after: float = 0.0
    errors_as_200: bool = False
    force_429: int = 0
    force_429_retry_after: float = 2.0
    routes: frozenset[str] | None = None


@attrs.define
class EmulatorConfig:
    """How an emulator starts: its seeded API key, rate limit, latency and randomness."""

    api_key: str | None = None
    rate_limit: int | None = None
    rate_window: float = 1.0
    latency_ms: float = 0.0
    seed_accounts: bool = True
    intake_form_enabled: bool = False
    admin_from_anywhere: bool = False
    #: The token the admin API requires (``X-Emulator-Admin``); default: a random
    #: one, printed by the CLI at start-up.
    admin_token: str | None = None
    random_seed: int | None = None
    request_log_size: int = 20_000
    #: Seconds a client may take to send a request's headers, and its body; and to
    #: keep an idle connection open. A slow client is disconnected past them.
    read_timeout: float = 30.0
    #: The most connections open at once; more are closed as they arrive.
    max_connections: int = 4096
    #: The emulator's address as clients' browsers reach it (``https://tunnel.example``);
    #: default: the address the request came to. Invite URLs are it plus /invite/<token>.
    invite_base_url: str | None = None
    #: The agency's name on the invite page.
    agency_name: str = "Emulated Agency"


#: The agency of the seeded key, and of every key created without one.
DEFAULT_AGENCY = "default"


@attrs.frozen
class KeyGrant:
    """What an API key may do, and whose records it sees."""

    capabilities: frozenset[str]
    agency: str


class Emulator:
    """The state and behaviour behind one emulator application."""

    config: EmulatorConfig
    rng: random.Random
    api_key: str
    admin_token: str
    keys: dict[str, KeyGrant]
    agencies: dict[str, Store]
    rate_limit: int | None
    rate_window: float
    faults: Faults
    counters: collections.Counter[tuple[str, str]]
    log: collections.deque[dict[str, Any]]

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.rng = random.Random(config.random_seed)
        self.api_key = config.api_key or "aa_test_" + secrets.token_urlsafe(18)
        self.admin_token = config.admin_token or "adm_" + secrets.token_urlsafe(24)
        self.reset()

    @property
    def store(self) -> Store:
        """The default agency's records (the seeded key's)."""
        return self.agency(DEFAULT_AGENCY)

    def agency(self, name: str) -> Store:
        """The records of agency ``name``, made (with the seeded accounts) on first use."""
        store = self.agencies.get(name)
        if store is None:
            store = self.agencies[name] = Store()
            if self.config.seed_accounts:
                store.seed_accounts()
            store.intake_form_enabled = self.config.intake_form_enabled
        return store

    def add_key(
        self, key: str | None, capabilities: list[str] | tuple[str, ...], agency: str
    ) -> str:
        """Make an API key of ``agency`` (a random one unless given); return it."""
        key = key or "aa_test_" + secrets.token_urlsafe(18)
        self.keys[key] = KeyGrant(frozenset(capabilities), agency)
        self.agency(agency)
        return key

    def store_with_link(self, link_id: str) -> Store:
        """The agency that holds access request ``link_id`` (the default one if none does)."""
        for store in self.agencies.values():
            if link_id in store.links.by_id:
                return store
        return self.store

    def store_with_invite(self, token: str) -> Store:
        """The agency whose access request has invite ``token`` (the default one if none)."""
        for store in self.agencies.values():
            if token in store.invites:
                return store
        return self.store

    def reset(self) -> None:
        """Forget every record, key, account and fault; seed again (the seeded key stays)."""
        self.keys = {}
        self.agencies = {}
        self.add_key(self.api_key, ALL_CAPABILITIES, DEFAULT_AGENCY)
        self.rate_limit = self.config.rate_limit
        self.rate_window = self.config.rate_window
        self.faults = Faults(latency_ms=self.config.latency_ms)
        self.windows: dict[str, list[float]] = {}
        self.counters: collections.Counter[tuple[str, str]] = collections.Counter()
        self.log: collections.deque[dict[str, Any]] = collections.deque(
            maxlen=self.config.request_log_size
        )

    # ------------------------------------------------------------ public API
    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer one public request, applying limits and faults in a deployment's order."""
        arrived = time.time()
        request_id = request.headers.get("X-Request-ID") or "req_" + secrets.token_hex(8)
        headers = {"X-Request-ID": request_id}
        route = ROUTES.get(request.path)
        # Counted by known route; every unknown path in one bucket (junk paths by the
        # thousand must not grow the counters).
        operation = route.operation if route else UNKNOWN_ROUTE
        key = request.headers.get("X-Auth")
        status: int | str = 200
        try:
            if route is None:
                raise ApiFailure(404, f"Not found: route {request.method} {request.path}")
            if request.method != "POST":
                raise ApiFailure(
                    405, f"Method not allowed: {request.method}; use POST", {"Allow": "POST"}
                )
            try:
                raw = await asyncio.wait_for(_read_body(request), self.config.read_timeout)
            except asyncio.TimeoutError:
                raise ApiFailure(408, "Request body not received in time") from None
            except (ConnectionError, web.HTTPException, _PayloadError) as error:
                status = "disconnected"
                _logger.info("a client left mid-body (%s)", type(error).__name__)
                return web.Response(status=400)
            grant = self.keys.get(key) if key else None
            if grant is None:
                raise ApiFailure(401, "Missing or invalid API key.")
            assert key is not None
            capabilities, store = grant.capabilities, self.agency(grant.agency)
            headers.update(self._count_against_limit(key))
            faults = self.faults if self._faults_apply(operation) else None
            if faults is not None and await self._fault_before(request, faults, headers):
                status = "dropped_before"
                return web.Response()
            if route.capability not in capabilities:
                raise ApiFailure(
                    403, f"Key does not have the required capability. {route.capability}"
                )
            if request.content_type != "application/json":
                raise ApiFailure(415, "Content-Type must be application/json")
            if route.operation == "links.create":
                store.invite_base = self._invite_base(request)
            body = v.validate(
                self._parse(raw), v.SCHEMAS[route.body], at_least_one_change=route.changes
            )
            data, extra = route.handler(store, body)
            payload = {"error": False, "data": data, **extra}
            if faults is not None and faults.drop_after and self.rng.random() < faults.drop_after:
                status = "dropped_after"
                return self._drop(request)
            return web.Response(
                body=_dumps(payload), headers=headers, content_type="application/json"
            )
        except ApiFailure as failure:
            status = failure.status
            return self._failure(failure, headers, key)
        except _Injected as injected:
            status = injected.status
            return injected.response
        finally:
            self.counters[(operation, str(status))] += 1
            self.log.append(
                {"t": arrived, "operation": operation, "status": status, "requestID": request_id}
            )

    def _invite_base(self, request: web.Request) -> str:
        """Where this link's invite page is: the configured base, or this emulator itself."""
        base = self.config.invite_base_url or f"{request.scheme}://{request.host}"
        return base.rstrip("/") + "/invite/"

    def _parse(self, raw: bytes) -> Any:
        try:
            body = _loads(raw)
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than the stack
            raise ApiFailure(400, "Invalid JSON body") from None
        if _CHECK_SURROGATES:
            v.check_text(body)
        return body

    def _failure(
        self, failure: ApiFailure, headers: dict[str, str], key: str | None
    ) -> web.Response:
        if "X-RateLimit-Limit" not in headers:
            headers.update(self._peek_limit(key))
        headers.update(failure.headers)
        status = 200 if self.faults.errors_as_200 else failure.status
        body = _dumps({"error": True, "msg": failure.msg})
        return web.Response(
            status=status, body=body, headers=headers, content_type="application/json"
        )

    # ------------------------------------------------------------ rate limit
    def _count_against_limit(self, key: str) -> dict[str, str]:
        limit = self.rate_limit if self.rate_limit is not None else UNLIMITED
        now = time.monotonic()
        window = self.windows.get(key)
        if window is None or now >= window[0] + self.rate_window:
            window = self.windows[key] = [now, 0.0]
        window[1] += 1
        reset = window[0] + self.rate_window - now
        headers = _limit_headers(limit, max(0, limit - int(window[1])), reset)
        if self.faults.force_429 > 0:
            self.faults.force_429 -= 1
            retry_after = self.faults.force_429_retry_after
            raise ApiFailure(
                429, "Rate limit exceeded", {**headers, "Retry-After": _num(retry_after)}
            )
        if window[1] > limit:
            raise ApiFailure(
                429, "Rate limit exceeded", {**headers, "Retry-After": str(math.ceil(reset))}
            )
        return headers

    def _peek_limit(self, key: str | None) -> dict[str, str]:
        limit = self.rate_limit if self.rate_limit is not None else UNLIMITED
        window = self.windows.get(key or "")
        now = time.monotonic()
        if window is None or now >= window[0] + self.rate_window:
            return _limit_headers(limit, limit, self.rate_window)
        return _limit_headers(
            limit, max(0, limit - int(window[1])), window[0] + self.rate_window - now
        )

    # ------------------------------------------------------------ faults
    def _faults_apply(self, operation: str) -> bool:
        f = self.faults
        active = f.latency_ms or f.error_rates or f.drop_before or f.drop_after
        return bool(active) and (f.routes is None or operation in f.routes)

    async def _fault_before(self, request: web.Request, f: Faults, headers: dict[str, str]) -> bool:
        """Apply faults before processing; ``True`` when the connection was dropped."""
        if f.drop_before and self.rng.random() < f.drop_before:
            self._drop(request)
            return True
        if f.latency_ms or f.latency_jitter_ms:
            await asyncio.sleep((f.latency_ms + self.rng.uniform(0, f.latency_jitter_ms)) / 1000)
        roll = self.rng.random()
        for status, rate in sorted(f.error_rates.items()):
            if roll < rate:
                raise _Injected(status, _injected_response(status, headers, f.retry_after_503))
            roll -= rate
        return False

    @staticmethod
    def _drop(request: web.Request) -> web.Response:
        if request.transport is not None:
            request.transport.close()
        return web.Response()

    # ------------------------------------------------------------ counters
    def counters_json(self) -> dict[str, Any]:
        """Requests served by operation and status, and records held by type."""
        by_operation: dict[str, dict[str, int]] = {}
        for (operation, status), count in sorted(self.counters.items()):
            by_operation.setdefault(operation, {})[status] = count
        return {
            "requests": by_operation,
            "total": sum(self.counters.values()),
            "records": {
                "clients": sum(len(store.clients) for store in self.agencies.values()),
                "links": sum(len(store.links) for store in self.agencies.values()),
            },
        }


async def _read_body(request: web.Request) -> bytes:
    """The body, read up to ``MAX_BODY``: a larger one is a 413 in the envelope, never buffered."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiFailure(413, "Request body too large")
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(MAX_BODY + 1 - size):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiFailure(413, "Request body too large")
    return b"".join(chunks)


class _Injected(Exception):
    def __init__(self, status: int, response: web.Response) -> None:
        self.status = status
        self.response = response


def _injected_response(
    status: int, headers: dict[str, str], retry_after: float | None
) -> web.Response:
    if status == 502:
        return web.Response(status=502, body=_HTML_502, headers=headers, content_type="text/html")
    extra = {"Retry-After": _num(retry_after)} if status == 503 and retry_after is not None else {}
    msg = "Service unavailable" if status == 503 else "Internal server error"
    body = _dumps({"error": True, "msg": msg})
    return web.Response(
        status=status, body=body, headers={**headers, **extra}, content_type="application/json"
    )


def _limit_headers(limit: int, remaining: int, reset: float) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": f"{max(0.0, reset):.3f}",
    }


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
