"""OpenTelemetry: a span and metrics per SDK operation, through ``opentelemetry-api`` only.

With the ``otel`` extra (``opentelemetry-api``) installed, every operation
(``clients.create``, ``links.list``, ...) is one span of kind CLIENT named
``agencyaccess clients.create``, made current while its attempts run, so
that the spans of aiohttp's own instrumentor (one per attempt) nest under
it. Its attributes follow the semantic conventions for RPC and HTTP
clients: ``rpc.system``/``rpc.service``/``rpc.method``, ``server.address``
and ``server.port``, ``http.response.status_code`` of the last answer, and
``error.type`` on failure (the span's status is then ERROR, described by the
exception's type). The SDK's own: ``agencyaccess.operation``,
``agencyaccess.request_id``, ``agencyaccess.attempts`` and
``agencyaccess.rate_limit.wait`` (seconds held back by the rate limiter).
Never the key, never a body, never an exception's message.

Metrics: ``agencyaccess.client.operations`` (operations by operation and
outcome), ``agencyaccess.client.operation.duration`` (seconds),
``agencyaccess.client.rate_limited`` (429 answers) and
``agencyaccess.client.rate_limit.wait`` (seconds held back).

Without the package, nothing here is imported by a call. ``Session(tracing=
False)`` turns it off; ``Session(tracing=Telemetry(tracer_provider=...,
meter_provider=...))`` uses providers of your own instead of the global ones.
"""

from __future__ import annotations

import contextvars
import importlib
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import attrs
from yarl import URL

from ._errors import scrub_text
from ._http import Request, Response
from ._version import __version__

__all__ = ["Telemetry", "default_telemetry"]

_SCOPE = "agencyaccess_async"

#: The metrics, in the order ``Telemetry`` keeps them: instrument kind, name, unit, description.
METRICS = (
    ("counter", "agencyaccess.client.operations", "{operation}",
     "SDK operations, by operation and outcome"),
    ("histogram", "agencyaccess.client.operation.duration", "s",
     "How long SDK operations took, retries and waits included"),
    ("counter", "agencyaccess.client.rate_limited", "{response}",
     "Answers 429 (rate limit exceeded)"),
    ("histogram", "agencyaccess.client.rate_limit.wait", "s",
     "Time requests were held back by the rate limiter"),
)  # fmt: skip


@attrs.define
class _Operation:
    """What the attempts of one operation report to its span."""

    operation: str
    attempts: int = 0
    status: int | None = None
    request_id: str | None = None
    waited: float = 0.0


_CURRENT: contextvars.ContextVar[_Operation | None] = contextvars.ContextVar(
    "agencyaccess_operation", default=None
)


class Telemetry:
    """Spans and metrics of a Session's operations (see the module's docstring).

    ``tracer_provider`` and ``meter_provider`` default to OpenTelemetry's
    global ones, resolved when each span or measurement is made (so setting
    them after the Session is created works). Needs ``opentelemetry-api``.
    """

    def __init__(self, *, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        trace = importlib.import_module("opentelemetry.trace")
        metrics = importlib.import_module("opentelemetry.metrics")
        self._trace = trace
        self._tracer = trace.get_tracer(_SCOPE, __version__, tracer_provider)
        self._own_tracer = tracer_provider is not None
        meter = metrics.get_meter(_SCOPE, __version__, meter_provider)
        self._operations, self._duration, self._rate_limited, self._waits = (
            getattr(meter, f"create_{kind}")(name, unit=unit, description=description)
            for kind, name, unit, description in METRICS
        )

    def __repr__(self) -> str:
        return "<Telemetry opentelemetry>"

    def operation(self, operation: str, base_url: URL) -> AbstractContextManager[None]:
        """One operation's span, current while its attempts run; its metrics when it ends."""
        return _OperationScope(self, operation, base_url)

    def _traces(self) -> bool:
        """Whether a span would be kept: a tracer provider of the caller's, or a global one set.

        While OpenTelemetry's global provider is still its placeholder (no SDK
        configured, the common case of an app that only has the API because
        a dependency brought it), a span would be dropped anyway: it is not
        made, and neither is the record its attempts report to. The check is
        per call, so a provider set later is used from then on.
        """
        return self._own_tracer or not isinstance(
            self._trace.get_tracer_provider(), self._trace.ProxyTracerProvider
        )

    def attempt_ended(
        self, request: Request, response: Response | None, secrets: Sequence[str]
    ) -> None:
        """An attempt of the current operation ended (``response`` None: no answer came).

        The request id is the server's ``X-Request-ID`` if it sent one (with
        ``secrets`` scrubbed: a server may echo the key), else the SDK's own.
        """
        status = response.status if response is not None else None
        if status == 429:
            self._rate_limited.add(1, {"agencyaccess.operation": request.operation})
        record = _CURRENT.get()
        if record is None:  # no span is kept: nothing to report to
            return
        record.attempts += 1
        record.status = status
        server_id = response.headers.get("X-Request-ID") if response is not None else None
        server_id = scrub_text(server_id, secrets) if server_id else None
        record.request_id = server_id or request.request_id or record.request_id

    def waited(self, delay: float) -> None:
        """The rate limiter held the current operation's attempt back for ``delay`` seconds."""
        record = _CURRENT.get()
        if record is not None:
            record.waited += delay
        self._waits.record(delay)


class _OperationScope:
    """``Telemetry.operation``: the span (when one is kept) and the metrics of one operation.

    A class rather than a generator-based context manager: without a tracer
    provider (the common case) it makes no span, no attributes and no record,
    only the two metrics (no-ops without a meter provider). That costs 2.4-2.8
    µs a call over an instant transport (``benchmarks/bench_instant.py``; 5.5
    with the span), of which 0.8 is ``get_tracer_provider()`` reading
    ``os.environ``: the price of using a provider set later from its next call
    on. In ``benchmarks/bench_layers.py`` at concurrency 64 it is 12 µs (26
    with the span): under load every line of code costs more than alone.
    """

    __slots__ = (
        "_base_url", "_name", "_record", "_scope", "_span", "_started", "_telemetry", "_token"
    )  # fmt: skip

    def __init__(self, telemetry: Telemetry, operation: str, base_url: URL) -> None:
        self._telemetry = telemetry
        self._name = operation
        self._base_url = base_url
        self._scope: Any = None  # the span's context manager, when a span is kept

    def __enter__(self) -> None:
        self._started = time.perf_counter()
        telemetry = self._telemetry
        if not telemetry._traces():
            return
        operation = self._name
        self._record = _Operation(operation)
        self._token = _CURRENT.set(self._record)
        service, _, method = operation.partition(".")
        attributes = {
            "rpc.system": "agencyaccess",
            "rpc.service": service,
            "rpc.method": method,
            "agencyaccess.operation": operation,
            "server.address": self._base_url.host or "",
            "server.port": self._base_url.port or 0,
        }
        scope = telemetry._tracer.start_as_current_span(
            f"agencyaccess {operation}",
            kind=telemetry._trace.SpanKind.CLIENT,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        )
        self._span = scope.__enter__()
        self._scope = scope

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any
    ) -> None:
        telemetry, operation = self._telemetry, self._name
        error_type = kind.__qualname__ if kind is not None else None
        if self._scope is not None:
            _CURRENT.reset(self._token)
            self._report(error_type)
            self._scope.__exit__(kind, error, traceback)
        measured = {"agencyaccess.operation": operation, "outcome": "error" if kind else "ok"}
        if error_type:
            measured["error.type"] = error_type
        telemetry._operations.add(1, measured)
        telemetry._duration.record(time.perf_counter() - self._started, measured)

    def _report(self, error_type: str | None) -> None:
        """Put what the attempts reported, and the failure if any, on the span."""
        trace, span, record = self._telemetry._trace, self._span, self._record
        if error_type:
            span.set_status(trace.Status(trace.StatusCode.ERROR, error_type))
            span.set_attribute("error.type", error_type)
        span.set_attribute("agencyaccess.attempts", record.attempts)
        span.set_attribute("agencyaccess.rate_limit.wait", record.waited)
        if record.request_id:
            span.set_attribute("agencyaccess.request_id", record.request_id)
        if record.status is not None:
            span.set_attribute("http.response.status_code", record.status)


def default_telemetry(tracing: bool | Telemetry) -> Telemetry | None:
    """``Session(tracing=...)`` as a Telemetry: None when off or without opentelemetry-api."""
    if isinstance(tracing, Telemetry):
        return tracing
    if not tracing:
        return None
    try:
        return Telemetry()
    except ImportError:
        return None
