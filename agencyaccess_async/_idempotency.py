"""Idempotency: the keys a create carries, and how to find the record a create may have made.

When a create's answer is lost (read timeout, dropped connection, 502), the
record may or may not exist. Resending blindly risks a duplicate; giving up
risks a silent loss. Instead the request loop asks ``lookup_for`` where the
record would be, and searches list pages for it:

- clients: every create carries a key in ``metadata``
  (``IDEMPOTENCY_METADATA_KEY``); the lookup searches ``clients/list`` for it,
  which matches exact metadata values;
- links: the lookup lists the client's links (``links/list`` with
  ``clientID``) and takes the newest with the same requested services and
  options created since the call began, on the server's clock (its ``Date``
  header, as the request loop last saw it): the local clock, however wrong,
  never decides. Without a server clock, the newest such link is taken.

A ``Lookup`` is plain data (a route, a query, a match): this module does no
I/O and sits below everything that sends.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import secrets
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ._converter import parse_datetime
from ._errors import AgencyAccessError
from ._models import IDEMPOTENCY_METADATA_KEY
from ._routes import CLIENTS_LIST, LINKS_LIST, PagedRoute

__all__ = [
    "DATE_MARGIN",
    "IDEMPOTENCY_METADATA_KEY",
    "CannotReconcile",
    "Lookup",
    "stored_idempotency_key",
    "generated_key",
    "idempotency_key",
    "lookup_for",
    "fingerprint_of",
]

#: How much earlier than the call's start, on the server's clock, a link it made may say
#: it was created: the Date header counts whole seconds, and the server stamps a record
#: a moment before it answers.
DATE_MARGIN = 5.0
_LINK_OPTIONS = ("intakeForm", "sendEmail", "thankYouMessage", "redirectURL")


class CannotReconcile(AgencyAccessError):
    """The create carries nothing to search by."""


@attrs.frozen
class Lookup:
    """Where a create's record would be, and how to know it: list ``route`` with ``query``.

    ``match`` tells the record among the listed ones; with ``newest``, the
    last match wins (pages come in creation order), else the first.
    """

    route: PagedRoute[Mapping[str, Any], Mapping[str, Any]]
    query: Mapping[str, Any]
    match: Callable[[Mapping[str, Any]], bool]
    newest: bool = False


_RAW_CLIENTS_LIST = CLIENTS_LIST.raw()
_RAW_LINKS_LIST = LINKS_LIST.raw()


#: Makes the idempotency key of a create given none: 128 random bits, hex. Read
#: through the module at each create, so a test may put a deterministic source here.
generated_key: Callable[[], str] = functools.partial(secrets.token_hex, 16)


def fingerprint_of(payload: Any) -> str:
    """An item's fingerprint: a hash of its canonical JSON (its identity when it has none)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def stored_idempotency_key(key: str) -> str:
    """The idempotency key stored for a bulk item's identity.

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


def lookup_for(
    operation: str,
    payload: Mapping[str, Any],
    not_before: Callable[[], float] = lambda: -math.inf,
) -> Lookup | None:
    """The lookup that finds what a create of ``payload`` made; None for other operations.

    ``not_before`` gives, when a link is matched, the earliest (epoch seconds
    on the server's clock) a link made by this create can have been created:
    read late, so that the lookup's own answers can tell the server's time.
    Raises ``CannotReconcile`` for a client create that carried no
    idempotency key.
    """
    if operation == "clients.create":
        key = idempotency_key(operation, payload)
        if not key:
            raise CannotReconcile("the create carried no idempotency key")
        return Lookup(
            _RAW_CLIENTS_LIST,
            {"search": key},
            lambda item: _metadata(item).get(IDEMPOTENCY_METADATA_KEY) == key,
        )
    if operation == "links.create":
        return Lookup(
            _RAW_LINKS_LIST,
            {"clientID": payload["clientID"]},
            lambda item: _same_link(item, payload, not_before()),
            newest=True,
        )
    return None


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
