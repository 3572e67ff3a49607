"""What a caller can watch: events for metrics and tracing, the logger, and response capture.

Events carry what a trace needs (operation, attempt, status, timing, request
id) and never headers or bodies, so they cannot leak the API key or personal
data. Callbacks run synchronously on the request path: keep them quick.

Response capture (``Session.capture_responses``): a context variable holds
the list of the innermost ``capture_responses()`` block, so tasks and nested
blocks each see their own; a call records itself only when someone is
listening (nothing is built otherwise).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs

__all__ = [
    "Hooks",
    "SessionStats",
    "RateLimitWaitEvent",
    "RequestEvent",
    "ResponseEvent",
    "ResponseInfo",
    "CAPTURED",
    "RetryEvent",
    "capture_responses",
    "emit",
    "logger",
    "record",
]

logger = logging.getLogger("agencyaccess_async")


@attrs.frozen
class RequestEvent:
    """An attempt is about to be sent.

    ``session`` is the Session's ``name=`` and ``tenant`` the label of the
    view that sent it (``with_options(tenant=...)``), when given: never a key.
    """

    operation: str
    method: str
    path: str
    request_id: str
    attempt: int
    tenant: str | None = None
    session: str | None = None


@attrs.frozen
class ResponseEvent:
    """An attempt ended: ``status`` is ``None`` when no answer came (``error`` says why)."""

    operation: str
    request_id: str
    attempt: int
    status: int | None
    elapsed: float
    error: str | None = None
    tenant: str | None = None
    session: str | None = None


@attrs.frozen
class RetryEvent:
    """A call will try again after ``delay`` seconds; ``action`` is ``retry`` or ``reconcile``."""

    operation: str
    request_id: str
    attempt: int
    delay: float
    action: str
    error: str
    tenant: str | None = None
    session: str | None = None


@attrs.frozen
class RateLimitWaitEvent:
    """The Session held a request back for ``delay`` seconds to respect the rate limit."""

    delay: float
    reason: str


@attrs.define
class Hooks:
    """Lists of callbacks, one list per event type; append to subscribe.

    >>> hooks = Hooks()
    >>> hooks.on_retry.append(lambda event: print("retrying", event.operation))
    """

    on_request: list[Callable[[RequestEvent], object]] = attrs.field(factory=list)
    on_response: list[Callable[[ResponseEvent], object]] = attrs.field(factory=list)
    on_retry: list[Callable[[RetryEvent], object]] = attrs.field(factory=list)
    on_rate_limit_wait: list[Callable[[RateLimitWaitEvent], object]] = attrs.field(factory=list)


@attrs.define
class SessionStats:
    """Counters of one Session: requests sent, retries, 429s, reconciliations."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    reconciled: int = 0


def emit(callbacks: list[Callable[[Any], object]], event: object) -> None:
    """Call each callback with ``event``; a failing callback is logged, never raised."""
    for callback in callbacks:
        try:
            callback(event)
        except Exception:
            logger.exception("hook %r failed on %s", callback, type(event).__name__)


@attrs.frozen
class ResponseInfo:
    """What the HTTP exchange of one call looked like (see ``Session.capture_responses``).

    ``status`` and ``headers`` are those of the last answer (``None`` / empty
    when no answer came back or the result came from reconciliation).
    """

    operation: str
    request_id: str
    status: int | None
    headers: Mapping[str, str]
    attempts: int
    elapsed: float
    reconciled: bool = False


#: The list of the innermost ``capture_responses()`` block of this context, if any.
CAPTURED: contextvars.ContextVar[list[ResponseInfo] | None] = contextvars.ContextVar(
    "agencyaccess_async_captured", default=None
)


@contextlib.contextmanager
def capture_responses() -> Iterator[list[ResponseInfo]]:
    """Collect a ``ResponseInfo`` for every call made inside the ``with`` block."""
    captured: list[ResponseInfo] = []
    token = CAPTURED.set(captured)
    try:
        yield captured
    finally:
        CAPTURED.reset(token)


def record(
    operation: str,
    request_id: str,
    answer: tuple[int, Mapping[str, str]] | None,
    attempts: int,
    elapsed: float,
) -> None:
    """Add a finished call to the listening block's list, if there is one.

    ``answer`` is the last answer's status and headers; ``None`` means the
    record was found by reconciliation.
    """
    captured = CAPTURED.get()
    if captured is None:
        return
    status, headers = answer if answer is not None else (None, {})
    captured.append(
        ResponseInfo(operation, request_id, status, headers, attempts, elapsed, answer is None)
    )
