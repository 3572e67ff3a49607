"""Reconciliation: finding the record that a create with an unknown outcome may have made.

When a create's answer is lost (read timeout, dropped connection, 502), the
record may or may not exist. Resending blindly risks a duplicate; giving up
risks a silent loss. Instead the Session asks a finder here:

- clients: every create carries a client-generated key in ``metadata``
  (``IDEMPOTENCY_METADATA_KEY``); the finder searches ``clients/list`` for it,
  which matches exact metadata values;
- links: the finder lists the client's links (``links/list`` with
  ``clientID``) and takes the newest with the same requested services and
  options created since the call began (minus a clock-skew allowance).

A finder returns the record's wire object, ``None`` when provably absent, or
raises when it cannot tell (the Session then raises ``OutcomeUnknownError``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from ._converter import parse_datetime
from ._errors import AgencyAccessError
from ._retry import RetryPolicy
from ._routes import ROUTES

if TYPE_CHECKING:
    from ._session import Session

__all__ = ["FINDERS", "IDEMPOTENCY_METADATA_KEY", "idempotency_key"]

#: The metadata key under which ``clients.create`` stores its idempotency key.
IDEMPOTENCY_METADATA_KEY = "agencyaccess_idempotency_key"
#: How far the server's clock may lag ours when matching a link's createdAt.
CLOCK_SKEW = 300.0
_LINK_OPTIONS = ("intakeForm", "sendEmail", "thankYouMessage", "redirectURL")
_PAGE = 100

Finder = Callable[["Session", Mapping[str, Any], float, RetryPolicy], Awaitable[Any]]


class CannotReconcile(AgencyAccessError):
    """The finder has nothing to search by."""


def idempotency_key(operation: str, payload: Mapping[str, Any]) -> str | None:
    """The idempotency key a create's body carries, if any."""
    if operation != "clients.create":
        return None
    metadata = payload.get("metadata")
    return metadata.get(IDEMPOTENCY_METADATA_KEY) if isinstance(metadata, Mapping) else None


async def find_client(
    session: Session, payload: Mapping[str, Any], not_before: float, policy: RetryPolicy
) -> Mapping[str, Any] | None:
    """Find the client whose metadata holds this create's idempotency key, if it exists."""
    key = idempotency_key("clients.create", payload)
    if not key:
        raise CannotReconcile("the create carried no idempotency key")
    async for item in _scan(session, "clients.list", {"search": key}, policy):
        if _metadata(item).get(IDEMPOTENCY_METADATA_KEY) == key:
            return item
    return None


async def find_link(
    session: Session, payload: Mapping[str, Any], not_before: float, policy: RetryPolicy
) -> Mapping[str, Any] | None:
    """Find the newest link of the client matching this create's body, made since not_before."""
    found = None
    async for item in _scan(session, "links.list", {"clientID": payload["clientID"]}, policy):
        if _same_link(item, payload, not_before):
            found = item  # pages come in creation order: the last match is the newest
    return found


async def _scan(
    session: Session, operation: str, query: dict[str, Any], policy: RetryPolicy
) -> AsyncIterator[Mapping[str, Any]]:
    """Every record of a list call, following cursors, as raw wire objects."""
    query = {**query, "limit": _PAGE}
    while True:
        envelope = (await session._execute(ROUTES[operation], query, retry=policy))[0]
        for item in envelope["data"]:
            if isinstance(item, Mapping):
                yield item
        cursor = envelope.get("nextCursor")
        if not cursor:
            return
        query["cursor"] = cursor


def _metadata(item: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = item.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def _same_link(item: Mapping[str, Any], payload: Mapping[str, Any], not_before: float) -> bool:
    if item.get("requestedServices") != payload["requestedServices"]:
        return False
    if any(key in payload and item.get(key) != payload[key] for key in _LINK_OPTIONS):
        return False
    try:
        created = parse_datetime(item.get("createdAt"))
    except (TypeError, ValueError):
        return False
    return created.timestamp() >= not_before


FINDERS: Mapping[str, Finder] = {
    "clients.create": find_client,
    "links.create": find_link,
}
