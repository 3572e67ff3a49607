"""The Paginator: the records of a list call, a page at a time, as you iterate."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from typing import Generic, TypeVar

import attrs

from ._models import ListQuery, Page
from ._requester import Requester
from ._routes import PagedRoute
from ._scope import CallOptions, Scope
from ._stream import Stream

__all__ = ["Paginator"]

T = TypeVar("T")


class Paginator(Generic[T]):
    """The records of a list call, fetched a page at a time as you iterate.

    ``async for record in paginator`` follows ``nextCursor`` lazily;
    ``await paginator.page(cursor)`` fetches one page; ``paginator.pages()``
    iterates pages; ``await paginator.collect()`` reads every record into a
    list. The list call's ``limit`` is the size of each page.
    """

    def __init__(
        self,
        requester: Requester,
        route: PagedRoute[ListQuery, T],
        query: ListQuery,
        options: CallOptions,
        scope: Scope,
    ) -> None:
        self._requester = requester
        self._route = route
        self._query = query
        self._options = options
        self._scope = scope

    def __repr__(self) -> str:
        return f"<Paginator {self._route.operation} {self._query!r}>"

    async def page(self, cursor: str | None = None) -> Page[T]:
        """Fetch one page: the first, or the one ``cursor`` points at."""
        query = self._query if cursor is None else attrs.evolve(self._query, cursor=cursor)
        return await self._requester.request(self._route, query, self._options, self._scope)

    def pages(self) -> Stream[Page[T]]:
        """Iterate over pages, following ``nextCursor`` until the last."""
        return Stream(self._pages())

    async def _pages(self) -> AsyncIterator[Page[T]]:
        cursor: str | None = None
        while True:
            page = await self.page(cursor)
            yield page
            cursor = page.next_cursor
            if not cursor:
                return

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self._pages():
            for item in page.items:
                yield item

    async def collect(self, max_items: int | None = None, *, limit: int | None = None) -> list[T]:
        """Fetch every record (or the first ``max_items``) into a list.

        ``limit`` is the deprecated name of ``max_items`` (``limit`` is a page's
        size everywhere else).
        """
        if limit is not None:
            warnings.warn(
                "Paginator.collect(limit=...) is deprecated: use max_items=",
                DeprecationWarning,
                stacklevel=2,
            )
            max_items = limit if max_items is None else max_items
        records: list[T] = []
        async for record in self:
            records.append(record)
            if max_items is not None and len(records) >= max_items:
                break
        return records
