"""The Paginator: the records of a list call, a page at a time, as you iterate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Generic, TypeVar

import attrs

from ._models import ListQuery, Page
from ._requester import Requester
from ._routes import PagedRoute
from ._scope import CallOptions, Scope

__all__ = ["Paginator"]

T = TypeVar("T")


class Paginator(Generic[T]):
    """The records of a list call, fetched a page at a time as you iterate.

    ``async for record in paginator`` follows ``nextCursor`` lazily;
    ``await paginator.page(cursor)`` fetches one page; ``paginator.pages()``
    iterates pages.
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

    async def pages(self) -> AsyncIterator[Page[T]]:
        """Iterate over pages, following ``nextCursor`` until the last."""
        cursor: str | None = None
        while True:
            page = await self.page(cursor)
            yield page
            cursor = page.next_cursor
            if not cursor:
                return

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.items:
                yield item

    async def collect(self, limit: int | None = None) -> list[T]:
        """Fetch every record (or the first ``limit``) into a list."""
        records: list[T] = []
        async for record in self:
            records.append(record)
            if limit is not None and len(records) >= limit:
                break
        return records
