"""Response capture: what the HTTP exchange of each call inside a ``with`` block looked like.

A context variable holds the list of the innermost ``capture_responses()``
block, so tasks and nested blocks each see their own; a call records itself
only when someone is listening (nothing is built otherwise).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping

import attrs

from ._call import CallResult
from ._http import Request

__all__ = ["ResponseInfo", "capture_responses", "record"]


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


_captured: contextvars.ContextVar[list[ResponseInfo] | None] = contextvars.ContextVar(
    "agencyaccess_async_captured", default=None
)


@contextlib.contextmanager
def capture_responses() -> Iterator[list[ResponseInfo]]:
    """Collect a ``ResponseInfo`` for every call made inside the ``with`` block."""
    captured: list[ResponseInfo] = []
    token = _captured.set(captured)
    try:
        yield captured
    finally:
        _captured.reset(token)


def record(request: Request, result: CallResult) -> None:
    """Add the call's ResponseInfo to the listening block's list, if there is one."""
    captured = _captured.get()
    if captured is not None:
        captured.append(_response_info(request, result))


def _response_info(request: Request, result: CallResult) -> ResponseInfo:
    response = result.response
    if response is None:  # the record was found by reconciliation
        return ResponseInfo(
            request.operation, request.request_id or "", None, {}, result.attempts,
            result.elapsed, True,
        )  # fmt: skip
    request_id = response.request_id or request.request_id or ""
    return ResponseInfo(
        request.operation, request_id, response.status, response.headers, result.attempts,
        result.elapsed,
    )  # fmt: skip
