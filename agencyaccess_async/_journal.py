"""The bulk journal: each row's state, committed to SQLite as it changes.

A row moves ``pending`` (client create about to be sent) -> ``client_created``
-> ``link_pending`` (link create about to be sent) -> ``done``, or to
``failed`` / ``invalid`` with a reason. Because the state is committed
*before* each create is sent, a re-run after a crash knows which creates may
have happened and reconciles them instead of creating twice.

WAL mode with ``synchronous=NORMAL``: every commit survives the process
being killed (only an OS crash can lose the last ones), at a few tens of
microseconds per commit.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import attrs

__all__ = ["Journal", "JournalMismatch", "JournalRow"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows (
    key TEXT PRIMARY KEY,
    idx INTEGER NOT NULL,
    run TEXT NOT NULL,
    state TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    client_id TEXT,
    link_id TEXT,
    invite_url TEXT,
    error TEXT,
    updated REAL NOT NULL
);
"""
_COLUMNS = (
    "key", "idx", "run", "state", "idempotency_key", "client_id", "link_id", "invite_url", "error",
)  # fmt: skip


class JournalMismatch(ValueError):
    """The journal was written for a different job (other services or options)."""


@attrs.define
class JournalRow:
    """One row's progress."""

    key: str
    index: int
    run: str
    state: str
    idempotency_key: str
    client_id: str | None = None
    link_id: str | None = None
    invite_url: str | None = None
    error: str | None = None


class Journal:
    """A SQLite file holding every row's state; one per job.

    ``fingerprint`` identifies the job (e.g. a hash of the requested
    services): reopening a journal with another fingerprint raises
    ``JournalMismatch`` rather than mixing two jobs.
    """

    def __init__(self, path: str | Path, fingerprint: str | None) -> None:
        import sqlite3  # only journaled runs pay for it

        self.path = Path(path)
        self.run = uuid.uuid4().hex[:12]
        self._db = sqlite3.connect(self.path, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            if fingerprint is not None:  # None: open to read, whatever the job
                self._claim(fingerprint)
        except (sqlite3.DatabaseError, JournalMismatch):
            self._db.close()
            raise

    def __repr__(self) -> str:
        return f"<Journal {self.path}>"

    def _claim(self, fingerprint: str) -> None:
        found = self._db.execute("SELECT v FROM meta WHERE k = 'fingerprint'").fetchone()
        if found is None:
            self._db.execute("INSERT INTO meta VALUES ('fingerprint', ?)", (fingerprint,))
        elif found[0] != fingerprint:
            raise JournalMismatch(
                f"{self.path} belongs to another job (other services or options); "
                "use a new journal file"
            )

    def get(self, key: str) -> JournalRow | None:
        """The row's saved state, if any."""
        found = self._db.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM rows WHERE key = ?", (key,)
        ).fetchone()
        return JournalRow(*found) if found else None

    def save(self, row: JournalRow) -> None:
        """Write the row's state and commit it before returning."""
        self._db.execute(
            f"INSERT OR REPLACE INTO rows ({', '.join(_COLUMNS)}, updated) "
            f"VALUES ({', '.join('?' * len(_COLUMNS))}, ?)",
            (*attrs.astuple(row), time.time()),
        )

    def counts(self) -> dict[str, int]:
        """Rows by state."""
        return dict(self._db.execute("SELECT state, COUNT(*) FROM rows GROUP BY state").fetchall())

    def rows(self) -> Iterator[JournalRow]:
        """Every row, in input order."""
        cursor = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM rows ORDER BY idx")
        for found in cursor:
            yield JournalRow(*found)

    def close(self) -> None:
        """Close the database (checkpointing the WAL)."""
        self._db.close()
