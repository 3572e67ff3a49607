"""Onboarding: a client and an access request per row, each step journaled before it is sent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from .._clients import Clients
from .._errors import AgencyAccessError
from .._idempotency import stored_idempotency_key
from .._links import Links
from .._models import Client, Link, NewClient, NewLink
from .._scratch import scratch_db
from .._services import RequestedServices
from ._existing import Sweep, email_identity, wire_services
from ._journal import DONE_STATES, Journal, JournalEntry
from ._run import Failed, ItemResult, Succeeded

if TYPE_CHECKING:
    import sqlite3

__all__ = ["OnboardItem", "Onboarded", "Onboarder"]


@attrs.frozen
class OnboardItem:
    """One row to onboard: the client to create and a stable key for the journal.

    The ``key`` is the row's identity: two items with one key are one client.
    Without one, it is the client's e-mail address, trimmed and lower-cased
    (so a changed name or a stray space never makes a second client); give
    a key of your own (a CRM id, say) where one address stands for several
    clients. ``row`` is the
    caller's own row number (e.g. the CSV line), recorded in the journal and
    used in messages; it defaults to the item's position. ``services``
    overrides the run's requested services for this row.
    """

    client: NewClient
    key: str | None = None
    row: int | None = None
    services: RequestedServices | Mapping[str, Any] | None = None


@attrs.frozen
class Onboarded:
    """An onboarded row: the client, its access request and the invite URL.

    ``client`` and ``link`` are the full records when created (or updated)
    in this run, ``None`` when the row was finished by an earlier run or
    found already made (the ids remain).
    """

    client_id: str
    link_id: str | None = None
    invite_url: str | None = None
    client: Client | None = None
    link: Link | None = None


@attrs.define
class Onboarder:
    """One row's journey: client, then access request, each step journaled before it is sent."""

    _clients: Clients
    _links: Links
    _services: RequestedServices | Mapping[str, Any]
    _options: dict[str, Any]
    _journal: Journal | None
    _retry_failed: bool
    _sweep: Sweep | None = None
    _update_links: bool = False
    #: Without a journal, the row that first had each key in this run: a second row with
    #: it is a duplicate, caught before either awaits anything. With one, each row claims
    #: its key in the journal instead. Both are indexed tables on disk, not a dict that
    #: grows with the rows.
    _first_rows: _FirstRows = attrs.field(factory=lambda: _FirstRows())

    async def process(self, index: int, row: OnboardItem | NewClient) -> ItemResult[Onboarded]:
        item = row if isinstance(row, OnboardItem) else OnboardItem(row)
        key = item.key or email_identity(item.client.email)
        position = item.row if item.row is not None else index
        if self._journal is None:
            first = self._first_rows.first(key, position)
            if first != position:
                return Failed(index, key, _duplicate(first, key), outcome="invalid")
        saved = self._journal.get(key) if self._journal is not None else None
        if saved is not None and self._refused_for_other_services(saved):
            saved = None  # with update_links, it goes through the sweep's path again
        elif saved is not None:
            earlier = self._from_journal(index, position, saved)
            if earlier is not None:
                return earlier
        # A row the journal has seen before may have been created already: every
        # create of it is preceded by a lookup. A row it has not seen is looked
        # for in the sweep of the account's records (or, with no sweep and no
        # journal, looked up when it has a key of its own).
        resuming = saved is not None or (
            self._sweep is None and self._journal is None and item.key is not None
        )
        state = saved or JournalEntry(
            key, position, self._run_id, "new", stored_idempotency_key(key)
        )
        state.index, state.run, state.error = position, self._run_id, None
        self._save(state)  # claimed for this run: a later row with its key is a duplicate
        try:
            if saved is None and self._sweep is not None:
                found = await self._existing(index, item, state)
                if found is not None:
                    return found
            client = await self._client(item, state, resuming)
            link = await self._link(item, state, resuming)
        except (AgencyAccessError, ValueError) as error:
            state.state, state.error = "failed", _one_line(error)
            self._save(state)
            value = Onboarded(state.client_id) if state.client_id else None
            return Failed(index, key, error, value)
        state.state, state.link_id, state.invite_url = "done", link.link_id, link.invite_url
        self._save(state)
        value = Onboarded(state.client_id or "", link.link_id, link.invite_url, client, link)
        return Succeeded(index, key, value)

    def close(self) -> None:
        """End the run: close the journal, or remove the table of keys seen."""
        if self._journal is not None:
            self._journal.close()
        self._first_rows.close()

    @property
    def _run_id(self) -> str:
        return self._journal.run if self._journal is not None else ""

    def _from_journal(
        self, index: int, position: int, saved: JournalEntry
    ) -> ItemResult[Onboarded] | None:
        """The result of a row the journal already settled, or None if it still needs work."""
        if saved.run == self._run_id and saved.index != position:
            return Failed(index, saved.key, _duplicate(saved.index, saved.key), outcome="invalid")
        if saved.state in (*DONE_STATES, "failed", "invalid"):
            # Claim the row for this run, so that a later duplicate of it is caught.
            saved.run, saved.index = self._run_id, position
            self._save(saved)
        if saved.state in DONE_STATES:
            done = Onboarded(saved.client_id or "", saved.link_id, saved.invite_url)
            return Succeeded(index, saved.key, done, outcome="skipped")
        if saved.state in ("failed", "invalid") and not self._retry_failed:
            error = ValueError(saved.error or "failed in an earlier run")
            partial = Onboarded(saved.client_id) if saved.client_id else None
            return Failed(index, saved.key, error, partial, saved.state, earlier=True)
        return None

    def _refused_for_other_services(self, saved: JournalEntry) -> bool:
        """Whether ``update_links`` should take up a row refused for a link of other services."""
        return (
            self._update_links
            and saved.state == "failed"
            and saved.client_id is not None
            and saved.link_id is None
        )

    async def _existing(
        self, index: int, item: OnboardItem, state: JournalEntry
    ) -> ItemResult[Onboarded] | None:
        """The row's result if the account already has its records; None if work remains.

        A found client without an access request gets one made as usual
        (``state`` then holds the client); a found client whose access request
        asks for other services has it updated with ``update_links``, and is
        refused otherwise: a second invite is never made beside the first.
        """
        assert self._sweep is not None
        existing = await self._sweep.index()
        by_email = state.key == email_identity(item.client.email)
        client_id = await existing.claim_client(
            state.idempotency_key,
            item.client.email if by_email else None,
            fallback_email=None if by_email else item.client.email,
        )
        if client_id is None:
            return None
        state.state, state.client_id = "client_created", client_id
        services = wire_services(item.services) if item.services else self._sweep.services
        same, newest = await existing.link_of(client_id, services, self._options)
        if same is not None:
            state.state, state.link_id, state.invite_url = "found", same.link_id, same.invite_url
            self._save(state)
            return Succeeded(
                index, state.key, Onboarded(client_id, same.link_id, same.invite_url), "found"
            )
        if newest is None:
            return None  # the client is there, its access request is not: make it
        if not self._update_links:
            raise ValueError(
                f"client {client_id} already has access request {newest.link_id}, for other "
                "services or options: update it with update_links=True (CLI: --update-links)"
            )
        link = await self._links.update(
            newest.link_id, services=item.services or self._services, **self._options
        )
        invite_url = link.invite_url or newest.invite_url
        state.state, state.link_id, state.invite_url = "updated", link.link_id, invite_url
        self._save(state)
        return Succeeded(
            index, state.key, Onboarded(client_id, link.link_id, invite_url, None, link), "updated"
        )

    async def _client(
        self, item: OnboardItem, state: JournalEntry, resuming: bool
    ) -> Client | None:
        """Create the row's client (or find the one an earlier run made); None if known."""
        if state.client_id is not None:
            return None
        state.state = "pending"
        await self._write_ahead(state)
        clients = self._clients
        client = await clients.find_by_idempotency_key(state.idempotency_key) if resuming else None
        if client is None:
            client = await clients.create_from(
                item.client, idempotency_key=state.idempotency_key, lookup_first=False
            )
        state.state, state.client_id = "client_created", client.client_id
        self._save(state)
        return client

    async def _link(self, item: OnboardItem, state: JournalEntry, resuming: bool) -> Link:
        """Create the row's access request (or find the one an earlier run made)."""
        assert state.client_id is not None
        services = item.services or self._services
        new = NewLink(client_id=state.client_id, services=services, **self._options)
        state.state = "link_pending"
        await self._write_ahead(state)
        if resuming:
            found = await self._links.find_like(new)
            if found is not None:
                return found
        return await self._links.create_from(new)

    def _save(self, state: JournalEntry) -> None:
        """Keep a state whose loss a re-run repairs (written with the next group)."""
        if self._journal is not None:
            self._journal.note(state)

    async def _write_ahead(self, state: JournalEntry) -> None:
        """Commit a state before the create it announces is sent."""
        if self._journal is not None:
            await self._journal.write_ahead(state)


def _duplicate(first: int, key: str) -> ValueError:
    if key.startswith("email:"):
        return ValueError(
            f"duplicate of row {first} (same e-mail address; give each row its own key, "
            "e.g. an external_id)"
        )
    return ValueError(f"duplicate of row {first} (same key {key})")


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


class _FirstRows:
    """Which row first had each key in a run without a journal: a scratch SQLite file.

    Made on first use and removed on close; its page cache is the memory it
    takes, whatever the number of rows.
    """

    def __init__(self) -> None:
        self._db: sqlite3.Connection | None = None

    def first(self, key: str, position: int) -> int:
        """The row that first had ``key`` in this run (``position`` if none had)."""
        if self._db is None:
            self._db = scratch_db("seen (key TEXT PRIMARY KEY, position INTEGER)")
        self._db.execute("INSERT OR IGNORE INTO seen VALUES (?, ?)", (key, position))
        found = self._db.execute("SELECT position FROM seen WHERE key = ?", (key,)).fetchone()
        return int(found[0])

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
