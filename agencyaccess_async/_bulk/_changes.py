"""Changing what onboarding made: access requests updated, clients deleted, each once.

Both are idempotent on the server (the same update twice gives the same
record; a deleted client is gone), so a journal here only has to remember
what is finished: a second identical run sends nothing, and an interrupted
one, run again, sends what is left. Each finished state is committed (in
group commits, one per turn of the event loop) before the next row is
taken, so a killed run resends at most the requests that were in flight.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .._clients import Clients
from .._errors import AgencyAccessError, NotFoundError
from .._links import Links
from .._models import Link
from ._journal import Journal, JournalEntry
from ._run import Failed, ItemResult, Succeeded

__all__ = ["ClientDeleter", "LinkUpdater"]


@attrs.define
class LinkUpdater:
    """One access request changed to the job's services and options, unless already done.

    A journal serves every change to the same links: each entry records the
    fingerprint of the last change applied to its link (in its
    ``idempotency_key``, which is what makes an update idempotent), and a link
    is skipped only when that last change is this one. So A, then B, then A
    again puts A back, and a journal never vouches for a change that a later
    one replaced.
    """

    _links: Links
    _changes: Mapping[str, Any]
    _change: str
    _journal: Journal | None

    async def process(self, index: int, link_id: str) -> ItemResult[Link | None]:
        state = _state(self._journal, link_id, index)
        if state.state == "done" and state.idempotency_key == self._change:
            return Succeeded(index, link_id, None, outcome="skipped")
        state.idempotency_key = self._change
        try:
            link = await self._links.update(link_id, **self._changes)
        except (AgencyAccessError, ValueError) as error:
            await _commit(self._journal, state, "failed", error)
            return Failed(index, link_id, error)
        await _commit(self._journal, state, "done")
        return Succeeded(index, link_id, link, outcome="updated")


@attrs.define
class ClientDeleter:
    """One client deleted (and with it its access requests), unless already gone."""

    _clients: Clients
    _journal: Journal | None

    async def process(self, index: int, client_id: str) -> ItemResult[str]:
        state = _state(self._journal, client_id, index)
        if state.state == "done":
            return Succeeded(index, client_id, client_id, outcome="skipped")
        try:
            await self._clients.delete(client_id)
            outcome = "deleted"
        except NotFoundError:
            outcome = "gone"  # deleted by someone else, or by a run whose answer was lost
        except (AgencyAccessError, ValueError) as error:
            await _commit(self._journal, state, "failed", error)
            return Failed(index, client_id, error)
        await _commit(self._journal, state, "done")
        return Succeeded(index, client_id, client_id, outcome=outcome)


def _state(journal: Journal | None, key: str, index: int) -> JournalEntry:
    saved = journal.get(key) if journal is not None else None
    return saved or JournalEntry(key, index, journal.run if journal else "", "new", "")


async def _commit(
    journal: Journal | None, state: JournalEntry, to: str, error: BaseException | None = None
) -> None:
    if journal is not None:
        state.state, state.error = to, (str(error) if error is not None else None)
        await journal.write_ahead(state)
