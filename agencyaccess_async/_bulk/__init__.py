"""Bulk helpers: creating, onboarding, and changing what onboarding made.

``session.bulk.create_clients``, ``create_links`` and ``onboard``; after
onboarding, ``update_links`` and ``delete_clients`` (``_changes.py``).

Each takes a sync or async iterable and returns a ``BulkRun`` (``_run.py``):
iterate it for ``ItemResult``s in completion order, or ``await run.run()``
for the summary alone. ``onboard`` makes a client and an access request per
row (``_onboard.py``); with ``journal=PATH`` each row's state is committed as
it changes (``_journal.py``), so a re-run skips finished rows and reconciles
the ones that were in flight instead of creating them twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable, Mapping, Sized
from pathlib import Path
from typing import Any

from .._clients import Clients
from .._converter import CONVERTER
from .._errors import AgencyAccessError, SessionError
from .._http import target_url
from .._idempotency import fingerprint_of, stored_idempotency_key
from .._links import Links
from .._models import Client, Link, NewClient, NewLink, Unset
from .._requester import Requester
from .._resource import invalid_argument
from .._scope import Tenant
from .._services import RequestedServices, advise
from ._changes import ClientDeleter, LinkUpdater
from ._existing import Sweep
from ._journal import Journal, JournalError, JournalLockedError, JournalMismatchError
from ._onboard import Onboarded, Onboarder, OnboardItem
from ._progress import default_progress
from ._run import (
    BulkProgress,
    BulkRun,
    BulkSummary,
    Failed,
    ItemResult,
    Process,
    ProgressCallback,
    Succeeded,
)

__all__ = [
    "Bulk",
    "BulkProgress",
    "BulkRun",
    "BulkSummary",
    "Failed",
    "ItemResult",
    "JournalError",
    "JournalLockedError",
    "JournalMismatchError",
    "OnboardItem",
    "Onboarded",
    "Succeeded",
]


class Bulk:
    """Bulk operations of a Session: ``session.bulk``."""

    def __init__(
        self, requester: Requester, tenant: Tenant, clients: Clients, links: Links
    ) -> None:
        self._requester = requester
        self._tenant = tenant
        self._clients = clients
        self._links = links

    def __repr__(self) -> str:
        return f"<Bulk of {self._requester.shown_url}>"

    def create_clients(
        self,
        items: Iterable[NewClient] | AsyncIterable[NewClient],
        *,
        concurrency: int | None = None,
        total: int | None = None,
        progress: ProgressCallback | bool | None = None,
        key: Callable[[NewClient], str] | None = None,
    ) -> BulkRun[Client]:
        """Create many clients; each carries an idempotency key derived from ``key(item)``.

        With ``key``, each item is looked up by its key first, and a client
        already made with it (by an earlier run, say) is returned instead of
        a new one: re-running the same cell creates nothing twice.
        """

        async def process(index: int, new: NewClient) -> ItemResult[Client]:
            item_key = key(new) if key else fingerprint_of(CONVERTER.unstructure(new))
            try:
                client = await self._clients.create_from(
                    new,
                    idempotency_key=stored_idempotency_key(item_key),
                    lookup_first=key is not None,
                )
            except (AgencyAccessError, ValueError) as error:
                return Failed(index, item_key, error)
            return Succeeded(index, item_key, client)

        return self._run(items, process, concurrency, total, progress)

    def create_links(
        self,
        items: Iterable[NewLink] | AsyncIterable[NewLink],
        *,
        concurrency: int | None = None,
        total: int | None = None,
        progress: ProgressCallback | bool | None = None,
    ) -> BulkRun[Link]:
        """Create many access requests."""

        async def process(index: int, new: NewLink) -> ItemResult[Link]:
            item_key = fingerprint_of(CONVERTER.unstructure(new))
            try:
                link = await self._links.create_from(new)
            except (AgencyAccessError, ValueError) as error:
                return Failed(index, item_key, error)
            return Succeeded(index, item_key, link)

        return self._run(items, process, concurrency, total, progress)

    def onboard(
        self,
        rows: Iterable[OnboardItem | NewClient] | AsyncIterable[OnboardItem | NewClient],
        *,
        services: RequestedServices | Mapping[str, Any],
        send_email: bool | Unset = Unset.UNSET,
        intake_form: bool | Unset = Unset.UNSET,
        thank_you_message: str | Unset | None = Unset.UNSET,
        redirect_url: str | Unset | None = Unset.UNSET,
        journal: str | Path | None = None,
        replace_journal: bool = False,
        key_rotated: bool = False,
        retry_failed: bool = False,
        find_existing: bool = True,
        update_links: bool = False,
        journal_target: str | None = None,
        concurrency: int | None = None,
        total: int | None = None,
        progress: ProgressCallback | bool | None = None,
    ) -> BulkRun[Onboarded]:
        """Create a client and an access request for each row.

        A row's identity is its ``OnboardItem.key``, else its e-mail address
        (trimmed, lower-cased). Before the first row the journal does not know
        is created (every row, with no journal), the account's clients and
        access requests are swept once, in list pages (about one request per
        100 records), and a row whose client and access request exist is
        ``found``, not made again: a lost journal, another machine or a re-run
        notebook cell never duplicates a client. A found client whose access
        request asks for other services is refused, or, with
        ``update_links=True``, has that request updated to ``services`` and
        the options given (``updated``). With ``total`` (the row count), an
        account with more than total/4 pages of clients or links is not
        swept: each row is looked up instead (a request or two), so a small
        job on a large account costs what the job does. ``find_existing=False``
        skips the sweep (the journal is then the only guard). With ``journal``, rows finished
        by an earlier run with the same journal are skipped
        (``outcome == "skipped"``), rows that were in flight are reconciled
        (never created twice), and rows that failed are reported again, or
        retried when ``retry_failed`` is true. ``journal_target`` is what the
        journal records as the server instead of the base URL: for a target
        whose address changes from run to run (the CLI's embedded emulator).

        Raises:
            JournalLockedError: another process is running with this journal.
            JournalMismatchError: the journal belongs to another job, or was written
                against another base URL or with another API key.
                ``replace_journal=True`` sets such a journal aside (renamed)
                and starts a new one; ``key_rotated=True`` accepts a journal of
                another key of the same account (the key was rolled).
            JournalError: the file is not a journal.

        """
        options = {
            "send_email": send_email,
            "intake_form": intake_form,
            "thank_you_message": thank_you_message,
            "redirect_url": redirect_url,
        }
        if not isinstance(services, RequestedServices):
            advise(services, strict=self._requester.strict_services)  # sent as given
        wire = services.to_json() if isinstance(services, RequestedServices) else services
        fingerprint = fingerprint_of([wire, {k: repr(v) for k, v in options.items()}])
        opened = self._journal(
            journal, fingerprint, journal_target, key_rotated, replace=replace_journal
        )
        total = _known_total(rows, total)
        sweep = Sweep(self._clients, self._links, services, total) if find_existing else None
        onboarder = Onboarder(
            self._clients,
            self._links,
            services,
            options,
            opened,
            retry_failed,
            sweep,
            update_links,
        )
        return self._run(
            rows,
            onboarder.process,
            concurrency,
            total,
            progress,
            on_close=onboarder.close,
            requests_per_item=2.0,  # a client and an access request
            resume=_resume(journal, found=find_existing),
        )

    def update_links(
        self,
        link_ids: Iterable[str] | AsyncIterable[str],
        *,
        services: RequestedServices | Mapping[str, Any] | Unset = Unset.UNSET,
        send_email: bool | Unset = Unset.UNSET,
        intake_form: bool | Unset = Unset.UNSET,
        thank_you_message: str | Unset | None = Unset.UNSET,
        redirect_url: str | Unset | None = Unset.UNSET,
        journal: str | Path | None = None,
        journal_target: str | None = None,
        concurrency: int | None = None,
        total: int | None = None,
        progress: ProgressCallback | bool | None = None,
    ) -> BulkRun[Link | None]:
        """Change many access requests' services and options (``links/update``), each once.

        The way to change a finished onboarding job: services that stay keep
        their grant status. With ``journal``, a link whose last journaled
        change is this one is ``skipped`` (value ``None``): running the same
        update again sends nothing, and an interrupted one finishes. One
        journal serves every change to the same links, and a later change
        supersedes an earlier one: A, then B, then A again sends A again.
        """
        changes = {
            "services": services,
            "send_email": send_email,
            "intake_form": intake_form,
            "thank_you_message": thank_you_message,
            "redirect_url": redirect_url,
        }
        if all(isinstance(value, Unset) for value in changes.values()):
            raise invalid_argument("changes", "update_links needs at least one thing to change")
        wire = services.to_json() if isinstance(services, RequestedServices) else services
        change = fingerprint_of(
            ["links.update", repr(wire), {k: repr(v) for k, v in changes.items()}]
        )
        opened = self._journal(journal, "links.update", journal_target)
        updater = LinkUpdater(self._links, changes, change, opened)
        return self._run(link_ids, updater.process, concurrency, total, progress,
                         on_close=opened.close if opened is not None else None,
                         resume=_resume(journal, found=True))  # fmt: skip

    def delete_clients(
        self,
        client_ids: Iterable[str] | AsyncIterable[str],
        *,
        journal: str | Path | None = None,
        journal_target: str | None = None,
        concurrency: int | None = None,
        total: int | None = None,
        progress: ProgressCallback | bool | None = None,
    ) -> BulkRun[str]:
        """Delete many clients, and with them their access requests; each once.

        Outcomes: ``deleted``; ``gone`` (the server did not know it: deleted
        already); ``skipped`` (done by an earlier run of this journal).
        """
        opened = self._journal(journal, "clients.delete", journal_target)
        deleter = ClientDeleter(self._clients, opened)
        return self._run(client_ids, deleter.process, concurrency, total, progress,
                         on_close=opened.close if opened is not None else None,
                         resume=_resume(journal, found=True))  # fmt: skip

    def _journal(
        self,
        path: str | Path | None,
        fingerprint: str,
        target: str | None,
        key_rotated: bool = False,
        *,
        replace: bool = False,
    ) -> Journal | None:
        """The job's journal, tied to its target and key (None without a path)."""
        if path is None:
            return None
        key = self._tenant.keys.last
        if key is None:
            raise SessionError(
                "a journal is tied to the API key, and the key provider has not been "
                "read yet: make one call first (e.g. clients.list().page())"
            )
        return Journal(
            path,
            fingerprint,
            base_url=target or target_url(self._requester.base_url),
            key_hash=key.fingerprint,
            key_rotated=key_rotated,
            replace=replace,
        )

    def _run(
        self,
        items: Iterable[Any] | AsyncIterable[Any],
        process: Process,
        concurrency: int | None,
        total: int | None,
        progress: ProgressCallback | bool | None,
        on_close: Callable[[], None] | None = None,
        requests_per_item: float = 1.0,
        resume: str = "Run it again for the items left.",
    ) -> BulkRun[Any]:
        total = _known_total(items, total)
        return BulkRun(
            self._requester.stats,
            items,
            process,
            concurrency=concurrency or self._tenant.limiter.max_concurrency,
            total=total,
            progress=default_progress(total) if progress is True else (progress or None),
            on_close=on_close,
            limiter=self._tenant.limiter,
            requests_per_item=requests_per_item,
            resume=resume,
        )


def _resume(journal: str | Path | None, *, found: bool) -> str:
    """How to go on after an interruption, for its message."""
    if journal is not None:
        return f"Run the same call again (journal={str(journal)!r}) to go on where it stopped."
    if found:
        return "Run the same call again: what was done is found on the server, not done twice."
    return "Run it again for the items left."


def _known_total(items: object, total: int | None) -> int | None:
    """``total``, or a list's length: progress then shows a total and an ETA."""
    return len(items) if total is None and isinstance(items, Sized) else total
