"""What the request loop tells hooks and the log about an attempt: how it ended, and retries.

Plain functions of what they report, called by ``Requester`` only when
someone listens (a hook is set, or the log is at that level), so that a call
nobody watches pays nothing for them. Every text they carry that the server
wrote goes through ``scrub_text`` first: a server may echo the key.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from ._errors import AgencyAccessError, scrub_text
from ._hooks import Hooks, ResponseEvent, RetryEvent, emit, logger
from ._http import Request, Response, log_attempt
from ._retry import Action
from ._scope import Tenant

__all__ = ["announce_retry", "report_attempt"]

_DEBUG = logging.DEBUG


def report_attempt(
    hooks: Hooks,
    session: str | None,
    log_bodies: bool,
    secrets: Sequence[str],
    request: Request,
    tenant: Tenant,
    attempt: int,
    response: Response | None,
    elapsed: float,
    error: BaseException | None,
) -> None:
    """Tell hooks and the DEBUG log how an attempt ended (never headers, never the key)."""
    status = response.status if response is not None else None
    outcome: str | None = None
    if isinstance(error, asyncio.CancelledError):
        outcome = "cancelled"
    elif error is not None:
        outcome = scrub_text(repr(error), secrets)
    if hooks.on_response:
        event = ResponseEvent(request.operation, request.request_id or "", attempt, status,
                              elapsed, outcome, tenant.label, session)  # fmt: skip
        emit(hooks.on_response, event)
    if logger.isEnabledFor(_DEBUG):
        context = {"tenant": tenant.label, "session": session}
        log_attempt(request, response, attempt, elapsed, error, context, log_bodies, secrets)


def announce_retry(
    hooks: Hooks,
    session: str | None,
    request: Request,
    tenant: Tenant,
    error: AgencyAccessError,
    action: Action,
    attempt: int,
    wait: float,
) -> None:
    """Tell hooks (``on_retry``) and the INFO log that an attempt failed and what comes next."""
    if hooks.on_retry:
        event = RetryEvent(request.operation, request.request_id or "", attempt, wait,
                           action.value, repr(error), tenant.label, session)  # fmt: skip
        emit(hooks.on_retry, event)
    logger.info(
        "%s attempt %d failed (%s); %s in %.2fs",
        request.operation, attempt, type(error).__name__, action.value, wait,
        extra={"operation": request.operation, "request_id": request.request_id,
               "attempt": attempt, "action": action.value},
    )  # fmt: skip
