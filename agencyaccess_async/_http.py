"""The sans-I/O core: Request and Response values, and the pure functions around them.

Nothing here does I/O or needs an event loop. ``build_request`` turns an
operation and a wire payload into a ``Request``; ``parse_response`` applies
the contract's envelope rules to a ``Response`` and either returns the
envelope of a success or raises the typed error of a failure. Transports only
move these values over a wire.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
from multidict import CIMultiDict
from yarl import URL

from . import _json
from ._auth import APIKey
from ._errors import (
    InvalidRequestError,
    ProtocolError,
    RedirectError,
    ServerError,
    error_for_status,
    scrub_text,
)
from ._hooks import logger

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "MAX_HEADERS",
    "MAX_HEADER_LINE",
    "head_refusal",
    "MAX_SERVER_WAIT",
    "Request",
    "Response",
    "Timeout",
    "build_request",
    "header_number",
    "ServerClock",
    "http_date",
    "log_attempt",
    "parse_response",
    "parse_retry_after",
    "redacted_url",
    "target_url",
    "with_extra_headers",
]

_EXCERPT = 200
#: The longest wait a server may ask for (``Retry-After``, a rate-limit reset):
#: a longer one is capped to this and logged, so one odd header cannot stall a
#: Session for hours.
MAX_SERVER_WAIT = 900.0
#: The largest answer body a transport reads by default (after decompression).
#: The API's answers are a few KiB; a list page of 100 records, well under 1 MiB.
DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
#: The longest header line of an answer, and the most header lines, a transport
#: accepts (aiohttp's own limits, as of 3.14); past either the answer is malformed
#: (``ProtocolError``) on every transport, whatever its library would take.
MAX_HEADER_LINE = 8190
MAX_HEADERS = 128


def head_refusal(lines: Sequence[tuple[bytes, bytes]]) -> str | None:
    """Why an answer's header lines are past ``MAX_HEADERS`` or ``MAX_HEADER_LINE``; else None."""
    if len(lines) > MAX_HEADERS:
        return f"{len(lines)} header lines, more than {MAX_HEADERS}"
    for name, value in lines:  # a loop, not any(): this runs for every answer
        if len(name) + 2 + len(value) > MAX_HEADER_LINE:
            return f"a header line is longer than {MAX_HEADER_LINE} bytes"
    return None


@attrs.frozen
class Timeout:
    """Time limits for one HTTP attempt, in seconds (``None``: no limit).

    ``connect`` bounds opening a connection, ``read`` each wait for data of
    the answer once the request is sent, ``total`` the whole attempt. ``pool``
    bounds the wait for a free slot of the Session's concurrency limit.

    ``read`` is off by default: ``total`` already bounds a stalled answer, and
    a read timeout costs a timer per received chunk on every request.
    """

    connect: float | None = 10.0
    read: float | None = None
    total: float | None = 60.0
    pool: float | None = None


@attrs.frozen(repr=False)
class Request:
    """One HTTP request, ready for a transport.

    ``headers`` never hold the API key: it travels beside them as
    ``api_key``, an ``APIKey`` that shows itself as ``***``, and a transport
    adds it as ``X-Auth`` at the last moment (in a hook of its HTTP library),
    so that no mapping a traceback could render holds it.
    Its repr shows the operation, method, URL and body size.
    """

    method: str
    url: URL
    headers: Mapping[str, str]
    body: bytes
    operation: str = ""
    timeout: Timeout | None = None
    api_key: APIKey | None = None
    #: ``Authorization`` for a gateway in front of the API: the user and password
    #: of a base URL like ``https://user:pass@gateway/``, kept out of every URL.
    authorization: APIKey | None = None

    def __repr__(self) -> str:
        return (
            f"<Request {self.operation or '?'} {self.method} {self.url} ({len(self.body)} bytes)>"
        )

    @property
    def request_id(self) -> str | None:
        """The ``X-Request-ID`` this request carries."""
        return self.headers.get("X-Request-ID")

    def json(self) -> Any:
        """The body, read back as JSON (for assertions in tests)."""
        return _json.loads(self.body) if self.body else None


@attrs.frozen(repr=False)
class Response:
    """One HTTP answer: status, headers (case-insensitive), body bytes, seconds it took."""

    status: int
    headers: Mapping[str, str] = attrs.field(factory=CIMultiDict, converter=CIMultiDict[str])
    body: bytes = b""
    elapsed: float = 0.0

    def __repr__(self) -> str:
        return f"<Response {self.status} ({len(self.body)} bytes, request id {self.request_id})>"

    @property
    def request_id(self) -> str | None:
        """The server's ``X-Request-ID`` for this answer."""
        return self.headers.get("X-Request-ID")

    @classmethod
    def json(
        cls,
        payload: Any,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Build a response with a JSON body; handy in ``MockTransport`` handlers."""
        all_headers = CIMultiDict({"Content-Type": "application/json"})
        if headers:
            all_headers.update(headers)
        return cls(status, all_headers, _json.dumps(payload))


def build_request(
    operation: str,
    url: URL,
    payload: Mapping[str, Any],
    *,
    headers: Mapping[str, str],
    request_id: str,
    timeout: Timeout | None = None,
    api_key: APIKey | None = None,
    authorization: APIKey | None = None,
) -> Request:
    """Build the POST of ``payload`` (already in wire form) to ``url``.

    ``headers`` are the Session's fixed headers (content type, user agent);
    the request id is added per call and kept across its retries. The key is
    not among them: it travels beside them (a provider's is set per attempt).
    """
    try:
        body = _json.dumps(payload)
    except (TypeError, ValueError, RecursionError) as exc:
        # TypeError and ValueError incl. UnicodeEncodeError and orjson's
        # JSONEncodeError; RecursionError: the stdlib on a value nested too deep.
        raise _unsendable(operation, payload, exc) from None
    all_headers = dict(headers)
    all_headers["X-Request-ID"] = request_id
    return Request("POST", url, all_headers, body, operation, timeout, api_key, authorization)


def _unsendable(operation: str, payload: Any, exc: Exception) -> InvalidRequestError:
    """The error for a payload that cannot be written as UTF-8 JSON, naming the bad field."""
    found = _first_unsendable(payload, "")
    path, why = found if found is not None else ("body", str(exc))
    return InvalidRequestError(
        f"Invalid field {path or 'body'}: {why}; nothing was sent",
        status=0,
        operation=operation,
    )


#: How deep the search for an unsendable value goes: below orjson's limit (255
#: levels) and far below the interpreter's recursion limit.
_DEEPEST = 200


def _first_unsendable(
    value: Any, path: str, ancestors: list[int] | None = None
) -> tuple[str, str] | None:
    """The wire path of the first value JSON cannot carry, and why; None if all are fine.

    ``ancestors`` are the ids of the objects and arrays that hold ``value``:
    one among them again is a circular reference, and more than ``_DEEPEST``
    of them is nesting that no codec is sure to write.
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return path, f"character {exc.start} is a lone surrogate, which UTF-8 cannot carry"
        return None
    if isinstance(value, float) and value - value != 0:
        return path, f"{value} is not a finite number"
    if isinstance(value, (Mapping, list, tuple)):
        return _first_unsendable_in(value, path, ancestors if ancestors is not None else [])
    if value is None or isinstance(value, (bool, int, float)):
        return None
    return path, f"a {type(value).__name__} cannot be sent as JSON"


def _first_unsendable_in(
    container: Mapping[Any, Any] | list[Any] | tuple[Any, ...], path: str, ancestors: list[int]
) -> tuple[str, str] | None:
    """``_first_unsendable`` for the members of an object or array."""
    if id(container) in ancestors:
        return path, "it contains itself (a circular reference)"
    if len(ancestors) >= _DEEPEST:
        return path, f"it is nested more than {_DEEPEST} levels deep"
    ancestors.append(id(container))
    try:
        if isinstance(container, Mapping):
            for key, item in container.items():
                if not isinstance(key, str):
                    return path, f"key {key!r} is not a string"
                found = _first_unsendable(key, path) or _first_unsendable(
                    item, f"{path}.{key}" if path else key, ancestors
                )
                if found is not None:
                    return found
            return None
        for index, item in enumerate(container):
            found = _first_unsendable(item, f"{path}[{index}]", ancestors)
            if found is not None:
                return found
        return None
    finally:
        ancestors.pop()


def parse_response(response: Response, *, operation: str = "") -> dict[str, Any]:
    """Return the envelope of a successful answer, or raise the typed error of a failure.

    The contract's rules: ``"error": true`` is a failure whatever the status;
    a body that is not a JSON object is a failure (a ``ServerError`` on a 5xx,
    else a ``ProtocolError``); a success without ``data`` is a ``ProtocolError``.
    """
    status = response.status
    if 300 <= status < 400:
        raise _redirect_error(response, operation)
    try:
        envelope = _json.loads(response.body) if response.body else None
    except ValueError:
        envelope = None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("error"), bool):
        excerpt = _excerpt(response.body)
        if status >= 500:
            raise ServerError(
                f"HTTP {status} with a non-JSON body: {excerpt!r}",
                status=status,
                operation=operation,
                request_id=response.request_id,
                headers=response.headers,
            )
        raise ProtocolError(
            f"HTTP {status} answer is not the API's JSON envelope: {excerpt!r}",
            status=status,
            body_excerpt=excerpt,
            operation=operation,
            request_id=response.request_id,
        )
    if envelope["error"] or status >= 300:
        raise _api_error(response, envelope, operation)
    if "data" not in envelope:
        raise ProtocolError(
            f"HTTP {status} success without 'data'",
            status=status,
            body_excerpt=_excerpt(response.body),
            operation=operation,
            request_id=response.request_id,
        )
    return envelope


def _api_error(response: Response, envelope: Mapping[str, Any], operation: str) -> Exception:
    msg = envelope.get("msg")
    if not isinstance(msg, str) or not msg:
        msg = f"HTTP {response.status} error without a message"
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    cls = error_for_status(response.status, msg, has_retry_after=retry_after is not None)
    return cls(
        msg,
        status=response.status,
        operation=operation,
        request_id=response.request_id,
        headers=response.headers,
        retry_after=retry_after,
    )


def _redirect_error(response: Response, operation: str) -> RedirectError:
    """A redirect, named by its status and target host only (a query may hold a token)."""
    location = response.headers.get("Location", "")
    try:
        host = URL(location).host if location else None
    except ValueError:
        host = None
    target = f"to host {host}" if host else "to another path" if location else "without a Location"
    return RedirectError(
        f"HTTP {response.status} redirect {target}, not followed (the API key is sent only to "
        "the base URL); if the new address is right, make it the Session's base_url",
        status=response.status,
        operation=operation,
        request_id=response.request_id,
        location_host=host,
    )


def _excerpt(body: bytes) -> str:
    return body[:_EXCERPT].decode("utf-8", "replace")


#: What a header's number may look like: plain ASCII digits, a fraction, an exponent.
#: Not a sign, ``inf``, ``nan``, underscores or other scripts' digits (all of which
#: ``float`` takes), and at most 32 characters.
_NUMBER = re.compile(r"(?=.{1,32}$)[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]{1,3})?", re.ASCII)


def header_number(value: str | None, name: str) -> float | None:
    """A header's value as a finite number of at least 0; ``None`` if it is not one.

    Servers and proxies send anything: ``inf``, ``nan``, ``1e999``, ``-3``,
    ``Infinity``, a megabyte of digits. Each is ignored with one DEBUG line,
    never raised, so that no header can fail a call or stall a limiter.
    """
    if value is None:
        return None
    if value.isdigit() and value.isascii() and len(value) <= 32:  # the common case: "42"
        return float(value)
    text = value.strip()
    number = float(text) if _NUMBER.fullmatch(text) else None
    if number is None or number == _INF:  # 9e999 matches, and is no finite number
        logger.debug("ignoring %s: %r is not a finite number of at least 0", name, value[:40])
        return None
    return number


_INF = float("inf")


@attrs.define
class ServerClock:
    """The server's time, read off the last ``Date`` header it sent.

    Our wall clock (``clock``, injectable for tests) only measures the time
    since that header came, so however wrong it is, it never decides what
    the server's time is. The request loop stores ``date`` and ``seen_at`` as
    text and a reading (no parsing on the way); ``now`` parses when asked.
    """

    clock: Callable[[], float] = time.time
    date: str | None = None
    seen_at: float = 0.0

    def now(self) -> float | None:
        """The server's time now (epoch seconds), or None if no Date header was seen."""
        then = http_date(self.date)
        return None if then is None else then + (self.clock() - self.seen_at)


def http_date(value: str | None) -> float | None:
    """An HTTP date (a ``Date`` or ``Retry-After`` header) as epoch seconds; else None."""
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
        return when.timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP date.

    Returns ``None`` when absent or unreadable, never a negative or
    non-finite number, and never more than ``MAX_SERVER_WAIT`` (a longer wait
    is logged and capped).
    """
    if value is None:
        return None
    text = value.strip()
    if not text[:1].isalpha():  # delta-seconds, or something no date starts with
        seconds = header_number(text, "Retry-After")
    else:
        when = http_date(text)
        if when is None:
            logger.debug("ignoring Retry-After: %r is neither seconds nor a date", text[:40])
            return None
        seconds = when - (time.time() if now is None else now)
    if seconds is None:
        return None
    if seconds > MAX_SERVER_WAIT:
        logger.warning(
            "Retry-After of %.40ss is absurd; waiting %ss at most", text, MAX_SERVER_WAIT
        )
        return MAX_SERVER_WAIT
    return max(0.0, seconds)


def redacted_url(url: URL) -> str:
    """``url`` for a repr, a log or a message: a password in it shown as ``***``."""
    return str(url.with_password("***")) if url.password else str(url)


def target_url(url: URL) -> str:
    """``url`` without its credentials: what a journal stores and compares; a budget's name."""
    return str(url.with_user(None)) if url.user or url.password else str(url)


def with_extra_headers(headers: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """The Session's headers with a call's extra ones; the key is never one of them."""
    if any(name.lower() == "x-auth" for name in extra):
        raise ValueError("extra_headers may not set X-Auth; pass the key as api_key")
    return {**headers, **extra}


def log_attempt(
    request: Request,
    response: Response | None,
    attempt: int,
    elapsed: float,
    error: BaseException | None,
    context: Mapping[str, str | None],
    log_bodies: bool,
    secrets: Sequence[str] = (),
) -> None:
    """One DEBUG line for an attempt, with structured ``extra`` fields (never a header or key).

    ``context`` adds fields (the tenant's label, the Session's name); the
    bodies are logged only with ``log_bodies``, with ``secrets`` (the key, a
    URL's password) scrubbed from them: a server may echo what it was sent.
    """
    status = response.status if response is not None else None
    bodies = ""
    if log_bodies:
        answer = _body_text(response.body if response is not None else b"")
        bodies = f" request_body={_body_text(request.body)} response_body={answer}"
        bodies = scrub_text(bodies, secrets)
    shown = str(status) if status is not None else type(error).__name__
    fields = {"operation": request.operation, "request_id": request.request_id,
              "attempt": attempt, "status": status, "elapsed": elapsed, **context}  # fmt: skip
    logger.debug(
        "%s %s -> %s attempt=%d elapsed=%.4fs request_id=%s%s",
        request.method, request.url.path, shown, attempt, elapsed,
        request.request_id, bodies, extra=fields,
    )  # fmt: skip


def _body_text(body: bytes) -> str:
    return body.decode("utf-8", "replace")
