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

from ._http import Request, Response

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

    >>> transport = MockTransport(lambda request: Response.json({"error": False, "data": {}}))
    """

    def __init__(self, handler: Handler, *, record: bool = True) -> None:
        self._handler = handler
        self._record = record
        self.requests: list[Request] = []
        self.closed = False

    def __repr__(self) -> str:
        return f"<MockTransport {len(self.requests)} requests{' closed' if self.closed else ''}>"

    async def send(self, request: Request) -> Response:
        """Log the request and return the handler's answer."""
        if self._record:
            self.requests.append(request)
        result = self._handler(request)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def aclose(self) -> None:
        """Mark the transport closed."""
        self.closed = True
