"""The SDK's exception tree, the one function that picks a class for an API failure.

It also holds the answer a backend should give for each error
(``error_response``).

Every failure a caller can see is an ``AgencyAccessError``. API errors carry
the operation, HTTP status, the server's message and the request id, so a
log line or a bug report can be traced to one request; none of them ever
carries the API key (they are built from the response, never the request
headers).

The tree (in the style of httpx's ``_exceptions.py``)::

    AgencyAccessError
    ├── SessionError                 misuse: closed, no key, another event loop
    ├── TransportError               no usable answer; .may_have_reached_server
    │   ├── ConnectError             never reached the server: safe to resend
    │   ├── RequestTimeoutError      .kind: connect, pool, read or total
    │   ├── RemoteDisconnectedError  dropped after sending: outcome unknown
    │   └── ProtocolError            not the API's JSON envelope, or too large
    ├── APIError                     "error": true or a non-2xx status; .status .message
    │   ├── AuthenticationError      401, "Missing or invalid API key."
    │   ├── CapabilityError          403, .capability
    │   ├── NotFoundError            404, "Client does not exist."
    │   ├── InvalidRequestError      400/413/422, .path (status 0: refused before sending)
    │   │   ├── InvalidServiceError  also a ValueError (the builder's errors)
    │   │   ├── AgencyAccountError
    │   │   ├── IntakeFormNotEnabledError
    │   │   └── ProspectAccessError
    │   ├── RedirectError            3xx, never followed; .location_host
    │   ├── RateLimitError           429, or a wait past the deadline (status 0); .retry_after
    │   └── ServerError              5xx
    ├── DecodeError                  an answer the models cannot read; .data
    ├── OutcomeUnknownError          a create that may or may not have happened
    ├── WaitTimeoutError             (in _links) wait_until_granted ran out of time; .last_seen
    └── JournalError                 (in _bulk) a bulk journal that cannot be used
        ├── JournalLockedError
        └── JournalMismatchError     also a ValueError
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "GUIDE_CAUSES",
    "APIError",
    "AgencyAccessError",
    "AgencyAccountError",
    "AuthenticationError",
    "CapabilityError",
    "ConnectError",
    "DecodeError",
    "IntakeFormNotEnabledError",
    "InvalidRequestError",
    "InvalidServiceError",
    "NotFoundError",
    "OutcomeUnknownError",
    "ProspectAccessError",
    "ProtocolError",
    "RateLimitError",
    "RedirectError",
    "RemoteDisconnectedError",
    "RequestTimeoutError",
    "ServerError",
    "SessionError",
    "TransportError",
    "error_for_status",
    "error_response",
    "malformed",
    "SCRUBBED",
    "SHORTEST_SECRET",
    "scrub",
    "scrub_headers",
    "scrub_text",
]


class AgencyAccessError(Exception):
    """Base class of every error the SDK raises.

    ``attempts`` is how many attempts (HTTP requests) the failed call sent
    before it ended: 0 when it was refused before sending anything (a field
    JSON cannot carry, a rate-limit wait past the deadline, no key). The
    request loop sets it when the call ends; the lookups that reconcile a
    create are not counted.

    ``suggested_status`` is what a backend that calls the SDK for its own
    client should answer: 422 for a refused input, 404 for a missing record,
    503 (with ``Retry-After``) for a rate limit, 504 for a timeout, and 502
    when AgencyAccess, or our own key's access to it, failed.
    """

    suggested_status: int = 500

    attempts: int = 0

    @property
    def message(self) -> str:
        """What went wrong, in the words it was raised with (``str()`` adds the context)."""
        return str(self.args[0]) if self.args else ""


class SessionError(AgencyAccessError, RuntimeError):
    """The Session was misused: closed, missing its API key, or used from another event loop."""

    suggested_status: int = 500


class TransportError(AgencyAccessError):
    """No usable answer came back from the server.

    ``may_have_reached_server`` tells whether the request may have been
    processed: ``False`` only when it provably never left (connect error,
    pool timeout), which is what makes a resend safe for a create.
    """

    suggested_status: int = 502

    def __init__(
        self,
        message: str,
        *,
        operation: str = "",
        request_id: str | None = None,
        may_have_reached_server: bool = True,
    ) -> None:
        super().__init__(message)
        self.operation = operation
        self.request_id = request_id
        self.may_have_reached_server = may_have_reached_server

    def __str__(self) -> str:
        where = f" during {self.operation}" if self.operation else ""
        rid = f" (request id {self.request_id})" if self.request_id else ""
        return f"{self.message}{where}{rid}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, operation={self.operation!r}, "
            f"request_id={self.request_id!r}, "
            f"may_have_reached_server={self.may_have_reached_server})"
        )


class ConnectError(TransportError):
    """The connection could not be opened; the request never left, so a resend is safe."""

    def __init__(self, message: str, **kwargs: Any) -> None:
        kwargs.setdefault("may_have_reached_server", False)
        super().__init__(message, **kwargs)


class RequestTimeoutError(TransportError):
    """A timeout fired; ``kind`` says which: ``"connect"``, ``"pool"``, ``"read"`` or ``"total"``.

    Connect and pool timeouts happen before the request is sent; read and
    total timeouts may fire after the server got (and acted on) the request.
    """

    suggested_status: int = 504

    def __init__(self, message: str, *, kind: str, **kwargs: Any) -> None:
        kwargs.setdefault("may_have_reached_server", kind in ("read", "total"))
        super().__init__(message, **kwargs)
        self.kind = kind


class RemoteDisconnectedError(TransportError):
    """The connection dropped after the request was sent: the outcome is unknown.

    ``before_answer`` is true when it dropped before any answer came: most
    often on a pooled connection the server had closed without saying so (no
    ``Connection: close``), where a resend on a new connection goes through.
    """

    def __init__(self, message: str, *, before_answer: bool = False, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.before_answer = before_answer


class ProtocolError(TransportError):
    """The server answered, but not with the JSON envelope of the contract, or not in HTTP.

    ``status`` is the HTTP status of the answer and ``body_excerpt`` its first
    200 characters (an HTML error page from a proxy, an empty body, ...).
    An answer that is not valid HTTP (a garbled status line or chunking,
    conflicting lengths, too many or too long headers, a body that does not
    decompress) is one too, on every transport; ``status`` is then 0, unless
    only the body was at fault (it does not decompress).
    """

    def __init__(self, message: str, *, status: int, body_excerpt: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.status = status
        self.body_excerpt = body_excerpt


def malformed(what: str, status: int, **context: Any) -> ProtocolError:
    """The ``ProtocolError`` of an answer that is not valid HTTP, on any transport.

    ``what`` is the HTTP library's reason; only its first line, up to a
    colon, is kept: the rest quotes the answer's raw bytes.
    """
    reason = what.strip().splitlines()[0].split(":")[0].strip() if what.strip() else "unreadable"
    return ProtocolError(f"the answer is not valid HTTP: {reason}", status=status, **context)


class APIError(AgencyAccessError):
    """The API answered with ``{"error": true}`` or a non-2xx status.

    ``retry_after`` is the server's ``Retry-After`` in seconds, when it sent one
    (always on a 429, sometimes on a 503). ``status`` is 0 when the SDK itself
    refused the request before sending it (a field that cannot be sent, a
    rate-limit wait past the deadline): it is never dressed as an HTTP status.
    """

    suggested_status: int = 502

    def __init__(
        self,
        message: str,
        *,
        status: int,
        operation: str = "",
        request_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status
        self.operation = operation
        self.request_id = request_id
        self.headers: Mapping[str, str] = headers if headers is not None else {}

    def __str__(self) -> str:
        where = f"{self.operation}: " if self.operation else ""
        status = f"HTTP {self.status}: " if self.status else ""  # 0: refused before sending
        rid = f" (request id {self.request_id})" if self.request_id else ""
        return f"{where}{status}{self.message}{rid}"

    @property
    def msg(self) -> str:
        """Deprecated: ``message``, the name every error of the SDK uses."""
        warnings.warn(
            "APIError.msg is deprecated: use APIError.message", DeprecationWarning, stacklevel=2
        )
        return self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, status={self.status}, "
            f"operation={self.operation!r}, request_id={self.request_id!r})"
        )


class AuthenticationError(APIError):
    """401: the API key is missing or unknown."""


class CapabilityError(APIError):
    """403: the API key lacks ``capability`` (e.g. ``"links:create"``)."""

    @property
    def capability(self) -> str | None:
        """The missing capability, when the server's message names it."""
        match = _CAPABILITY.search(self.message)
        return match.group(1) if match else None


class NotFoundError(APIError):
    """404: unknown route, client or access request."""

    suggested_status: int = 404


class InvalidRequestError(APIError, ValueError):
    """400, 413 or 422: the request was refused as invalid; status 0: refused before sending.

    ``path`` is the offending field path (``requestedServices.google.googleAds``)
    when the message names one, else ``None``. Also a ``ValueError``, so code
    that catches a bad argument as one keeps working.
    """

    suggested_status: int = 422

    @property
    def path(self) -> str | None:
        """The offending field path, if the message names one."""
        match = _PATH.search(self.message)
        return match.group(1) if match else None


class InvalidServiceError(InvalidRequestError, ValueError):
    """An unknown platform, service or access level: refused by the API (400), or by the builder.

    The builder raises it before anything is sent (``status`` 0); it is also a
    ``ValueError``, as the builder's errors always were.
    """


class AgencyAccountError(InvalidRequestError):
    """400: the agency's connected account is unknown or has expired."""

    suggested_status: int = 502  # the agency's setup or AgencyAccess, not the input


class IntakeFormNotEnabledError(InvalidRequestError):
    """400: an intake form was requested but the agency has not enabled it."""

    suggested_status: int = 502  # the agency's setup or AgencyAccess, not the input


class ProspectAccessError(InvalidRequestError):
    """400: a prospect client may only be asked for read-only access."""


class RedirectError(APIError):
    """3xx: the server redirected; the SDK never follows, so the API key stays with its host.

    ``location_host`` is the host the redirect pointed at (``None`` for a
    path on the same host). If the new address is right, make it the
    Session's ``base_url``.
    """

    def __init__(self, message: str, *, location_host: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.location_host = location_host


class RateLimitError(APIError):
    """429: too many requests; ``retry_after`` is the server's wait in seconds, if given.

    Also raised before sending when the rate-limit wait would outlast the call's
    deadline: ``status`` 0 and ``attempts`` 0 then, ``retry_after`` the wait.
    """

    suggested_status: int = 503


class ServerError(APIError):
    """5xx: a fault on the server's side."""


class DecodeError(AgencyAccessError):
    """A successful answer whose ``data`` the SDK's models cannot read.

    ``data`` is the answer's raw ``data``: after a create, the record was made,
    and its id is there (``error.data["linkID"]``), so nothing is lost.
    """

    suggested_status: int = 502  # the agency's setup or AgencyAccess, not the input

    def __init__(
        self,
        message: str,
        *,
        operation: str = "",
        request_id: str | None = None,
        data: Any = None,
    ):
        super().__init__(message)
        self.operation = operation
        self.request_id = request_id
        self.data = data


class OutcomeUnknownError(AgencyAccessError):
    """A create may or may not have happened, and reconciliation could not tell.

    Nothing was resent blindly. ``idempotency_key`` is the key the SDK stored
    in the record (search for it later to find the record if it exists), and
    ``__cause__`` / ``last_error`` is the failure that made the outcome unknown.
    """

    suggested_status: int = 502  # the agency's setup or AgencyAccess, not the input

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        idempotency_key: str | None,
        last_error: BaseException | None,
    ) -> None:
        super().__init__(message)
        self.operation = operation
        self.idempotency_key = idempotency_key
        self.last_error = last_error


# The messages that name a capability or a field path (the contract's error table).
_CAPABILITY = re.compile(r"capability[.:]?\s+([\w:.-]+)")
_PATH = re.compile(
    r"(?:^Invalid field\s+|Requested service is invalid[.:]\s*|read-only access:\s*)([^\s:]+)"
)


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
        body["detail"], body["field"] = error.message, error.path
    elif isinstance(error, NotFoundError):
        body["detail"] = error.message
    elif isinstance(error, RateLimitError):
        headers["Retry-After"] = str(max(1, round(error.retry_after or 1)))
    return error.suggested_status, body, headers


#: What a secret is replaced with, wherever the SDK renders text; and the shortest
#: secret replaced (a shorter one cannot be told from ordinary text).
SCRUBBED = "***"
SHORTEST_SECRET = 4


def scrub_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (an API key, a URL's password) replaced by ``***``.

    The one rule for every text the SDK renders: exceptions (``scrub``); the
    bodies it logs, the headers and request ids it records (``scrub_headers``)
    and traces, hook events. Applied where text is rendered, so a call that
    renders nothing pays nothing for it.
    """
    for secret in secrets:
        if len(secret) >= SHORTEST_SECRET and secret in text:
            text = text.replace(secret, SCRUBBED)
    return text


def scrub_headers(headers: Mapping[str, str], secrets: Iterable[str]) -> dict[str, str]:
    """An answer's headers, each value through ``scrub_text`` (a copy; the answer is kept)."""
    secrets = tuple(secrets)
    return {name: scrub_text(value, secrets) for name, value in headers.items()}


def scrub(error: BaseException, secrets: Iterable[str]) -> None:
    """Replace each of ``secrets`` with ``***`` in every text ``error`` carries, in place.

    What the server says reaches messages, results files and journals; a
    gateway that echoes the request (or the key) must not put the key there.
    Strings, the args and mappings of strings (an answer's headers) are
    scrubbed (``scrub_text``); nothing else of the error changes.
    """
    wanted = tuple(s for s in secrets if len(s) >= SHORTEST_SECRET)
    if not wanted:
        return

    def clean(value: Any) -> Any:
        if isinstance(value, str) and any(secret in value for secret in wanted):
            return scrub_text(value, wanted)
        if isinstance(value, Mapping) and any(
            isinstance(v, str) and any(secret in v for secret in wanted) for v in value.values()
        ):
            return {k: clean(v) for k, v in value.items()}
        return value

    error.args = tuple(clean(arg) for arg in error.args)
    for name, value in list(vars(error).items()):
        cleaned = clean(value)
        if cleaned is not value:
            setattr(error, name, cleaned)
