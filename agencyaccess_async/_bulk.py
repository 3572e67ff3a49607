"""Bulk helpers: bounded fan-out over many items, streaming one result per item.

``session.bulk.create_clients``, ``create_links`` and ``onboard`` (a client
plus an access request per row) take a sync or async iterable, consumed
lazily by a fixed pool of workers (never a task per item), and return a
``BulkRun``: iterate it for ``ItemResult``s in completion order, or
``await run.run()`` for the summary alone. One failing item never stops the
others; cancelling the iteration stops the workers and keeps what finished.

With ``journal=PATH`` (``onboard``), each row's state is committed as it
changes, so a re-run skips finished rows and reconciles the ones that were in
flight instead of creating them twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
)
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

from . import _reconcile
from ._converter import CONVERTER
from ._errors import AgencyAccessError
from ._journal import Journal, JournalRow
from ._models import Client, Link, NewClient, NewLink, Unset
from ._routes import ROUTES
from ._services import RequestedServices, advise

if TYPE_CHECKING:
    from ._session import Session

__all__ = [
    "Bulk",
    "BulkProgress",
    "BulkRun",
    "BulkSummary",
    "ItemResult",
    "OnboardItem",
    "Onboarded",
    "row_key",
]

T = TypeVar("T")

_END = object()


@attrs.frozen
class ItemResult(Generic[T]):
    """The result of one item: its position and key, and either a value or an error.

    ``outcome`` is ``created``, ``skipped`` (finished by an earlier run of the
    same journal), ``failed`` or ``invalid`` (refused before sending).
    """

    index: int
    key: str
    value: T | None = None
    error: BaseException | None = None
    outcome: str = "created"

    @property
    def ok(self) -> bool:
        """Whether the item succeeded (now or in an earlier run)."""
        return self.error is None


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


@attrs.frozen
class BulkProgress:
    """Where a bulk run is: items finished and failed, the total if known, the pace."""

    done: int
    failed: int
    total: int | None
    elapsed: float

    @property
    def rate(self) -> float:
        """Items finished per second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0


@attrs.define
class BulkSummary:
    """Counts by outcome, time taken, and the Session's requests, retries and 429s meanwhile."""

    outcomes: dict[str, int] = attrs.field(factory=dict)
    elapsed: float = 0.0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    reconciled: int = 0
    interrupted: bool = False

    @property
    def total(self) -> int:
        """Items finished, whatever their outcome."""
        return sum(self.outcomes.values())

    @property
    def failed(self) -> int:
        """Items that failed or were refused as invalid."""
        return self.outcomes.get("failed", 0) + self.outcomes.get("invalid", 0)


Process = Callable[[int, Any], Awaitable[ItemResult[Any]]]
ProgressCallback = Callable[[BulkProgress], object]


class BulkRun(Generic[T]):
    """A bulk operation in progress; iterate it once for per-item results.

    >>> async for result in session.bulk.create_clients(rows):  # doctest: +SKIP
    ...     print(result.index, result.value or result.error)

    To stop early, leave an ``async with run:`` block (or ``await run.aclose()``):
    that cancels the workers at once instead of when the iterator is collected.
    """

    def __init__(
        self,
        session: Session,
        items: Iterable[Any] | AsyncIterable[Any],
        process: Process,
        *,
        concurrency: int,
        total: int | None,
        progress: ProgressCallback | None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._session = session
        self._items = items
        self._process = process
        self._concurrency = concurrency
        self._total = total
        self._progress = progress
        self._on_close = on_close
        self._iterator: AsyncGenerator[ItemResult[T], None] | None = None
        self.summary = BulkSummary()

    def __repr__(self) -> str:
        return f"<BulkRun {self.summary.outcomes} concurrency={self._concurrency}>"

    def __aiter__(self) -> AsyncIterator[ItemResult[T]]:
        if self._iterator is not None:
            raise RuntimeError("a BulkRun can be iterated only once")
        iterator = self._iterator = self._results()
        return iterator

    async def aclose(self) -> None:
        """Stop the run: cancel its workers and keep what finished (in ``summary``)."""
        if self._iterator is not None:
            await self._iterator.aclose()

    async def __aenter__(self) -> BulkRun[T]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def run(self) -> BulkSummary:
        """Process every item, keeping no per-item results; return the summary."""
        async for _ in self:
            pass
        return self.summary

    async def collect(self) -> list[ItemResult[T]]:
        """Process every item and return all results (in completion order)."""
        return [result async for result in self]

    async def _results(self) -> AsyncGenerator[ItemResult[T], None]:
        stats_before = attrs.evolve(self._session.stats)
        started = time.monotonic()
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=self._concurrency * 2)
        source = _aiter(self._items)
        lock = asyncio.Lock()
        counter = iter(range(1 << 62))
        done = failed = 0

        async def take() -> tuple[int, Any] | None:
            async with lock:
                try:
                    item = await source.__anext__()
                except StopAsyncIteration:
                    return None
                return next(counter), item

        async def worker() -> None:
            nonlocal done, failed
            while (taken := await take()) is not None:
                result = await self._process(*taken)
                done += 1
                failed += not result.ok
                self.summary.outcomes[result.outcome] = (
                    self.summary.outcomes.get(result.outcome, 0) + 1
                )
                if self._progress is not None:
                    elapsed = time.monotonic() - started
                    self._progress(BulkProgress(done, failed, self._total, elapsed))
                await queue.put(result)

        async def supervise() -> None:
            workers = [asyncio.ensure_future(worker()) for _ in range(self._concurrency)]
            try:
                await asyncio.gather(*workers)
            finally:
                # On a failure (of the item source, say) or a cancellation, stop
                # every worker: gather leaves the siblings of a failed task running.
                for task in workers:
                    task.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
                await queue.put(_END)

        supervisor = asyncio.ensure_future(supervise())
        try:
            while (result := await queue.get()) is not _END:
                yield result
            await supervisor  # re-raise a failure of the item source
        except BaseException:
            self.summary.interrupted = True
            raise
        finally:
            supervisor.cancel()
            await asyncio.gather(supervisor, return_exceptions=True)
            self._finish(stats_before, time.monotonic() - started)

    def _finish(self, before: Any, elapsed: float) -> None:
        stats = self._session.stats
        self.summary.elapsed = elapsed
        self.summary.requests = stats.requests - before.requests
        self.summary.retries = stats.retries - before.retries
        self.summary.rate_limited = stats.rate_limited - before.rate_limited
        self.summary.reconciled = stats.reconciled - before.reconciled
        if self._on_close is not None:
            self._on_close()


async def _aiter(items: Iterable[Any] | AsyncIterable[Any]) -> AsyncIterator[Any]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


def row_key(payload: Any) -> str:
    """A stable key for an item: a hash of its canonical JSON."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _idempotency_key(key: str) -> str:
    # A distinctive value: it is found by the API's search, which also matches
    # substrings of names and e-mails, so it must not look like either.
    return "aa1_" + hashlib.sha256(key.encode()).hexdigest()[:32]


class Bulk:
    """Bulk operations of a Session: ``session.bulk``."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def __repr__(self) -> str:
        return f"<Bulk of {self._session!r}>"

    def create_clients(
        self,
        items: Iterable[NewClient] | AsyncIterable[NewClient],
        *,
        concurrency: int | None = None,
        total: int | None = None,
        progress: ProgressCallback | None = None,
        key: Callable[[NewClient], str] | None = None,
    ) -> BulkRun[Client]:
        """Create many clients; each carries an idempotency key derived from ``key(item)``.

        With ``key``, each item is looked up by its key first, and a client
        already made with it (by an earlier run, say) is returned instead of
        a new one: re-running the same cell creates nothing twice.
        """

        async def process(index: int, new: NewClient) -> ItemResult[Client]:
            item_key = key(new) if key else row_key(CONVERTER.unstructure(new))
            try:
                client = await self._session.clients._create(
                    new, _idempotency_key(item_key), lookup_first=key is not None
                )
            except (AgencyAccessError, ValueError) as error:
                return ItemResult(index, item_key, error=error, outcome="failed")
            return ItemResult(index, item_key, client)

        return self._run(items, process, concurrency, total, progress)

    def create_links(
        self,
        items: Iterable[NewLink] | AsyncIterable[NewLink],
        *,
        concurrency: int | None = None,
        total: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> BulkRun[Link]:
        """Create many access requests."""
        route = ROUTES["links.create"]

        async def process(index: int, new: NewLink) -> ItemResult[Link]:
            item_key = row_key(CONVERTER.unstructure(new))
            try:
                link: Link = await self._session._call(route, new)
            except (AgencyAccessError, ValueError) as error:
                return ItemResult(index, item_key, error=error, outcome="failed")
            return ItemResult(index, item_key, link)

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
        concurrency: int | None = None,
        total: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> BulkRun[Onboarded]:
        """Create a client and an access request for each row.

        Rows with a ``key`` of their own (``OnboardItem(key=...)``) are looked
        up before they are created when there is no journal, so running the
        same rows again creates nothing twice. With ``journal``, rows finished
        by an earlier run with the same journal are skipped
        (``outcome == "skipped"``), rows that were in flight are reconciled
        (never created twice), and rows that failed are reported again, or
        retried when ``retry_failed`` is true.

        Raises:
            JournalLocked: another process is running with this journal.
            JournalMismatch: the journal belongs to another job, or was written
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
            advise(services, strict=self._session.strict_services)  # sent as given
        wire = services.to_json() if isinstance(services, RequestedServices) else services
        fingerprint = row_key([wire, {k: repr(v) for k, v in options.items()}])
        opened = None
        if journal is not None:
            opened = Journal(
                journal,
                fingerprint,
                base_url=str(self._session.base_url),
                key_hash=self._session.key_fingerprint,
                key_rotated=key_rotated,
                replace=replace_journal,
            )
        onboarder = _Onboarder(self._session, services, options, opened, retry_failed)
        return self._run(
            rows,
            onboarder.process,
            concurrency,
            total,
            progress,
            on_close=opened.close if opened is not None else None,
        )

    def _run(
        self,
        items: Iterable[Any] | AsyncIterable[Any],
        process: Process,
        concurrency: int | None,
        total: int | None,
        progress: ProgressCallback | None,
        on_close: Callable[[], None] | None = None,
    ) -> BulkRun[Any]:
        return BulkRun(
            self._session,
            items,
            process,
            concurrency=concurrency or self._session.max_concurrency,
            total=total,
            progress=progress,
            on_close=on_close,
        )


class _Onboarder:
    """One row's journey: client, then access request, each step journaled before it is sent."""

    def __init__(
        self,
        session: Session,
        services: RequestedServices | Mapping[str, Any],
        options: dict[str, Any],
        journal: Journal | None,
        retry_failed: bool,
    ) -> None:
        self._session = session
        self._services = services
        self._options = options
        self._journal = journal
        self._retry_failed = retry_failed

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
        state = saved or JournalRow(key, position, self._run_id, "new", _idempotency_key(key))
        state.index, state.run, state.error = position, self._run_id, None
        try:
            client = await self._client(item, state, resuming)
            link = await self._link(item, state, resuming)
        except (AgencyAccessError, ValueError) as error:
            state.state, state.error = "failed", _one_line(error)
            self._save(state)
            value = Onboarded(state.client_id) if state.client_id else None
            return ItemResult(index, key, value, error, "failed")
        state.state, state.link_id, state.invite_url = "done", link.link_id, link.invite_url
        self._save(state)
        value = Onboarded(state.client_id or "", link.link_id, link.invite_url, client, link)
        return ItemResult(index, key, value)

    @property
    def _run_id(self) -> str:
        return self._journal.run if self._journal is not None else ""

    def _from_journal(
        self, index: int, position: int, saved: JournalRow
    ) -> ItemResult[Onboarded] | None:
        """The result of a row the journal already settled, or None if it still needs work."""
        if saved.run == self._run_id and saved.index != position:
            error = ValueError(f"duplicate of row {saved.index} (same key {saved.key})")
            return ItemResult(index, saved.key, error=error, outcome="invalid")
        if saved.state in ("done", "failed", "invalid"):
            # Claim the row for this run, so that a later duplicate of it is caught.
            saved.run, saved.index = self._run_id, position
            self._save(saved)
        if saved.state == "done":
            done = Onboarded(saved.client_id or "", saved.link_id, saved.invite_url)
            return ItemResult(index, saved.key, done, outcome="skipped")
        if saved.state in ("failed", "invalid") and not self._retry_failed:
            error = ValueError(saved.error or "failed in an earlier run")
            partial = Onboarded(saved.client_id) if saved.client_id else None
            return ItemResult(index, saved.key, partial, error, saved.state)
        return None

    async def _client(self, item: OnboardItem, state: JournalRow, resuming: bool) -> Client | None:
        """Create the row's client (or find the one an earlier run made); None if known."""
        if state.client_id is not None:
            return None
        state.state = "pending"
        self._save(state)
        clients = self._session.clients
        client = await clients.find_by_idempotency_key(state.idempotency_key) if resuming else None
        if client is None:
            client = await clients._create(item.client, state.idempotency_key)
        state.state, state.client_id = "client_created", client.client_id
        self._save(state)
        return client

    async def _link(self, item: OnboardItem, state: JournalRow, resuming: bool) -> Link:
        """Create the row's access request (or find the one an earlier run made)."""
        assert state.client_id is not None
        services = item.services or self._services
        new = NewLink(client_id=state.client_id, requested_services=services, **self._options)
        state.state = "link_pending"
        self._save(state)
        if resuming:
            payload = CONVERTER.unstructure(new)
            found = await _reconcile.find_link(self._session, payload, 0.0, self._session.retry)
            if found is not None:
                link: Link = CONVERTER.structure(found, Link)
                return link
        created: Link = await self._session._call(ROUTES["links.create"], new)
        return created

    def _save(self, state: JournalRow) -> None:
        if self._journal is not None:
            self._journal.save(state)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
