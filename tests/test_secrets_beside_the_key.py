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
    _no_secret(str(error) + repr(error) + error.message + str(dict(error.headers)))
    assert "***" in error.message  # what the gateway said, with the secrets taken out
    _no_secret(caplog.text)
    with contextlib.closing(sqlite3.connect(journal)) as db:  # (a with closes nothing itself)
        dumped = "\n".join(db.iterdump())
    _no_secret(dumped)
    assert url in dumped  # the journal names its target, without the credentials


@pytest.fixture
async def echoing_server() -> AsyncIterator[str]:
    """A server that echoes the X-Auth key everywhere it can: request id, bodies, any status."""

    async def handle(request: web.Request) -> web.Response:
        key = request.headers["X-Auth"]
        headers = {"X-Request-ID": f"req-{key}", "X-Echo": key}
        if request.path == "/api/clients/retrieve":
            return web.json_response({"error": True, "msg": f"Unknown key {key}"}, status=401,
                                     headers=headers)  # fmt: skip
        if request.path == "/api/clients/update":
            return web.json_response({"error": True, "msg": f"Invalid field name: {key}"},
                                     status=400, headers=headers)  # fmt: skip
        if request.path == "/api/clients/delete":
            return web.Response(text=f"<html><body>500 for {key}</body></html>", status=500,
                                content_type="text/html", headers=headers)  # fmt: skip
        return web.json_response({"error": False, "data": client_json()}, headers=headers)

    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", handle)
    async with serve_app(app) as url:
        yield url


async def test_an_echoed_key_shows_in_no_log_capture_span_or_event(
    echoing_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    """DEBUG bodies, capture_responses() headers and request ids, span attributes, hook events."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    hooks = aa.Hooks()
    events: list[object] = []
    for name in ("on_request", "on_response", "on_retry"):
        getattr(hooks, name).append(events.append)
    policy = aa.RetryPolicy(attempts=2, deadline=5)
    with caplog.at_level(logging.DEBUG, logger="agencyaccess_async"):
        async with aa.Session(SECRET_KEY, base_url=echoing_server, log_bodies=True, hooks=hooks,
                              retry=policy,
                              tracing=aa.Telemetry(tracer_provider=provider)) as session:  # fmt: skip
            with session.capture_responses() as captured:
                await session.clients.create(name="Acme", email="ops@acme.test")
                for call in (
                    session.clients.retrieve("cl_1"),
                    session.clients.update("cl_1", name="B"),
                    session.clients.delete("cl_1"),
                ):
                    with pytest.raises(aa.AgencyAccessError) as info:
                        await call
                    assert SECRET_KEY not in str(info.value) + repr(info.value)
    shown = [caplog.text, repr(captured), repr(events)]
    shown += [str(dict(c.headers)) + c.request_id for c in captured]
    shown += [str(dict(span.attributes or {})) for span in spans.get_finished_spans()]
    assert captured and spans.get_finished_spans() and events
    assert "req-***" in captured[0].request_id and "500 for ***" in caplog.text
    for text in shown:
        assert SECRET_KEY not in text
