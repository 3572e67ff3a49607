"""Events a caller can subscribe to for metrics and tracing, and the SDK's logger.

Events carry what a trace needs (operation, attempt, status, timing, request
id) and never headers or bodies, so they cannot leak the API key or personal
data. Callbacks run synchronously on the request path: keep them quick.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import attrs

__all__ = [
    "Hooks",
    "SessionStats",
    "RateLimitWaitEvent",
    "RequestEvent",
    "ResponseEvent",
    "RetryEvent",
    "logger",
]

logger = logging.getLogger("agencyaccess_async")


@attrs.frozen
class RequestEvent:
    """An attempt is about to be sent."""

    operation: str
    method: str
    path: str
    request_id: str
    attempt: int


@attrs.frozen
class ResponseEvent:
    """An attempt ended: ``status`` is ``None`` when no answer came (``error`` says why)."""

    operation: str
    request_id: str
    attempt: int
    status: int | None
    elapsed: float
    error: str | None = None


@attrs.frozen
class RetryEvent:
    """A call will try again after ``delay`` seconds; ``action`` is ``retry`` or ``reconcile``."""

    operation: str
    request_id: str
    attempt: int
    delay: float
    action: str
    error: str


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
