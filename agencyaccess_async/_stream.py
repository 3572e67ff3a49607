"""The async iterators the SDK returns: iterate them, or ``await .collect()`` for a list.

``async for`` reads as it goes, with memory that does not grow; ``collect()``
holds every item, which is what a notebook or a small script wants. Each
wraps an async generator and closes it with ``aclose()``, or when a loop over
it ends early and it is collected.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Generic, TypeVar

__all__ = ["Batches", "Stream"]

T = TypeVar("T")
Y = TypeVar("Y")


class _Wrapped(Generic[Y]):
    """An async iterator over ``source``'s items."""

    def __init__(self, source: AsyncIterator[Y]) -> None:
        self._source = source

    def __aiter__(self) -> AsyncIterator[Y]:
        return self._source

    async def __anext__(self) -> Y:
        return await self._source.__anext__()

    async def aclose(self) -> None:
        """Stop early: close the generator and whatever it holds."""
        close = getattr(self._source, "aclose", None)
        if close is not None:
            await close()


class Stream(_Wrapped[T]):
    """Items one at a time with ``async for``, or all of them with ``await .collect()``."""

    async def collect(self) -> list[T]:
        """Every item, in order, in one list."""
        return [item async for item in self._source]


class Batches(_Wrapped[tuple[T, ...]]):
    """Items a tuple at a time with ``async for``, or all in one flat list with ``collect()``."""

    async def collect(self) -> list[T]:
        """Every item of every batch, in order, in one flat list."""
        return [item async for batch in self._source for item in batch]
