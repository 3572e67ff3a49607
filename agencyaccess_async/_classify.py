"""Choosing an error class for an API failure, and the answer a backend should give for one.

The public guide's six causes, in its own words, choose the class whatever the
HTTP status (but 5xx and 429); other messages only refine what the status
chose. ``error_response`` turns any SDK error into the status, body and
headers a backend that proxies the SDK should answer.
"""

from __future__ import annotations

from typing import Any

from ._errors import (
    AgencyAccessError,
    AgencyAccountError,
    APIError,
    AuthenticationError,
    CapabilityError,
    IntakeFormNotEnabledError,
    InvalidRequestError,
    InvalidServiceError,
    NotFoundError,
    ProspectAccessError,
    RateLimitError,
    ServerError,
)

__all__ = ["GUIDE_CAUSES", "error_for_status", "error_response"]


# The public guide names six causes of failure in its own words. Those words
# choose the class whatever the HTTP status (200 included), except that a 5xx
# stays a ServerError and a 429 a RateLimitError (what may be retried depends
# on them). Other messages, from the contract's error table, only refine the
# class the status chose: a message that matches nothing still yields a usable
# class, so the SDK never depends on the server's exact words.
GUIDE_CAUSES: tuple[tuple[str, type[APIError]], ...] = (
    ("missing or invalid api key", AuthenticationError),
    ("key does not have the required capability", CapabilityError),
    ("client does not exist", NotFoundError),
    ("requested service is invalid", InvalidServiceError),
    ("connected agency account is missing or expired", AgencyAccountError),
    ("intake form is requested but not enabled", IntakeFormNotEnabledError),
)
_BAD_REQUEST_KINDS: tuple[tuple[str, type[InvalidRequestError]], ...] = (
    ("read-only access", ProspectAccessError),
)
_GUESS_FROM_MESSAGE: tuple[tuple[str, type[APIError]], ...] = (
    *_BAD_REQUEST_KINDS,
    ("invalid field", InvalidRequestError),
    ("invalid json", InvalidRequestError),
    ("too large", InvalidRequestError),
    ("capability", CapabilityError),
    ("api key", AuthenticationError),
    ("not found", NotFoundError),
    ("rate limit", RateLimitError),
)
_BY_STATUS: dict[int, type[APIError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: CapabilityError,
    404: NotFoundError,
    413: InvalidRequestError,
    422: InvalidRequestError,
    429: RateLimitError,
}


def error_for_status(status: int, msg: str, *, has_retry_after: bool = False) -> type[APIError]:
    """Pick the error class for an API failure from its status and message.

    The guide's six causes (``GUIDE_CAUSES``) decide first, at any status but
    5xx and 429. A 2xx with ``"error": true`` (an older deployment, a proxy)
    has no useful status: a ``Retry-After`` header makes it a rate-limit error,
    otherwise the message gives a best guess, and plain ``APIError`` when
    nothing matches.
    """
    if status >= 500:
        return ServerError
    if status == 429:
        return RateLimitError
    cause = _first_match(msg, GUIDE_CAUSES)
    if cause is not None:
        return cause
    if status < 300:
        if has_retry_after:
            return RateLimitError
        return _first_match(msg, _GUESS_FROM_MESSAGE) or APIError
    if status == 400:
        return _first_match(msg, _BAD_REQUEST_KINDS) or InvalidRequestError
    return _BY_STATUS.get(status, APIError)


def _first_match(msg: str, table: tuple[tuple[str, type[APIError]], ...]) -> type[APIError] | None:
    lowered = msg.lower()
    return next((cls for needle, cls in table if needle in lowered), None)


def error_response(error: AgencyAccessError) -> tuple[int, dict[str, Any], dict[str, str]]:
    """What a backend should answer for ``error``: status, JSON body, headers.

    The body says what kind of failure it was (and, for a refused input, the
    field), never the upstream details a customer should not see; a rate
    limit carries ``Retry-After``. One line in a web framework's error handler.
    """
    body: dict[str, Any] = {"error": type(error).__name__}
    headers: dict[str, str] = {}
    if isinstance(error, InvalidRequestError):
        body["detail"], body["field"] = error.msg, error.path
    elif isinstance(error, NotFoundError):
        body["detail"] = error.msg
    elif isinstance(error, RateLimitError):
        headers["Retry-After"] = str(max(1, round(error.retry_after or 1)))
    return error.suggested_status, body, headers
