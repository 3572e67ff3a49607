"""Private temporary SQLite files: what grows with the input lives on disk, not in memory.

A million ids in a set or a dict cost about a hundred bytes each; in a
private SQLite file (``""`` as its name: SQLite's own temporary file,
removed when it is closed) they cost its page cache, whatever their number.
No journal and no fsync: such a file dies with the run that made it.
``IdSet`` is a set of ids that stays in memory while small and moves to one
past ``limit``, so a call on ten ids makes no file.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import sqlite3

__all__ = ["IdSet", "batched", "scratch_db"]

T = TypeVar("T")


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last may be shorter), read as they are used.

    ``itertools.batched`` from Python 3.12 on; here for 3.10 and 3.11.
    """
    source = iter(items)
    return iter(lambda: list(itertools.islice(source, size)), [])


def scratch_db(*tables: str) -> sqlite3.Connection:
    """A private temporary SQLite file with ``tables`` created (``"name (columns)"``).

    In autocommit mode (``isolation_level=None``): use ``with db:`` for a
    transaction around many writes.
    """
    import sqlite3  # on first use: ``import agencyaccess_async`` stays light

    db = sqlite3.connect("", isolation_level=None)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    for table in tables:
        db.execute(f"CREATE TABLE {table}")
    return db


class IdSet:
    """A set of ids: in memory up to ``limit``, in a scratch file past it.

    What ``links.statuses`` needs of its wanted ids: membership, removal,
    how many are left, and the rest in order.
    """

    def __init__(self, ids: Iterable[str], *, limit: int = 10_000) -> None:
        source = iter(ids)
        first = set(itertools.islice(source, limit + 1))
        self._memory: set[str] | None = first
        self._db: sqlite3.Connection | None = None
        if len(first) > limit:
            self._db = scratch_db("ids (id TEXT PRIMARY KEY)")
            self._memory = None
            self._insert(first)
            for batch in batched(source, limit):
                self._insert(batch)
            self._size = int(self._db.execute("SELECT count(*) FROM ids").fetchone()[0])

    def _insert(self, ids: Iterable[str]) -> None:
        assert self._db is not None
        with self._db:
            self._db.executemany("INSERT OR IGNORE INTO ids VALUES (?)", ((i,) for i in ids))

    def __contains__(self, item: str) -> bool:
        if self._memory is not None:
            return item in self._memory
        assert self._db is not None
        return self._db.execute("SELECT 1 FROM ids WHERE id = ?", (item,)).fetchone() is not None

    def __len__(self) -> int:
        return len(self._memory) if self._memory is not None else self._size

    def discard_all(self, ids: Iterable[str]) -> None:
        """Remove ``ids`` (those not in the set are ignored)."""
        if self._memory is not None:
            self._memory.difference_update(ids)
            return
        assert self._db is not None
        with self._db:
            for item in ids:
                self._size -= self._db.execute("DELETE FROM ids WHERE id = ?", (item,)).rowcount

    def sorted(self) -> Iterator[str]:
        """The ids left, in order, read as they are used."""
        if self._memory is not None:
            yield from sorted(self._memory)
            return
        assert self._db is not None
        for (item,) in self._db.execute("SELECT id FROM ids ORDER BY id"):
            yield item

    def close(self) -> None:
        """Remove the scratch file, if there is one."""
        if self._db is not None:
            self._db.close()
            self._db = None
