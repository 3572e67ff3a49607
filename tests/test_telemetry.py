"""OpenTelemetry: one CLIENT span per operation and the SDK's metrics, read with the OTel SDK.

A purpose-written server answers the first create 503 and the second 201,
so the span of one ``clients.create`` covers two attempts; aiohttp's own
instrumentor, when also on, nests its per-attempt spans under it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import agencyaccess_async as aa

from .helpers import SECRET_KEY, client_json, serve_app

pytestmark = pytest.mark.socket


class Otel:
    """An OTel SDK of the test's own: spans and metrics kept in memory."""

    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.metrics = InMemoryMetricReader()
        self.seen: dict[str, list[Any]] = {}
        self.meter_provider = MeterProvider(metric_readers=[self.metrics])
        self.telemetry = aa.Telemetry(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider
        )

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def points(self, name: str) -> list[Any]:
        """The metric's points as last collected with any (the SDK at its floor, 1.20, leaves
        a cumulative histogram out of a collection that follows one with no new point)."""
        data = self.metrics.get_metrics_data()
        assert data is not None
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.data.data_points:
                        self.seen[metric.name] = list(metric.data.data_points)
        return self.seen.get(name, [])


@pytest.fixture
def otel() -> Iterator[Otel]:
    kit = Otel()
    yield kit
    kit.tracer_provider.shutdown()
    kit.meter_provider.shutdown()


@pytest.fixture
async def server() -> AsyncIterator[str]:
    """clients.create: 503 to the first attempt, then the client; 400 for the name "bad".

    A 503 to a create may hide a record, so the SDK looks it up (clients.list)
    before sending again: here it finds none.
    """
    seen: list[int] = []

    async def create(request: web.Request) -> web.Response:
        body = await request.json()
        if body["name"] == "bad":
            return web.json_response(
                {"error": True, "msg": "Invalid field email: nope"}, status=400
            )
        seen.append(1)
        if len(seen) % 2 == 1:
            return web.json_response({"error": True, "msg": "unavailable"}, status=503)
        data = client_json("cl_traced", name=body["name"], email=body["email"])
        return web.json_response(
            {"error": False, "data": data}, status=201, headers={"X-Request-ID": "req-traced"}
        )

    async def nothing_made(request: web.Request) -> web.Response:
        return web.json_response({"error": False, "data": [], "nextCursor": None})

    async def retrieve(request: web.Request) -> web.Response:
        seen.append(1)
        if len(seen) % 2 == 1:
            limited = {"Retry-After": "0", "X-RateLimit-Remaining": "0"}
            body = {"error": True, "msg": "Rate limit exceeded"}
            return web.json_response(body, status=429, headers=limited)
        return web.json_response({"error": False, "data": client_json("cl_traced")})

    app = web.Application()
    app.router.add_post("/api/clients/create", create)
    app.router.add_post("/api/clients/retrieve", retrieve)
    app.router.add_post("/api/clients/list", nothing_made)  # the 503 made nothing
    async with serve_app(app) as base_url:
        yield base_url


def session(base_url: str, tracing: Any) -> aa.Session:
    return aa.Session(SECRET_KEY, base_url=base_url, tracing=tracing)


async def test_one_span_per_operation_with_its_attempts(otel: Otel, server: str) -> None:
    async with session(server, otel.telemetry) as s:
        await s.clients.create(name="Ada", email="ada@example.test")
    lookup, span = otel.finished()  # the lookup ends first, inside the create
    assert lookup.name == "agencyaccess clients.list"
    assert lookup.parent is not None and lookup.parent.span_id == span.context.span_id
    assert span.name == "agencyaccess clients.create"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    attributes = dict(span.attributes or {})
    assert attributes["agencyaccess.operation"] == "clients.create"
    assert attributes["agencyaccess.attempts"] == 2
    assert attributes["agencyaccess.request_id"] == "req-traced"
    assert attributes["http.response.status_code"] == 201
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["rpc.method"] == "create"
    assert attributes["agencyaccess.rate_limit.wait"] == 0.0
    rendered = json.dumps(attributes) + span.to_json()
    assert SECRET_KEY not in rendered and "ada@example.test" not in rendered  # no key, no body
    counts = {
        dict(p.attributes)["agencyaccess.operation"]: p
        for p in otel.points("agencyaccess.client.operations")
    }
    assert counts["clients.create"].value == 1
    assert dict(counts["clients.create"].attributes)["outcome"] == "ok"
    assert len(otel.points("agencyaccess.client.operation.duration")) == 2


async def test_a_failed_operation_has_error_status_and_type(otel: Otel, server: str) -> None:
    async with session(server, otel.telemetry) as s:
        with pytest.raises(aa.InvalidRequestError):
            await s.clients.create(name="bad", email="bad@example.test")
    (span,) = otel.finished()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "InvalidRequestError"
    assert dict(span.attributes or {})["error.type"] == "InvalidRequestError"
    assert not span.events  # no exception event: its message could carry the server's words
    (count,) = otel.points("agencyaccess.client.operations")
    assert dict(count.attributes) == {
        "agencyaccess.operation": "clients.create",
        "outcome": "error",
        "error.type": "InvalidRequestError",
    }


async def test_429s_are_counted(otel: Otel, server: str) -> None:
    async with session(server, otel.telemetry) as s:
        await s.clients.retrieve("cl_traced")
    (limited,) = otel.points("agencyaccess.client.rate_limited")
    assert limited.value == 1
    assert dict(limited.attributes) == {"agencyaccess.operation": "clients.retrieve"}
    (span,) = otel.finished()
    assert dict(span.attributes or {})["agencyaccess.attempts"] == 2


async def test_metrics_without_a_tracer_count_operations_and_429s_with_no_span(
    otel: Otel, server: str
) -> None:
    """A meter provider but no tracer provider (the global one is its placeholder): no span is
    made, and the operations and the 429s are counted all the same."""
    metrics_only = aa.Telemetry(meter_provider=otel.meter_provider)
    async with session(server, metrics_only) as s:
        await s.clients.retrieve("cl_traced")
        with pytest.raises(aa.InvalidRequestError):
            await s.clients.create(name="bad", email="bad@example.test")
    assert otel.finished() == []
    (limited,) = otel.points("agencyaccess.client.rate_limited")
    assert limited.value == 1
    outcomes = {
        (point.attributes["agencyaccess.operation"], point.attributes["outcome"]): point.value
        for point in otel.points("agencyaccess.client.operations")
    }
    assert outcomes == {("clients.retrieve", "ok"): 1, ("clients.create", "error"): 1}


async def test_tracing_false_makes_no_span(otel: Otel, server: str) -> None:
    async with session(server, False) as s:
        await s.clients.create(name="Ada", email="ada@example.test")
    assert otel.finished() == []


async def test_aiohttp_instrumentor_spans_nest_under_the_operation(otel: Otel, server: str) -> None:
    # Imported here: the tier of declared floors (opentelemetry-api 1.20) cannot install
    # the instrumentor, which needs a newer API; every other test of this module runs there.
    instrumentation = pytest.importorskip("opentelemetry.instrumentation.aiohttp_client")
    instrumentor = instrumentation.AioHttpClientInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider)
    try:
        async with session(server, otel.telemetry) as s:
            await s.clients.create(name="Ada", email="ada@example.test")
    finally:
        instrumentor.uninstrument()
    spans = otel.finished()
    (operation,) = [span for span in spans if span.name == "agencyaccess clients.create"]
    attempts = [span for span in spans if not span.name.startswith("agencyaccess ")]
    attempts = [span for span in attempts if "/clients/create" in str(span.attributes)]
    assert len(attempts) == 2  # the 503 and the 201
    assert all(span.parent is not None for span in attempts)
    assert {span.parent.span_id for span in attempts if span.parent} == {operation.context.span_id}
    assert operation.context.trace_id == attempts[0].context.trace_id


@pytest.mark.parametrize(
    ("blocked", "tracing", "imported"),
    [(True, "True", False), (False, "False", False), (False, "True", True)],
)
def test_opentelemetry_is_imported_only_when_installed_and_wanted(
    blocked: bool, tracing: str, imported: bool, tmp_path: Path
) -> None:
    """Without the package a Session works and imports nothing; tracing=False imports nothing."""
    blocker = tmp_path / "blocker"
    (blocker / "opentelemetry").mkdir(parents=True)
    (blocker / "opentelemetry" / "__init__.py").write_text("raise ImportError('absent')\n")
    env = {**os.environ, "PYTHONPATH": str(blocker)} if blocked else dict(os.environ)
    code = (
        "import sys, agencyaccess_async as aa\n"
        "assert 'opentelemetry' not in sys.modules\n"
        f"aa.Session('k', tracing={tracing})\n"
        "print('opentelemetry.trace' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(imported)


def test_the_global_provider_is_used_once_it_is_set() -> None:
    """No span while OpenTelemetry has no SDK; one per call once the app sets its provider."""
    code = """
import asyncio, json
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import agencyaccess_async as aa
from agencyaccess_async.lowlevel import Response
from agencyaccess_async.testing import MockTransport

answer = json.dumps({"error": False, "data": {"clientID": "cl_1"}}).encode()
mock = MockTransport(lambda request: Response(200, {}, answer))
exporter = InMemorySpanExporter()

async def main():
    async with aa.Session("k", base_url="https://api.test", transport=mock) as session:
        await session.clients.retrieve("cl_1")
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        await session.clients.retrieve("cl_1")

asyncio.run(main())
print(len(exporter.get_finished_spans()))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"
