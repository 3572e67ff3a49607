"""The bulk engine: bounded fan-out over many items, streaming one result per item.

It knows nothing of clients or links: a ``process(index, item)`` coroutine
does one item and returns its ``ItemResult``. Items come from a sync or async
iterable, consumed lazily by a fixed pool of workers (never a task per item);
results stream in completion order through a bounded queue. One failing item
never stops the others; cancelling the iteration stops the workers and keeps
what finished.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
)
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar, Union

import attrs

from .._hooks import SessionStats
from .._limiter import Limiter

__all__ = [
    "BulkProgress",
    "BulkRun",
    "BulkSummary",
    "Failed",
    "ItemResult",
    "Process",
    "ProgressCallback",
    "Succeeded",
]

T = TypeVar("T")

_END = object()


class _Row:
    """What both kinds of result share: a flat row for a table."""

    __slots__ = ()
    index: int
    key: str
    outcome: str
    error: BaseException | None
    value: Any

    def to_row(self) -> dict[str, Any]:
        """One flat row: index, key, outcome, error, and the value's plain fields.

        A bulk run's results as a pandas DataFrame, in one line:
        ``pd.DataFrame(result.to_row() for result in results)``.
        """
        row: dict[str, Any] = {
            "index": self.index,
            "key": self.key,
            "outcome": self.outcome,
            "error": str(self.error) if self.error is not None else None,
        }
        value = self.value
        if value is not None and attrs.has(type(value)):
            for field in attrs.fields(type(value)):
                item = getattr(value, field.name)
                if isinstance(item, (str, int, float, bool, type(None), enum.Enum, datetime)):
                    row.setdefault(field.name, item.value if isinstance(item, enum.Enum) else item)
        return row


@attrs.frozen
class Succeeded(_Row, Generic[T]):
    """An item that succeeded: ``value`` is there.

    ``outcome`` is ``created``; ``skipped`` (finished by an earlier run, as
    its journal says); ``found`` (already in the account, made by a run whose
    journal this one lacks); or ``updated`` (an existing access request
    changed to the job's services).
    """

    index: int
    key: str
    value: T
    outcome: str = "created"
    error: None = None
    ok: Literal[True] = attrs.field(default=True, init=False)


@attrs.frozen
class Failed(_Row, Generic[T]):
    """An item that failed (``outcome`` ``failed``) or was refused before sending (``invalid``).

    ``value`` holds what was done before the failure, if anything (an onboarded
    row's client, say). ``earlier`` is true for a row that failed in an
    earlier run and was reported again from the journal, not tried now.
    """

    index: int
    key: str
    error: BaseException
    value: T | None = None
    outcome: str = "failed"
    earlier: bool = False
    ok: Literal[False] = attrs.field(default=False, init=False)


#: The result of one item: ``Succeeded`` or ``Failed``. ``if result.ok:`` narrows it,
#: so ``result.value`` is then the value itself, for type checkers too.
ItemResult = Union[Succeeded[T], Failed[T]]  # noqa: UP007 - a generic alias wants Union


@attrs.frozen
class BulkProgress:
    """Where a bulk run is: items finished and failed, the total if known, the pace."""

    done: int
    failed: int
    total: int | None
    elapsed: float
    #: Items per second the key's rate limit allows, when known: its limiter's rate
    #: over the requests an item takes. An ETA starts from it.
    allowed_rate: float | None = None

    @property
    def rate(self) -> float:
        """Items finished per second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0


@attrs.define(repr=False)
class BulkSummary:
    """Counts by outcome, time taken, and the Session's requests, retries and 429s meanwhile."""

    outcomes: dict[str, int] = attrs.field(factory=dict)
    elapsed: float = 0.0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    reconciled: int = 0
    interrupted: bool = False

    def __repr__(self) -> str:
        return (
            f"BulkSummary(outcomes={self.outcomes}, elapsed={self.elapsed:.2f}s, "
            f"requests={self.requests}, retries={self.retries}, rate_limited={self.rate_limited}, "
            f"reconciled={self.reconciled}, interrupted={self.interrupted})"
        )

    def to_dict(self) -> dict[str, Any]:
        """The counts as plain data (``outcomes`` stays a dict)."""
        return {**attrs.asdict(self), "total": self.total, "failed": self.failed}

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


def _at_least_one(instance: object, attribute: object, value: int) -> None:
    if value < 1:
        raise ValueError("concurrency must be at least 1")


@attrs.define(eq=False, repr=False)
class BulkRun(Generic[T]):
    """A bulk operation in progress; iterate it once for per-item results.

    >>> async for result in session.bulk.create_clients(rows):  # doctest: +SKIP
    ...     print(result.index, result.value or result.error)

    To stop early, leave an ``async with run:`` block (or ``await run.aclose()``):
    that cancels the workers at once instead of when the iterator is collected.
    ``summary`` counts what finished so far.

    ``run()`` and ``collect()``, interrupted (their task cancelled: Ctrl-C in a
    notebook, a shutdown), stop the workers, keep what finished, and raise a
    ``CancelledError`` whose message is the summary: what was done, what is
    left, and how to go on (``resume``, which the bulk method sets).
    """

    _stats: SessionStats
    _items: Iterable[Any] | AsyncIterable[Any]
    _process: Process
    _concurrency: int = attrs.field(kw_only=True, validator=_at_least_one)
    _total: int | None = attrs.field(kw_only=True)
    _progress: ProgressCallback | None = attrs.field(kw_only=True)
    _on_close: Callable[[], None] | None = attrs.field(kw_only=True, default=None)
    #: The key's limiter and the requests an item is expected to take (until 10 items
    #: have shown the real count): the pace the rate limit allows, for the ETA.
    _limiter: Limiter | None = attrs.field(kw_only=True, default=None)
    _requests_per_item: float = attrs.field(kw_only=True, default=1.0)
    #: How to go on after an interruption, for its message.
    _resume: str = attrs.field(kw_only=True, default="Run it again for the items left.")
    _iterator: AsyncGenerator[ItemResult[T], None] | None = attrs.field(init=False, default=None)
    summary: BulkSummary = attrs.field(init=False, factory=BulkSummary)

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
        try:
            async for _ in self:
                pass
        except asyncio.CancelledError:
            raise self._interrupted() from None
        return self.summary

    async def collect(self) -> list[ItemResult[T]]:
        """Process every item and return all results (in completion order)."""
        try:
            return [result async for result in self]
        except asyncio.CancelledError:
            raise self._interrupted() from None

    def _interrupted(self) -> asyncio.CancelledError:
        """The cancellation, carrying the summary instead of the workers' traceback."""
        done = self.summary.total
        counts = self.summary.outcomes.items()
        outcomes = ", ".join(f"{count} {outcome}" for outcome, count in counts)
        left = f"{self._total - done} left" if self._total is not None else "the rest left"
        return asyncio.CancelledError(
            f"bulk run interrupted after {done} items ({outcomes or 'none finished'}); "
            f"{left}. {self._resume}"
        )

    async def _results(self) -> AsyncGenerator[ItemResult[T], None]:
        stats_before = attrs.evolve(self._stats)
        started = time.monotonic()
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=self._concurrency * 2)
        source = _aiter(self._items)
        lock = asyncio.Lock()
        counter = iter(range(1 << 62))
        done = failed = begun = 0  # begun: items taken from the source

        async def take() -> tuple[int, Any] | None:
            nonlocal begun
            async with lock:
                try:
                    item = await source.__anext__()
                except StopAsyncIteration:
                    return None
                begun += 1
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
                    allowed = self._allowed_rate(begun, stats_before)
                    self._progress(BulkProgress(done, failed, self._total, elapsed, allowed))
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

    def _allowed_rate(self, begun: int, before: SessionStats) -> float | None:
        """Items per second the rate limit allows: requests per second over requests per item.

        An item's cost is the expected one until 10 items have started, then the
        requests sent over the items started (over the items done, it would count
        the requests of items still in flight against too few).
        """
        rate = self._limiter.rate if self._limiter is not None else None
        if rate is None:
            return None
        sent = self._stats.requests - before.requests
        cost = sent / begun if begun >= 10 else self._requests_per_item
        return rate / max(cost, 1.0)

    def _finish(self, before: SessionStats, elapsed: float) -> None:
        close = getattr(self._progress, "close", None)  # a display ends with the run
        if close is not None:
            close()
        stats = self._stats
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
