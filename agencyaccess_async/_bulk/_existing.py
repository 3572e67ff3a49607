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

The sweep's cost follows the account; a job's, its rows. So a job that
knows its row count R lists at most R/4 pages (at least one) of either
kind: an account with more is not swept, and each row is looked up instead
(``search`` matches a client's exact metadata value, so its idempotency
key finds it in one request; its e-mail address, in one more when that
fails; its access requests, by its id, when a client is found). Either
way the cost is within a small factor of the cheaper way, and memory
follows the job (an index of at most 25 records a row), not the account.
An idempotency key that two or more clients carry (two runs of one job at
once, with no lease between them) is a duplicate: its row fails, naming the
clients, and is never counted as found (the CLI asks the same once more at
the end of a run without a lease).
"""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import AsyncIterator, Mapping
from typing import Any, TypeVar

import attrs

from .._clients import Clients
from .._contract import LIST_LIMIT_MAX
from .._errors import CapabilityError
from .._hooks import logger
from .._links import Links
from .._models import Client, Link, Page, Unset
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

T = TypeVar("T")

#: The contract's largest page: the sweep's cost is records / 100 requests.


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
    #: Set when the account was too large to sweep: each row is looked up instead.
    lookup: _Lookup | None = None

    async def claim_client(
        self, idempotency_key: str, email: str | None, fallback_email: str | None = None
    ) -> str | None:
        """The id of the row's existing client (now claimed), or None.

        ``email`` is given when the row's identity is its e-mail address: any
        client of that address may be the row's. ``fallback_email`` is the
        address of a row identified otherwise: only a client that lost its
        idempotency key (a metadata update removed it) may be found by it.
        """
        if self.lookup is not None:
            await self.lookup.client(self, idempotency_key, email or fallback_email)
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

    async def link_of(
        self, client_id: str, services: Mapping[str, Any], options: Mapping[str, Any]
    ) -> tuple[_KnownLink | None, _KnownLink | None]:
        """(the newest link of the client asking for this, the newest link of the client)."""
        if self.lookup is not None:
            links = await self.lookup.links_of(client_id)
        else:
            links = self.links.get(client_id, [])
        same = [k for k in links if k.services == services and _options_match(k, options)]
        return (same[-1] if same else None), (links[-1] if links else None)


@attrs.define
class _Lookup:
    """Rows looked up one by one, for an account too large to sweep for this job."""

    clients: Clients
    links: Links

    async def client(self, existing: Existing, idempotency_key: str, email: str | None) -> None:
        """Index the clients that may be this row's: by its key, else by its e-mail address.

        What is found goes into ``existing``'s index (and is dropped from it
        once claimed), so the same rules decide as after a sweep.
        """
        found = await self._index(existing, idempotency_key)
        if not found and email:
            await self._index(existing, email)

    async def _index(self, existing: Existing, search: str) -> bool:
        """Index the first page of clients ``search`` matches; whether any came back."""
        page = await self.clients.list(limit=LIST_LIMIT_MAX, search=search).page()
        existing.requests += 1
        for client in page.items:
            _index_client(existing, client)
        return bool(page.items)

    async def links_of(self, client_id: str) -> list[_KnownLink]:
        page = await self.links.list(limit=LIST_LIMIT_MAX, client_id=client_id).page()
        return [_known(link) for link in page.items if link.client_id == client_id]


def _index_client(existing: Existing, client: Client) -> None:
    """Put one client into the index, noting a second client with one idempotency key."""
    key = client.idempotency_key
    email = normalised_email(client.email or "")
    if key:
        first = existing.by_idempotency_key.setdefault(key, client.client_id)
        if first != client.client_id and client.client_id not in existing.duplicates.get(key, []):
            existing.duplicates.setdefault(key, [first]).append(client.client_id)
    else:
        _add_once(existing.keyless_by_email.setdefault(email, []), client.client_id)
    _add_once(existing.by_email.setdefault(email, []), client.client_id)


def _add_once(ids: list[str], client_id: str) -> None:
    if client_id not in ids:
        ids.append(client_id)


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
        self,
        clients: Clients,
        links: Links,
        services: RequestedServices | Mapping[str, Any],
        rows: int | None = None,
    ) -> None:
        #: The job's requested services, as comparable JSON.
        self.services = wire_services(services)
        self._clients = clients
        self._links = links
        # The most pages of either kind worth listing: past them, rows are looked up.
        self._budget = max(1, rows // 4) if rows is not None else None
        self._lock = asyncio.Lock()
        self._index: Existing | None = None

    def _within_budget(self, number: int, page: Page[Any]) -> None:
        """Stop the sweep when a page past the budget would follow: rows are looked up instead."""
        if self._budget is not None and number >= self._budget and page.next_cursor:
            raise _TooLarge

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
        except _TooLarge:
            return Existing(requests=existing.requests, lookup=_Lookup(self._clients, self._links))
        except CapabilityError as error:
            logger.warning(
                "cannot look for clients made by earlier runs (%s): rows the journal does not "
                "know are created without that check",
                error.message,
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
        async for number, page in _numbered(self._clients.list(limit=LIST_LIMIT_MAX).pages()):
            existing.requests += 1
            for client in page.items:
                _index_client(existing, client)
            self._within_budget(number, page)

    async def _sweep_links(self, existing: Existing) -> None:
        async for number, page in _numbered(self._links.list(limit=LIST_LIMIT_MAX).pages()):
            existing.requests += 1
            for link in page.items:
                if link.client_id:
                    existing.links.setdefault(link.client_id, []).append(_known(link))
            self._within_budget(number, page)


def duplicate_error(client_ids: list[str]) -> ValueError:
    """The error of a row whose identity several clients carry: it is not found, it fails."""
    return ValueError(
        f"duplicate: clients {', '.join(client_ids)} all carry this row's identity (two runs "
        "of this job at once?); delete all but one of them, then run again"
    )


class _TooLarge(Exception):
    """The account has more pages than looking the job's rows up would cost."""


async def _numbered(pages: AsyncIterator[T]) -> AsyncIterator[tuple[int, T]]:
    number = 0
    async for page in pages:
        number += 1
        yield number, page


def _known(link: Link) -> _KnownLink:
    options = {
        "intake_form": link.intake_form,
        "send_email": link.send_email,
        "thank_you_message": link.thank_you_message,
        "redirect_url": link.redirect_url,
    }
    return _KnownLink(link.link_id, link.invite_url, link.services.to_json(), options)


def wire_services(services: RequestedServices | Mapping[str, Any]) -> Mapping[str, Any]:
    """Requested services as comparable JSON, however the job gave them."""
    if isinstance(services, RequestedServices):
        return services.to_json()
    return RequestedServices.from_json(services, validate=False).to_json()
