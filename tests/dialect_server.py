"""A second AgencyAccess server, written for the tests, that speaks a plausible other dialect.

Everything the public guide fixes is kept (``X-Auth``, POST JSON, the
``{"error": true, "msg": ...}`` shape, the guide's six causes in its own
words, ``inviteUrl`` in a created link's answer); everything our contract
model guessed is answered differently, as the hosted service might:

- minimal records with ``id`` (no ``clientID``/``linkID``), 20-character
  opaque ids, ``created`` in epoch milliseconds, no ``updatedAt``/``grants``;
- capitalised enum values (``"Client"``, ``"Prospect"``, ``"Pending"``);
- a created link's ``inviteUrl`` beside ``data``, not in it;
- every failure at HTTP 200, in the guide's wording;
- no ``X-RateLimit-*`` and no ``X-Request-ID`` headers;
- links retrieved at ``/api/links/get`` (so the SDK needs ``routes=``);
- one extra route the SDK does not know, ``/api/account/info``.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

__all__ = ["DialectServer", "serve_dialect"]

KEY = "dialect-key-1"


class DialectServer:
    """In-memory state of the dialect server, and its aiohttp application."""

    def __init__(self) -> None:
        self.keys = {KEY: {"clients", "links"}}
        self.clients: dict[str, dict[str, Any]] = {}
        self.links: dict[str, dict[str, Any]] = {}
        self.bodies: list[tuple[str, dict[str, Any]]] = []
        self.app = web.Application()
        self.app.router.add_post("/{path:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        key = request.headers.get("X-Auth", "")
        if key not in self.keys:
            return _fail("Missing or invalid API key.")
        body = await request.json()
        self.bodies.append((path, body))
        area = path.split("/")[2] if path.count("/") >= 2 else ""
        if area in ("clients", "links") and area not in self.keys[key]:
            return _fail("Key does not have the required capability.")
        handler = _ROUTES.get(path)
        if handler is None:
            return _fail("Not found")
        return handler(self, body)

    # ------------------------------------------------------------ clients

    def client_create(self, body: dict[str, Any]) -> web.Response:
        record = {
            "id": _new_id(),
            "name": body["name"],
            "email": body["email"],
            "type": str(body.get("type", "client")).title(),
            "metadata": body.get("metadata", {}),
            "created": int(time.time() * 1000),
        }
        self.clients[record["id"]] = record
        return _ok(record)

    def client_list(self, body: dict[str, Any]) -> web.Response:
        search = body.get("search")
        found = [
            c for c in self.clients.values()
            if not search or search in c["name"] or search in c["metadata"].values()
        ]  # fmt: skip
        return _ok(found)  # no cursor at all: one page

    def client_retrieve(self, body: dict[str, Any]) -> web.Response:
        record = self.clients.get(body.get("clientID", ""))
        return _ok(record) if record else _fail("Client does not exist.")

    def client_update(self, body: dict[str, Any]) -> web.Response:
        record = self.clients.get(body.get("clientID", ""))
        if record is None:
            return _fail("Client does not exist.")
        record.update({k: v for k, v in body.items() if k in ("name", "email", "metadata")})
        return _ok(record)

    def client_delete(self, body: dict[str, Any]) -> web.Response:
        if self.clients.pop(body.get("clientID", ""), None) is None:
            return _fail("Client does not exist.")
        return _ok({})

    # -------------------------------------------------------------- links

    def link_create(self, body: dict[str, Any]) -> web.Response:
        if body.get("clientID") not in self.clients:
            return _fail("Client does not exist.")
        services = body.get("requestedServices")
        if not isinstance(services, dict) or not services:
            return _fail("Requested service is invalid.")
        record = {
            "id": _new_id(),
            "clientId": body["clientID"],
            "status": "Pending",
            "requestedServices": services,
            "created": int(time.time() * 1000),
        }
        self.links[record["id"]] = record
        invite = f"https://dialect.test/i/{secrets.token_urlsafe(12)}"
        return web.json_response({"error": False, "data": record, "inviteUrl": invite})

    def link_list(self, body: dict[str, Any]) -> web.Response:
        client = body.get("clientID")
        return _ok([x for x in self.links.values() if not client or x["clientId"] == client])

    def link_get(self, body: dict[str, Any]) -> web.Response:
        record = self.links.get(body.get("linkID", ""))
        return _ok(record) if record else _fail("Not found")

    def link_update(self, body: dict[str, Any]) -> web.Response:
        record = self.links.get(body.get("linkID", ""))
        if record is None:
            return _fail("Not found")
        if "requestedServices" in body:
            record["requestedServices"] = body["requestedServices"]
        return _ok(record)

    def link_delete(self, body: dict[str, Any]) -> web.Response:
        if self.links.pop(body.get("linkID", ""), None) is None:
            return _fail("Not found")
        return _ok({"deleted": True})

    def grant_all(self, link_id: str) -> None:
        """What the client does on the invite page."""
        self.links[link_id]["status"] = "Granted"

    def flaky(self, body: dict[str, Any]) -> web.Response:
        return web.Response(status=502, text="<html>Bad Gateway</html>")

    def account_info(self, body: dict[str, Any]) -> web.Response:
        return _ok({"agency": "Dialect Agency", "plan": "Pro"})


_ROUTES = {
    "/api/clients/create": DialectServer.client_create,
    "/api/clients/list": DialectServer.client_list,
    "/api/clients/retrieve": DialectServer.client_retrieve,
    "/api/clients/update": DialectServer.client_update,
    "/api/clients/delete": DialectServer.client_delete,
    "/api/links/create": DialectServer.link_create,
    "/api/links/list": DialectServer.link_list,
    "/api/links/get": DialectServer.link_get,
    "/api/links/update": DialectServer.link_update,
    "/api/links/delete": DialectServer.link_delete,
    "/api/account/info": DialectServer.account_info,
    "/api/account/flaky": DialectServer.flaky,
}


def _new_id() -> str:
    return secrets.token_urlsafe(15)[:20]


def _ok(data: Any) -> web.Response:
    return web.json_response({"error": False, "data": data})


def _fail(msg: str) -> web.Response:
    return web.json_response({"error": True, "msg": msg})  # always HTTP 200


@contextlib.asynccontextmanager
async def serve_dialect() -> AsyncIterator[tuple[DialectServer, str]]:
    """Run a dialect server on a free loopback port; yield it and its base URL."""
    server = DialectServer()
    runner = web.AppRunner(server.app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield server, f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
