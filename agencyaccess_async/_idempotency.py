"""Idempotency: the keys a create carries, and finding the record a create may have made.

When a create's answer is lost (read timeout, dropped connection, 502), the
record may or may not exist. Resending blindly risks a duplicate; giving up
risks a silent loss. Instead the call asks a finder here:

- clients: every create carries a key in ``metadata``
  (``IDEMPOTENCY_METADATA_KEY``); the finder searches ``clients/list`` for it,
  which matches exact metadata values;
- links: the finder lists the client's links (``links/list`` with
  ``clientID``) and takes the newest with the same requested services and
  options created since the call began (minus a clock-skew allowance).

A finder returns the record's wire object, ``None`` when provably absent, or
raises when it cannot tell (the call then raises ``OutcomeUnknownError``).
Finders get an ``execute`` callable (send one wire payload to one route), not
the Session: this module sits below everything that sends.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from ._converter import parse_datetime
from ._errors import AgencyAccessError
from ._retry import RetryPolicy
from ._routes import ROUTES, Route

__all__ = [
    "CLOCK_SKEW",
    "FINDERS",
    "IDEMPOTENCY_METADATA_KEY",
    "Execute",
    "derived_key",
    "generated_key",
    "find_client",
    "find_link",
    "idempotency_key",
    "iter_pages",
    "row_key",
]

T = TypeVar("T")

#: The metadata key under which ``clients.create`` stores its idempotency key.
IDEMPOTENCY_METADATA_KEY = "agencyaccess_idempotency_key"
#: How far the server's clock may lag ours when matching a link's createdAt.
CLOCK_SKEW = 300.0
_LINK_OPTIONS = ("intakeForm", "sendEmail", "thankYouMessage", "redirectURL")
_PAGE = 100

#: Send a wire payload to a route with a retry policy; the answer's envelope.
Execute = Callable[[Route[Any, Any], Mapping[str, Any], RetryPolicy], Awaitable[Mapping[str, Any]]]
Finder = Callable[[Execute, Mapping[str, Any], float, RetryPolicy], Awaitable[Any]]


class CannotReconcile(AgencyAccessError):
    """The finder has nothing to search by."""


class _KeySource:
    """Idempotency keys with no syscall each: a random per-process prefix, then a counter.

    64 random bits per process make a collision between processes as unlikely
    as between UUIDs for this purpose; a forked child (``uvicorn --workers``,
    a preloading gunicorn) draws a prefix of its own.
    """

    def __init__(self) -> None:
        self.reseed()
        os.register_at_fork(after_in_child=self.reseed)

    def reseed(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._numbers = itertools.count(1)

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._numbers):x}"


#: A fresh idempotency key for a create that was given none.
generated_key = _KeySource()


def row_key(payload: Any) -> str:
    """A stable key for an item: a hash of its canonical JSON."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def derived_key(key: str) -> str:
    """The idempotency key stored for a bulk row's key.

    Distinctive on purpose: the API's search also matches substrings of names
    and e-mails, so the stored value must not look like either.
    """
    return "aa1_" + hashlib.sha256(key.encode()).hexdigest()[:32]


def idempotency_key(operation: str, payload: Mapping[str, Any]) -> str | None:
    """The idempotency key a create's body carries, if any."""
    if operation != "clients.create":
        return None
    metadata = payload.get("metadata")
    return metadata.get(IDEMPOTENCY_METADATA_KEY) if isinstance(metadata, Mapping) else None


async def iter_pages(
    fetch: Callable[[str | None], Awaitable[tuple[Sequence[T], str | None]]],
) -> AsyncIterator[Sequence[T]]:
    """Every page of a list call, following ``nextCursor``: ``fetch(cursor)`` gets one page."""
    cursor: str | None = None
    while True:
        items, cursor = await fetch(cursor)
        yield items
        if not cursor:
            return


async def find_client(
    execute: Execute, payload: Mapping[str, Any], not_before: float, policy: RetryPolicy
) -> Mapping[str, Any] | None:
    """Find the client whose metadata holds this create's idempotency key, if it exists."""
    key = idempotency_key("clients.create", payload)
    if not key:
        raise CannotReconcile("the create carried no idempotency key")
    async for item in _scan(execute, "clients.list", {"search": key}, policy):
        if _metadata(item).get(IDEMPOTENCY_METADATA_KEY) == key:
            return item
    return None


async def find_link(
    execute: Execute, payload: Mapping[str, Any], not_before: float, policy: RetryPolicy
) -> Mapping[str, Any] | None:
    """Find the newest link of the client matching this create's body, made since not_before."""
    found = None
    async for item in _scan(execute, "links.list", {"clientID": payload["clientID"]}, policy):
        if _same_link(item, payload, not_before):
            found = item  # pages come in creation order: the last match is the newest
    return found


async def _scan(
    execute: Execute, operation: str, query: dict[str, Any], policy: RetryPolicy
) -> AsyncIterator[Mapping[str, Any]]:
    """Every record of a list call, following cursors, as raw wire objects."""
    route = ROUTES[operation]

    async def fetch(cursor: str | None) -> tuple[Sequence[Any], str | None]:
        body = {**query, "limit": _PAGE, **({"cursor": cursor} if cursor else {})}
        envelope = await execute(route, body, policy)
        data = envelope["data"]
        return (data if isinstance(data, list) else []), envelope.get("nextCursor")

    async for page in iter_pages(fetch):
        for item in page:
            if isinstance(item, Mapping):
                yield item


def _metadata(item: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = item.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def _same_link(item: Mapping[str, Any], payload: Mapping[str, Any], not_before: float) -> bool:
    if item.get("requestedServices") != payload["requestedServices"]:
        return False
    if any(key in payload and item.get(key) != payload[key] for key in _LINK_OPTIONS):
        return False
    try:
        created = parse_datetime(item.get("createdAt", item.get("created")))
    except (TypeError, ValueError):
        return False
    return created.timestamp() >= not_before


FINDERS: Mapping[str, Finder] = {
    "clients.create": find_client,
    "links.create": find_link,
}
