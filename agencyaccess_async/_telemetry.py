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

import contextlib
import contextvars
import importlib
import time
from collections.abc import Iterator, Sequence
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

    @contextlib.contextmanager
    def operation(self, operation: str, base_url: URL) -> Iterator[None]:
        """One operation's span, current while its attempts run; its metrics when it ends."""
        record = _Operation(operation)
        token = _CURRENT.set(record)
        service, _, method = operation.partition(".")
        attributes = {
            "rpc.system": "agencyaccess",
            "rpc.service": service,
            "rpc.method": method,
            "agencyaccess.operation": operation,
            "server.address": base_url.host or "",
            "server.port": base_url.port or 0,
        }
        started = time.perf_counter()
        outcome, error_type = "ok", None
        with self._span(operation, attributes) as span:
            try:
                yield
            except BaseException as error:
                outcome, error_type = "error", type(error).__qualname__
                span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, error_type))
                span.set_attribute("error.type", error_type)
                raise
            finally:
                _CURRENT.reset(token)
                span.set_attribute("agencyaccess.attempts", record.attempts)
                span.set_attribute("agencyaccess.rate_limit.wait", record.waited)
                if record.request_id:
                    span.set_attribute("agencyaccess.request_id", record.request_id)
                if record.status is not None:
                    span.set_attribute("http.response.status_code", record.status)
                measured = {"agencyaccess.operation": operation, "outcome": outcome}
                if error_type:
                    measured["error.type"] = error_type
                self._operations.add(1, measured)
                self._duration.record(time.perf_counter() - started, measured)

    def _span(self, operation: str, attributes: dict[str, Any]) -> Any:
        """The operation's span, current while it runs; a no-op one when no tracer is set.

        While OpenTelemetry's global provider is still its placeholder (no SDK
        configured, the common case of an app that only has the API because
        a dependency brought it), a span would be dropped anyway: it is not
        made, which saves ~12 µs a call. The check is per call, so a provider
        set later is used from then on.
        """
        trace = self._trace
        if not self._own_tracer and isinstance(
            trace.get_tracer_provider(), trace.ProxyTracerProvider
        ):
            return contextlib.nullcontext(trace.INVALID_SPAN)
        return self._tracer.start_as_current_span(
            f"agencyaccess {operation}",
            kind=trace.SpanKind.CLIENT,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        )

    def attempt_ended(
        self, request: Request, response: Response | None, secrets: Sequence[str]
    ) -> None:
        """An attempt of the current operation ended (``response`` None: no answer came).

        The request id is the server's ``X-Request-ID`` if it sent one (with
        ``secrets`` scrubbed: a server may echo the key), else the SDK's own.
        """
        record = _CURRENT.get()
        if record is None:
            return
        record.attempts += 1
        record.status = response.status if response is not None else None
        server_id = response.headers.get("X-Request-ID") if response is not None else None
        server_id = scrub_text(server_id, secrets) if server_id else None
        record.request_id = server_id or request.request_id or record.request_id
        if record.status == 429:
            self._rate_limited.add(1, {"agencyaccess.operation": record.operation})

    def waited(self, delay: float) -> None:
        """The rate limiter held the current operation's attempt back for ``delay`` seconds."""
        record = _CURRENT.get()
        if record is not None:
            record.waited += delay
        self._waits.record(delay)


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
