"""Onboarding: a client and an access request per row, each step journaled before it is sent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .._clients import Clients
from .._converter import CONVERTER
from .._errors import AgencyAccessError
from .._idempotency import derived_key, row_key
from .._links import Links
from .._models import Client, Link, NewClient, NewLink
from .._services import RequestedServices
from ._journal import Journal, JournalRow
from ._run import Failed, ItemResult, Succeeded

__all__ = ["OnboardItem", "Onboarded", "Onboarder"]


@attrs.frozen
class OnboardItem:
    """One row to onboard: the client to create and a stable key for the journal.

    Without a ``key``, a hash of the client's fields is used. ``row`` is the
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

    ``client`` and ``link`` are the full records when created in this run,
    ``None`` when the row was finished by an earlier run (the ids remain).
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

    async def process(self, index: int, row: OnboardItem | NewClient) -> ItemResult[Onboarded]:
        item = row if isinstance(row, OnboardItem) else OnboardItem(row)
        key = item.key or row_key(CONVERTER.unstructure(item.client))
        position = item.row if item.row is not None else index
        saved = self._journal.get(key) if self._journal is not None else None
        if saved is not None:
            earlier = self._from_journal(index, position, saved)
            if earlier is not None:
                return earlier
        # A row the journal has seen before may have been created already, and
        # so may a row with a key of its own when there is no journal to ask
        # (a re-run notebook cell): every create of it is preceded by a lookup.
        resuming = saved is not None or (self._journal is None and item.key is not None)
        state = saved or JournalRow(key, position, self._run_id, "new", derived_key(key))
        state.index, state.run, state.error = position, self._run_id, None
        try:
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

    @property
    def _run_id(self) -> str:
        return self._journal.run if self._journal is not None else ""

    def _from_journal(
        self, index: int, position: int, saved: JournalRow
    ) -> ItemResult[Onboarded] | None:
        """The result of a row the journal already settled, or None if it still needs work."""
        if saved.run == self._run_id and saved.index != position:
            error = ValueError(f"duplicate of row {saved.index} (same key {saved.key})")
            return Failed(index, saved.key, error, outcome="invalid")
        if saved.state in ("done", "failed", "invalid"):
            # Claim the row for this run, so that a later duplicate of it is caught.
            saved.run, saved.index = self._run_id, position
            self._save(saved)
        if saved.state == "done":
            done = Onboarded(saved.client_id or "", saved.link_id, saved.invite_url)
            return Succeeded(index, saved.key, done, outcome="skipped")
        if saved.state in ("failed", "invalid") and not self._retry_failed:
            error = ValueError(saved.error or "failed in an earlier run")
            partial = Onboarded(saved.client_id) if saved.client_id else None
            return Failed(index, saved.key, error, partial, saved.state)
        return None

    async def _client(self, item: OnboardItem, state: JournalRow, resuming: bool) -> Client | None:
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

    async def _link(self, item: OnboardItem, state: JournalRow, resuming: bool) -> Link:
        """Create the row's access request (or find the one an earlier run made)."""
        assert state.client_id is not None
        services = item.services or self._services
        new = NewLink(client_id=state.client_id, requested_services=services, **self._options)
        state.state = "link_pending"
        await self._write_ahead(state)
        if resuming:
            found = await self._links.find_like(new)
            if found is not None:
                return found
        return await self._links.create_from(new)

    def _save(self, state: JournalRow) -> None:
        """Keep a state whose loss a re-run repairs (written with the next group)."""
        if self._journal is not None:
            self._journal.note(state)

    async def _write_ahead(self, state: JournalRow) -> None:
        """Commit a state before the create it announces is sent."""
        if self._journal is not None:
            await self._journal.write_ahead(state)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
