"""What the account already has: one sweep of its clients and links, for rows a journal lacks.

A row the journal does not know (a first run, a new ``--out``, a lost or
replaced journal, another machine) may have been onboarded all the same.
Looking each such row up would cost a request per row; instead the first
such row sweeps the account's clients and access requests once, in list
pages of the contract's largest size (about N/100 requests for N records,
clients and links listed side by side), into an index that every later
row reads:

- a client is the row's when it carries the row's idempotency key in its
  metadata (the SDK stores one with every client it creates); or, for a row
  whose identity is its e-mail address, when its e-mail address is the
  row's, normalised (``normalised_email``: NFC, no format characters,
  trimmed, lower-cased, an IDN domain in ASCII), and no other row claimed it;
- an access request is the row's when it belongs to that client and asks
  for the same services (and the options the job sets).

Each record is claimed by at most one row, so two rows never share a client.
An idempotency key that two or more clients carry (two runs of one job at
once, with no lease between them) is a duplicate: its row fails, naming the
clients, and is never counted as found (the CLI asks the same once more at
the end of a run without a lease).
"""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Mapping
from typing import Any

import attrs

from .._clients import Clients
from .._errors import CapabilityError
from .._hooks import logger
from .._idempotency import IDEMPOTENCY_METADATA_KEY
from .._links import Links
from .._models import Link, Unset
from .._services import RequestedServices

__all__ = [
    "Existing",
    "Sweep",
    "duplicate_error",
    "email_identity",
    "normalised_email",
    "visible_text",
    "wire_services",
]

#: The contract's largest page: the sweep's cost is records / 100 requests.
_PAGE = 100


def normalised_email(email: str) -> str:
    """An e-mail address as identity compares it: one text for every spelling of one address.

    Its NFC form, without format characters (a byte-order mark, a zero-width
    space or joiner: ``unicodedata`` category ``Cf``), trimmed, lower-cased,
    and with an internationalised domain in its ASCII (IDNA) form, so that
    ``bücher.example`` and ``xn--bcher-kva.example`` are one domain.
    """
    text = visible_text(email).strip().lower()
    local, at, domain = text.rpartition("@")
    if not at or domain.isascii():
        return text
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:  # not a domain IDNA can spell: compared as written
        return text


def visible_text(text: str) -> str:
    """``text`` in NFC, with its format characters (BOM, zero-width space and joiners) removed.

    What a cell that a spreadsheet or a CRM passed through means: the
    characters a reader sees, composed the one way Unicode prefers.
    """
    text = unicodedata.normalize("NFC", text)
    if text.isascii():
        return text
    return "".join(char for char in text if unicodedata.category(char) != "Cf")


def email_identity(email: str) -> str:
    """The row key of a row whose identity is its e-mail address."""
    return "email:" + normalised_email(email)


@attrs.frozen
class _KnownLink:
    link_id: str
    invite_url: str | None
    services: Mapping[str, Any]
    options: Mapping[str, Any]


@attrs.define
class Existing:
    """The account's clients and access requests, indexed by what identifies a row."""

    by_idempotency_key: dict[str, str] = attrs.field(factory=dict)
    #: The idempotency keys two or more clients carry: every client of each.
    duplicates: dict[str, list[str]] = attrs.field(factory=dict)
    by_email: dict[str, list[str]] = attrs.field(factory=dict)
    #: The clients that carry no idempotency key (it was removed), by normalised e-mail.
    keyless_by_email: dict[str, list[str]] = attrs.field(factory=dict)
    links: dict[str, list[_KnownLink]] = attrs.field(factory=dict)
    claimed: set[str] = attrs.field(factory=set)
    requests: int = 0

    def claim_client(
        self, idempotency_key: str, email: str | None, fallback_email: str | None = None
    ) -> str | None:
        """The id of the row's existing client (now claimed), or None.

        ``email`` is given when the row's identity is its e-mail address: any
        client of that address may be the row's. ``fallback_email`` is the
        address of a row identified otherwise: only a client that lost its
        idempotency key (a metadata update removed it) may be found by it.
        """
        if idempotency_key in self.duplicates:
            raise duplicate_error(self.duplicates[idempotency_key])
        found = self.by_idempotency_key.get(idempotency_key)
        if found is None and email is not None:
            candidates = self.by_email.get(normalised_email(email), ())
            found = next((c for c in candidates if c not in self.claimed), None)
        if found is None and fallback_email is not None:
            candidates = self.keyless_by_email.get(normalised_email(fallback_email), ())
            found = next((c for c in candidates if c not in self.claimed), None)
        if found is None or found in self.claimed:
            return None
        self.claimed.add(found)
        return found

    def link_of(
        self, client_id: str, services: Mapping[str, Any], options: Mapping[str, Any]
    ) -> tuple[_KnownLink | None, _KnownLink | None]:
        """(the newest link of the client asking for this, the newest link of the client)."""
        links = self.links.get(client_id, [])
        same = [k for k in links if k.services == services and _options_match(k, options)]
        return (same[-1] if same else None), (links[-1] if links else None)


def _options_match(link: _KnownLink, options: Mapping[str, Any]) -> bool:
    """Whether the link has every option the job sets (an unset option matches anything)."""
    return all(
        isinstance(value, Unset) or link.options.get(name) == value
        for name, value in options.items()
    )


class Sweep:
    """The index of what the account has, built once, by the first row that needs it.

    A key that may not list (403) gets an empty index and one warning: rows
    are then created as before, with the journal as the only guard.
    """

    def __init__(
        self, clients: Clients, links: Links, services: RequestedServices | Mapping[str, Any]
    ) -> None:
        #: The job's requested services, as comparable JSON.
        self.services = wire_services(services)
        self._clients = clients
        self._links = links
        self._lock = asyncio.Lock()
        self._index: Existing | None = None

    async def index(self) -> Existing:
        """The index; the first caller builds it while the others wait."""
        async with self._lock:
            if self._index is None:
                self._index = await self._build()
            return self._index

    async def _build(self) -> Existing:
        """List clients and links side by side (two page streams: half the wall time)."""
        existing = Existing()
        clients = asyncio.ensure_future(self._sweep_clients(existing))
        try:
            await self._sweep_links(existing)
            await clients
        except CapabilityError as error:
            logger.warning(
                "cannot look for clients made by earlier runs (%s): rows the journal does not "
                "know are created without that check",
                error.msg,
            )
            return Existing()
        finally:
            if not clients.done():
                clients.cancel()
                await asyncio.wait([clients])
            if not clients.cancelled():
                clients.exception()  # retrieved: the error raised is the one that counts
        return existing

    async def _sweep_clients(self, existing: Existing) -> None:
        async for page in self._clients.list(limit=_PAGE).pages():
            existing.requests += 1
            for client in page.items:
                key = client.metadata.get(IDEMPOTENCY_METADATA_KEY)
                email = normalised_email(client.email or "")
                if key:
                    first = existing.by_idempotency_key.setdefault(key, client.client_id)
                    if first != client.client_id:
                        existing.duplicates.setdefault(key, [first]).append(client.client_id)
                else:
                    existing.keyless_by_email.setdefault(email, []).append(client.client_id)
                existing.by_email.setdefault(email, []).append(client.client_id)

    async def _sweep_links(self, existing: Existing) -> None:
        async for page in self._links.list(limit=_PAGE).pages():
            existing.requests += 1
            for link in page.items:
                if link.client_id:
                    existing.links.setdefault(link.client_id, []).append(_known(link))


def duplicate_error(client_ids: list[str]) -> ValueError:
    """The error of a row whose identity several clients carry: it is not found, it fails."""
    return ValueError(
        f"duplicate: clients {', '.join(client_ids)} all carry this row's identity (two runs "
        "of this job at once?); delete all but one of them, then run again"
    )


def _known(link: Link) -> _KnownLink:
    options = {
        "intake_form": link.intake_form,
        "send_email": link.send_email,
        "thank_you_message": link.thank_you_message,
        "redirect_url": link.redirect_url,
    }
    return _KnownLink(link.link_id, link.invite_url, link.requested_services.to_json(), options)


def wire_services(services: RequestedServices | Mapping[str, Any]) -> Mapping[str, Any]:
    """Requested services as comparable JSON, however the job gave them."""
    if isinstance(services, RequestedServices):
        return services.to_json()
    return RequestedServices.from_json(services, validate=False).to_json()
