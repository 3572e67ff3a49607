"""The emulator's admin API under ``/_emulator/``: what tests need and the hosted API lacks.

It mints keys, reads every record and switches faults on, so it needs proof,
not a peer address: the ``X-Emulator-Admin`` header must carry the token the
emulator printed at start-up (``EmulatorConfig.admin_token``). Behind a tunnel
or a reverse proxy every request comes from 127.0.0.1, so the loopback check
(kept, unless the config allows other peers) proves nothing by itself.
Bodies and answers use the API's envelope. The OpenAPI document is public.
"""

from __future__ import annotations

import hmac
import json
import math
from typing import Any

from aiohttp import web

from .._contract import CATALOG
from . import _validate as v
from ._app import DEFAULT_AGENCY, Emulator, Faults
from ._openapi import openapi_document
from ._state import ALL_CAPABILITIES, Store
from ._validate import ApiFailure, invalid

_LOOPBACK = ("127.", "::1", "::ffff:127.")
#: The header that carries the admin token.
ADMIN_HEADER = "X-Emulator-Admin"


def add_admin_routes(app: web.Application, emulator: Emulator) -> None:
    """Register every admin route of ``emulator`` on ``app``."""
    admin = _Admin(emulator)
    routes = {
        "keys": admin.create_key,
        "keys/revoke": admin.revoke_key,
        "accounts": admin.add_account,
        "intake-form": admin.intake_form,
        "links/grant": admin.grant,
        "links/complete-intake": admin.complete_intake,
        "rate-limit": admin.rate_limit,
        "faults": admin.set_faults,
        "reset": admin.reset,
    }
    for name, handler in routes.items():
        app.router.add_post(f"/_emulator/{name}", admin.wrap(handler))
    app.router.add_get("/_emulator/faults", admin.wrap(admin.get_faults))
    app.router.add_get("/_emulator/counters", admin.wrap(admin.counters))
    app.router.add_get("/_emulator/requests", admin.wrap(admin.requests))
    app.router.add_get("/_emulator/state", admin.wrap(admin.state))
    app.router.add_get("/_emulator/openapi.json", admin.openapi)


class _Admin:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def wrap(self, handler: Any) -> Any:
        async def endpoint(request: web.Request) -> web.Response:
            try:
                if not self.emulator.config.admin_from_anywhere and not (
                    request.remote or ""
                ).startswith(_LOOPBACK):
                    raise ApiFailure(403, "The admin API answers loopback clients only")
                given = request.headers.get(ADMIN_HEADER, "").encode()
                if not hmac.compare_digest(given, self.emulator.admin_token.encode()):
                    raise ApiFailure(
                        403,
                        f"The admin API needs the {ADMIN_HEADER} header with the token the "
                        "emulator printed at start-up",
                    )
                body = await request.json() if request.can_read_body else {}
                if not isinstance(body, dict):
                    raise ApiFailure(400, "Invalid JSON body")
                return web.json_response({"error": False, "data": handler(body)})
            except ApiFailure as failure:
                payload = {"error": True, "msg": failure.msg}
                return web.json_response(payload, status=failure.status)
            except (ValueError, RecursionError):  # not JSON, or nested past the stack
                return web.json_response({"error": True, "msg": "Invalid JSON body"}, status=400)
            except web.HTTPRequestEntityTooLarge:
                return web.json_response(
                    {"error": True, "msg": "Request body too large"}, status=413
                )
            except (TypeError, AttributeError, KeyError) as error:
                # A value of a type no check expected: the caller's mistake, said as such.
                msg = f"Invalid field: a value has the wrong type ({error})"
                return web.json_response({"error": True, "msg": msg}, status=400)

        return endpoint

    @property
    def store(self) -> Store:
        return self.emulator.store

    def _agency(self, body: dict[str, Any]) -> str:
        agency = body.get("agency", DEFAULT_AGENCY)
        if not isinstance(agency, str) or not agency:
            raise invalid("agency", "must be a non-empty string")
        return agency

    def create_key(self, body: dict[str, Any]) -> Any:
        capabilities = body.get("capabilities", list(ALL_CAPABILITIES))
        if capabilities == "all":
            capabilities = list(ALL_CAPABILITIES)
        if not isinstance(capabilities, list) or not set(capabilities) <= set(ALL_CAPABILITIES):
            raise invalid("capabilities", f"a list of {', '.join(ALL_CAPABILITIES)}")
        key = body.get("key")
        if key is not None and (not isinstance(key, str) or not key):
            raise invalid("key", "must be a non-empty string")
        agency = self._agency(body)
        key = self.emulator.add_key(key, capabilities, agency)
        return {"key": key, "capabilities": capabilities, "agency": agency}

    def revoke_key(self, body: dict[str, Any]) -> Any:
        key = body.get("key")
        if not isinstance(key, str) or self.emulator.keys.pop(key, None) is None:
            raise ApiFailure(404, "Not found: key")
        return {"revoked": True}

    def add_account(self, body: dict[str, Any]) -> Any:
        platform = body.get("platform")
        if not isinstance(platform, str) or platform not in CATALOG:
            raise invalid("platform", f"one of {', '.join(CATALOG)}")
        return self.emulator.agency(self._agency(body)).add_account(
            platform, body.get("agencyAccountID"), bool(body.get("expired", False))
        )

    def intake_form(self, body: dict[str, Any]) -> Any:
        store = self.emulator.agency(self._agency(body))
        store.intake_form_enabled = v.boolean("enabled", body.get("enabled"))
        return {"enabled": store.intake_form_enabled}

    def grant(self, body: dict[str, Any]) -> Any:
        status = body.get("status", "granted")
        if status not in ("granted", "rejected", "pending"):
            raise invalid("status", "one of granted, rejected, pending")
        link_id = v.identifier("linkID", body.get("linkID"))
        platform = v.identifier("platform", body.get("platform"))
        service = v.identifier("service", body.get("service"))
        return self.emulator.store_with_link(link_id).set_grant(link_id, platform, service, status)

    def complete_intake(self, body: dict[str, Any]) -> Any:
        link_id = v.identifier("linkID", body.get("linkID"))
        return self.emulator.store_with_link(link_id).complete_intake(link_id)

    def rate_limit(self, body: dict[str, Any]) -> Any:
        limit = body.get("limit")
        window = body.get("window", self.emulator.rate_window)
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
        ):
            raise invalid("limit", "a positive integer or null")
        if (
            isinstance(window, bool)
            or not isinstance(window, (int, float))
            or not 0 < window < math.inf
        ):
            raise invalid("window", "a positive number of seconds")
        self.emulator.rate_limit = limit
        self.emulator.rate_window = float(window)
        self.emulator.windows.clear()
        return {"limit": limit, "window": float(window)}

    def set_faults(self, body: dict[str, Any]) -> Any:
        self.emulator.faults = _faults_from_json(body, self.emulator.config.latency_ms)
        return self.get_faults({})

    def get_faults(self, _: dict[str, Any]) -> Any:
        f = self.emulator.faults
        return {
            "latencyMs": f.latency_ms,
            "latencyJitterMs": f.latency_jitter_ms,
            "errorRates": {str(k): rate for k, rate in f.error_rates.items()},
            "retryAfter503": f.retry_after_503,
            "dropBefore": f.drop_before,
            "dropAfter": f.drop_after,
            "errorsAs200": f.errors_as_200,
            "force429": {"count": f.force_429, "retryAfter": f.force_429_retry_after},
            "routes": sorted(f.routes) if f.routes is not None else None,
        }

    def reset(self, _: dict[str, Any]) -> Any:
        self.emulator.reset()
        return {"apiKey": self.emulator.api_key}

    def counters(self, _: dict[str, Any]) -> Any:
        return self.emulator.counters_json()

    def requests(self, _: dict[str, Any]) -> Any:
        return list(self.emulator.log)

    def state(self, _: dict[str, Any]) -> Any:
        return {
            "accounts": list(self.store.accounts.values()),
            "intakeFormEnabled": self.store.intake_form_enabled,
            "rateLimit": {"limit": self.emulator.rate_limit, "window": self.emulator.rate_window},
            "keys": len(self.emulator.keys),
            "agencies": sorted(self.emulator.agencies),
        }

    async def openapi(self, request: web.Request) -> web.Response:
        return web.Response(text=_OPENAPI, content_type="application/json")


def _share(body: dict[str, Any], name: str) -> float:
    value = body.get(name, 0.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise invalid(name, "a share from 0 to 1")
    return float(value)


def _seconds(body: dict[str, Any], name: str, default: float | None) -> float | None:
    value = body.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
        raise invalid(name, "a non-negative number")
    return float(value)


def _faults_from_json(body: dict[str, Any], default_latency: float) -> Faults:
    known = {
        "latencyMs", "latencyJitterMs", "errorRates", "retryAfter503", "dropBefore",
        "dropAfter", "errorsAs200", "force429", "routes",
    }  # fmt: skip
    unknown = sorted(set(body) - known)
    if unknown:
        raise invalid(unknown[0], "unknown field")
    rates = body.get("errorRates", {})
    if not isinstance(rates, dict) or not set(rates) <= {"500", "502", "503", "504"}:
        raise invalid("errorRates", 'an object like {"503": 0.2}; statuses 500, 502, 503, 504')
    error_rates = {int(status): _share(rates, status) for status in rates}
    if sum(error_rates.values()) > 1:
        raise invalid("errorRates", "shares add up to more than 1")
    force = body.get("force429", {})
    if not isinstance(force, dict):
        raise invalid("force429", 'an object like {"count": 1, "retryAfter": 2}')
    count = force.get("count", 0)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise invalid("force429.count", "a non-negative integer")
    routes = body.get("routes")
    if routes is not None and (
        not isinstance(routes, list) or not all(isinstance(r, str) for r in routes)
    ):
        raise invalid("routes", 'a list of operations like ["clients.create"], or null')
    return Faults(
        latency_ms=_seconds(body, "latencyMs", default_latency) or 0.0,
        latency_jitter_ms=_seconds(body, "latencyJitterMs", 0.0) or 0.0,
        error_rates=error_rates,
        retry_after_503=_seconds(body, "retryAfter503", 1.0),
        drop_before=_share(body, "dropBefore"),
        drop_after=_share(body, "dropAfter"),
        errors_as_200=bool(body.get("errorsAs200", False)),
        force_429=count,
        force_429_retry_after=_seconds(force, "retryAfter", 2.0) or 0.0,
        routes=frozenset(routes) if routes is not None else None,
    )


#: Built once, at import: the document of the tables this emulator serves.
_OPENAPI = json.dumps(openapi_document(), indent=2)
