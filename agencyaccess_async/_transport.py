"""The transport contract, and ``MockTransport`` for tests, notebooks and examples.

A transport moves one ``Request`` to the server and brings back one
``Response``: ``async send(request)``, ``aclose()``, and ``async with``.
Nothing more, so a new HTTP library is a small class. A transport raises only
the SDK's ``TransportError`` family, each saying whether the request may have
reached the server.
"""

from __future__ import annotations

import collections
import inspect
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Union, runtime_checkable

import attrs

if TYPE_CHECKING:
    from typing_extensions import Self

from ._converter import wire_name
from ._errors import APIError, ProtocolError, TransportError
from ._http import Request, Response
from ._models import Model
from ._routes import ROUTES

__all__ = ["ClosingContext", "MockCall", "MockTransport", "Transport", "read_capped"]


@runtime_checkable
class Transport(Protocol):
    """What the Session needs from an HTTP library."""

    async def send(self, request: Request) -> Response:
        """Send one request and return the answer, or raise a ``TransportError``."""
        ...

    async def aclose(self) -> None:
        """Release the transport's connections; calling it twice is harmless."""
        ...

    async def __aenter__(self) -> Transport: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


Handler = Callable[[Request], "Response | Awaitable[Response]"]


class ClosingContext:
    """``async with`` support for anything with an ``aclose()``: exiting closes it."""

    async def aclose(self) -> None:
        """Release what the object holds."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


#: What ``MockTransport.respond`` takes as an answer.
Answer = Union[Model, "list[Model]", APIError, Response, TransportError]


@attrs.frozen
class MockCall:
    """One request a ``MockTransport`` received: its operation, JSON body and headers.

    The headers never hold the API key (it travels apart, as ``Request.api_key``).
    """

    operation: str
    json: Any
    headers: Mapping[str, str]


class MockTransport(ClosingContext):
    """A transport that answers requests without a network, and records them.

    ``respond(operation, answer)`` answers one operation: with a model
    (``testing.make_client(name="Acme")``), a list of models (one page), an
    ``APIError`` (its status and message), a ``Response``, or a
    ``TransportError`` to raise (``ConnectError``, ``RequestTimeoutError``...).
    ``respond(operation, side_effect=[...])`` answers with each in turn, the
    last one again after that. An operation the SDK does not know (a typo) is
    a ``ValueError`` listing the ones it does. Requests ``respond`` does not
    cover go to ``handler(request)`` (sync or async).

    ``calls`` lists every request as a ``MockCall`` (operation, JSON body,
    headers); ``assert_called_once_with(operation, **fields)`` checks one
    call and the fields of its body. ``record=False`` keeps nothing, for load
    tests with millions of requests.

    >>> transport = MockTransport(lambda request: Response.json({"error": False, "data": {}}))
    >>> fake = MockTransport().respond("clients.create", make_client(name="Acme"))  # doctest: +SKIP
    """

    requests: list[Request]
    closed: bool

    def __init__(self, handler: Handler | None = None, *, record: bool = True) -> None:
        self._handler = handler
        self._record = record
        self._answers: dict[str, collections.deque[Response | TransportError]] = {}
        self.requests: list[Request] = []
        self.closed = False

    def respond(
        self,
        operation: str,
        answer: Answer | None = None,
        *,
        side_effect: Sequence[Answer] | None = None,
    ) -> MockTransport:
        """Answer every request of ``operation`` (``"clients.create"``); see the class doc."""
        if operation not in ROUTES and not operation.startswith("POST /"):
            raise ValueError(
                f"MockTransport.respond: no operation {operation!r}; the operations are "
                + ", ".join(ROUTES)
                + " (and 'POST /path' for session.post)"
            )
        if (answer is None) == (side_effect is None):
            raise ValueError("MockTransport.respond: give one answer, or a side_effect list")
        answers = list(side_effect) if side_effect is not None else [answer]
        if not answers:
            raise ValueError("MockTransport.respond: side_effect is empty")
        self._answers[operation] = collections.deque(_as_response(a) for a in answers)
        return self

    @property
    def calls(self) -> list[MockCall]:
        """Every request received, oldest first, as ``MockCall``s."""
        return [MockCall(r.operation, r.json(), dict(r.headers)) for r in self.requests]

    def assert_called_once_with(self, operation: str, **fields: Any) -> MockCall:
        """Check that ``operation`` was called once, with these body fields; return the call.

        Field names are the Python ones (``client_id``) or the wire's
        (``clientID``); values are compared with the JSON body's.
        """
        matching = [call for call in self.calls if call.operation == operation]
        if len(matching) != 1:
            raise AssertionError(f"{operation} was called {len(matching)} times, not once")
        body = matching[0].json if isinstance(matching[0].json, dict) else {}
        wrong = {
            name: (body.get(wire), value)
            for name, value in fields.items()
            if body.get(wire := name if name in body else wire_name(name), _MISSING) != value
        }
        if wrong:
            shown = ", ".join(
                f"{k}: sent {got!r}, expected {want!r}" for k, (got, want) in wrong.items()
            )
            raise AssertionError(f"{operation} was called with other fields ({shown})")
        return matching[0]

    def __repr__(self) -> str:
        return f"<MockTransport {len(self.requests)} requests{' closed' if self.closed else ''}>"

    async def send(self, request: Request) -> Response:
        """Log the request and answer it; raise the answer when it is a ``TransportError``."""
        if self._record:
            self.requests.append(request)
        queue = self._answers.get(request.operation)
        if queue:
            answer = queue.popleft() if len(queue) > 1 else queue[0]
            if isinstance(answer, TransportError):
                raise answer
            return answer
        if self._handler is None:
            msg = f"MockTransport: no answer for {request.operation}; use respond()"
            return Response.json({"error": True, "msg": msg}, status=404)
        result = self._handler(request)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def aclose(self) -> None:
        """Mark the transport closed."""
        self.closed = True


_MISSING = object()


def _as_response(answer: Answer | None) -> Response | TransportError:
    """An answer of ``respond`` as the Response it stands for (or the error to raise)."""
    if isinstance(answer, (Response, TransportError)):
        return answer
    if isinstance(answer, APIError):
        return Response.json({"error": True, "msg": answer.message}, status=answer.status)
    if isinstance(answer, list):
        data = [item.to_dict(by_alias=True, mode="json") for item in answer]
        return Response.json({"error": False, "data": data, "nextCursor": None})
    if answer is None:
        raise ValueError("MockTransport.respond: an answer cannot be None")
    return Response.json({"error": False, "data": answer.to_dict(by_alias=True, mode="json")})


async def read_capped(
    request: Request,
    status: int,
    chunks: AsyncIterable[bytes],
    *,
    length: int | None,
    cap: int,
    on_refusal: Callable[[], None] = lambda: None,
    whole: Callable[[], Awaitable[bytes]] | None = None,
) -> bytes:
    """An answer's body from ``chunks`` (decompressed), never more than ``cap`` bytes of it.

    The cap every transport keeps: a declared ``length`` over it is refused
    before reading, and chunks are counted as they arrive, so neither a
    lying length nor a compression bomb gets past it. A refusal calls
    ``on_refusal`` (to drop the connection: the rest is never read) and
    raises a ``ProtocolError`` with the answer's ``status``.

    ``whole`` reads the body in one call; a transport gives it when ``length``
    frames the body as it is read (no compression, no chunked coding), so
    that a length within the cap bounds what it reads (it saves an async
    iteration per answer, the common case).
    """

    def refused(how: str) -> ProtocolError:
        on_refusal()
        return ProtocolError(
            f"HTTP {status} answer{how} is over max_response_bytes={cap}; the rest was not read",
            status=status,
            operation=request.operation,
            request_id=request.request_id,
        )

    if length is not None and length > cap:
        raise refused(f" of {length} bytes")
    if length is not None and whole is not None:
        return await whole()
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > cap:
            raise refused("")
        parts.append(chunk)
    return b"".join(parts)
