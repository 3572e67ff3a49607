"""Helpers shared by test modules: canned API answers and a recording handler."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from agencyaccess_async import Hooks
from agencyaccess_async.lowlevel import Request, Response

#: A distinctive key: tests scan every repr, log and error for it.
SECRET_KEY = "sk_live_SECRET-KEY-7f3a9c-DO-NOT-LEAK"
STAMP = "2026-11-28T05:00:00.000Z"


def client_json(client_id: str = "cl_1", **extra: Any) -> dict[str, Any]:
    return {
        "clientID": client_id,
        "name": "Acme",
        "email": "ops@acme.test",
        "company": None,
        "website": None,
        "type": "client",
        "language": "en",
        "metadata": {},
        "createdAt": STAMP,
        "updatedAt": STAMP,
        **extra,
    }


def link_json(link_id: str = "ln_1", client_id: str = "cl_1", **extra: Any) -> dict[str, Any]:
    return {
        "linkID": link_id,
        "clientID": client_id,
        "inviteUrl": "https://app.agencyaccess.co/invite/tok",
        "status": "pending",
        "requestedServices": {
            "google": {"googleAds": {"accessLevel": "standard", "agencyAccountID": "acct_google_1"}}
        },
        "grants": [
            {
                "platform": "google",
                "service": "googleAds",
                "accessLevel": "standard",
                "agencyAccountID": "acct_google_1",
                "status": "pending",
                "grantedAt": None,
            }
        ],
        "intakeForm": False,
        "sendEmail": False,
        "thankYouMessage": None,
        "redirectURL": None,
        "intakeFormStatus": "notRequested",
        "source": None,
        "createdAt": STAMP,
        "updatedAt": STAMP,
        **extra,
    }


def ok(data: Any, **envelope: Any) -> Response:
    return Response.json({"error": False, "data": data, **envelope})


def fail(status: int, msg: str, headers: dict[str, str] | None = None) -> Response:
    return Response.json({"error": True, "msg": msg}, status=status, headers=headers)


def body_of(request: Request) -> Any:
    return json.loads(request.body)


def subscribe_to_everything(hooks: Hooks) -> list[Any]:
    """Subscribe one list to every hook of ``hooks``; return the list of events."""
    events: list[Any] = []
    for hook_list in (
        hooks.on_request,
        hooks.on_response,
        hooks.on_retry,
        hooks.on_rate_limit_wait,
    ):
        hook_list.append(events.append)
    return events


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def serve_app(app: web.Application, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Run a purpose-written aiohttp ``app`` on a free loopback port; yield its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()
