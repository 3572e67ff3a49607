"""Secrets beside the key: a gateway's password in the base URL, and a server that echoes secrets.

A purpose-written gateway on loopback requires Basic auth (the user and
password of the base URL) and, like some gateways do, echoes what it was
sent in its error messages. Neither the key nor the password may reach a
repr, an exception, a log line, a journal or the request's URL.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

import agencyaccess_async as aa

from .helpers import SECRET_KEY, client_json, serve_app

pytestmark = pytest.mark.socket

PASSWORD = "gateway-PASSWORD-91c2"


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[str, list[web.Request]]]:
    seen: list[web.Request] = []
    expected = "Basic " + base64.b64encode(f"ops:{PASSWORD}".encode()).decode()

    async def handle(request: web.Request) -> web.Response:
        seen.append(request)
        await request.read()
        if request.headers.get("Authorization") != expected:
            return web.json_response({"error": True, "msg": "gateway: who are you?"}, status=407)
        if request.path == "/api/clients/retrieve":  # a gateway echoing what it got
            echoed = f"denied key {request.headers['X-Auth']} with password {PASSWORD}"
            return web.json_response(
                {"error": True, "msg": echoed}, status=403, headers={"X-Echo": echoed}
            )
        if request.path == "/api/clients/list":
            return web.json_response({"error": False, "data": [], "nextCursor": None})
        return web.json_response({"error": False, "data": client_json()})

    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", handle)
    async with serve_app(app) as url:
        yield url, seen


def _no_secret(text: str) -> None:
    assert SECRET_KEY not in text
    assert PASSWORD not in text


async def test_a_gateway_password_travels_as_a_header_and_shows_nowhere(
    gateway: tuple[str, list[web.Request]], caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    url, seen = gateway
    base_url = url.replace("http://", f"http://ops:{PASSWORD}@")
    with caplog.at_level(logging.DEBUG, logger="agencyaccess_async"):
        async with aa.Session(SECRET_KEY, base_url=base_url) as session:
            assert "ops:***@" in repr(session)
            _no_secret(repr(session) + repr(session.clients) + str(session.base_url))
            await session.clients.create(name="Acme", email="ops@acme.test")
            with pytest.raises(aa.CapabilityError) as info:
                await session.clients.retrieve("cl_1")
            rows = [aa.OnboardItem(aa.NewClient(name="B", email="b@b.test"), key="b")]
            run = session.bulk.create_clients([row.client for row in rows])
            await run.run()
            journal = tmp_path / "run.journal"
            services = {"google": {"googleAds": {"accessLevel": "standard",
                                                 "agencyAccountID": "acct_google_1"}}}  # fmt: skip
            onboarding = session.bulk.onboard(rows, services=services, journal=journal)
            await onboarding.run()
    assert seen and all(request.url.user is None for request in seen)
    error = info.value
    _no_secret(str(error) + repr(error) + error.msg + str(dict(error.headers)))
    assert "***" in error.msg  # what the gateway said, with the secrets taken out
    _no_secret(caplog.text)
    with contextlib.closing(sqlite3.connect(journal)) as db:  # (a with closes nothing itself)
        dumped = "\n".join(db.iterdump())
    _no_secret(dumped)
    assert url in dumped  # the journal names its target, without the credentials
