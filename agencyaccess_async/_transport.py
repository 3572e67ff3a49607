"""The transport contract, and ``MockTransport`` for tests, notebooks and examples.

A transport moves one ``Request`` to the server and brings back one
``Response``: ``async send(request)``, ``aclose()``, and ``async with``.
Nothing more, so a new HTTP library is a small class. A transport raises only
the SDK's ``TransportError`` family, each saying whether the request may have
reached the server.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from typing_extensions import Self

from ._errors import APIError
from ._http import Request, Response
from ._models import Model

__all__ = ["ClosingContext", "MockTransport", "Transport"]


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


class MockTransport(ClosingContext):
    """A transport that answers every request with ``handler(request)``, and logs them.

    The handler may be sync or async, returns a ``Response`` (see
    ``Response.json``), and may raise a ``TransportError`` (``ConnectError``,
    ``RequestTimeout``, ...) to act out a network failure. ``requests`` lists
    every request sent, for assertions (``record=False`` keeps none, for load
    tests with millions of requests).

    ``respond(operation, answer)`` answers one operation without a handler:
    with a model (``testing.make_client(name="Acme")``), a list of models (one
    page), an ``APIError`` (its status and message), or a ``Response``.

    >>> transport = MockTransport(lambda request: Response.json({"error": False, "data": {}}))
    >>> fake = MockTransport().respond("clients.create", make_client(name="Acme"))  # doctest: +SKIP
    """

    requests: list[Request]
    closed: bool

    def __init__(self, handler: Handler | None = None, *, record: bool = True) -> None:
        self._handler = handler
        self._record = record
        self._answers: dict[str, Response | APIError] = {}
        self.requests: list[Request] = []
        self.closed = False

    def respond(
        self, operation: str, answer: Model | list[Model] | APIError | Response
    ) -> MockTransport:
        """Answer every request of ``operation`` (``"clients.create"``) with ``answer``."""
        if isinstance(answer, (Response, APIError)):
            self._answers[operation] = answer
        elif isinstance(answer, list):
            data = [item.to_dict(by_alias=True, mode="json") for item in answer]
            self._answers[operation] = Response.json(
                {"error": False, "data": data, "nextCursor": None}
            )
        else:
            data_one = answer.to_dict(by_alias=True, mode="json")
            self._answers[operation] = Response.json({"error": False, "data": data_one})
        return self

    def __repr__(self) -> str:
        return f"<MockTransport {len(self.requests)} requests{' closed' if self.closed else ''}>"

    async def send(self, request: Request) -> Response:
        """Log the request and return the handler's answer."""
        if self._record:
            self.requests.append(request)
        answer = self._answers.get(request.operation)
        if isinstance(answer, APIError):
            return Response.json({"error": True, "msg": answer.msg}, status=answer.status)
        if answer is not None:
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
