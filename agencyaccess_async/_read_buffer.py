"""A 64 KiB socket read buffer for plain-HTTP connections: a guarded private hook.

asyncio's selector transport reads each chunk with ``sock.recv(256 KiB)``.
An allocation that size is served by ``mmap`` and given back by ``munmap``
on every response (glibc's threshold), which costs more than parsing a
contract-sized answer. A connection of the SDK's connector reads with
``READ_BUFFER`` bytes instead; larger answers just take more reads.

Two private names are involved, so both are checked at import and the
default connector is used, silently, if either has changed:

- ``asyncio.selector_events._SelectorSocketTransport.max_size``, the recv
  size (a class attribute since Python 3.4; set per instance here);
- ``aiohttp.TCPConnector._create_connection(req, traces, timeout)``, called
  once per new connection (aiohttp 3.x).

TLS connections are left alone (their transport reads into a buffer it
keeps), and so is every other event loop: uvloop reads into a preallocated
buffer and is the other route to the same saving.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import aiohttp

__all__ = ["READ_BUFFER", "HOOKED", "cap_read_buffer", "connector_class"]

READ_BUFFER = 64 * 1024

_SELECTOR_TRANSPORT: type | None = getattr(
    getattr(asyncio, "selector_events", None), "_SelectorSocketTransport", None
)


def _hookable() -> bool:
    """Whether both private names are what this module was written against."""
    if _SELECTOR_TRANSPORT is None or not isinstance(
        getattr(_SELECTOR_TRANSPORT, "max_size", None), int
    ):
        return False
    create = getattr(aiohttp.TCPConnector, "_create_connection", None)
    if not inspect.iscoroutinefunction(create):
        return False
    return list(inspect.signature(create).parameters) == ["self", "req", "traces", "timeout"]


HOOKED = _hookable()


def cap_read_buffer(transport: object, size: int = READ_BUFFER) -> bool:
    """Make a selector socket transport read at most ``size`` bytes at once; whether it did.

    Anything else (TLS, uvloop, a test double) is left as it is.
    """
    if _SELECTOR_TRANSPORT is None or type(transport) is not _SELECTOR_TRANSPORT:
        return False
    if getattr(transport, "max_size", 0) <= size:
        return False
    transport.max_size = size  # type: ignore[attr-defined]
    return True


class _CappedConnector(aiohttp.TCPConnector):
    """A ``TCPConnector`` whose new plain-HTTP connections read with ``READ_BUFFER``."""

    capped = 0  # connections whose buffer was capped (per instance once one is)

    async def _create_connection(self, req: Any, traces: Any, timeout: Any) -> Any:
        protocol = await super()._create_connection(req, traces, timeout)
        if cap_read_buffer(getattr(protocol, "transport", None)):
            self.capped += 1
        return protocol


def connector_class() -> type[aiohttp.TCPConnector]:
    """The connector to build: the capped one if the hook is safe here, else aiohttp's own."""
    return _CappedConnector if HOOKED else aiohttp.TCPConnector
