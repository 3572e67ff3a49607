"""The bulk journal: each item's entry, committed to SQLite as it changes.

An item moves ``pending`` (client create about to be sent) -> ``client_created``
-> ``link_pending`` (link create about to be sent) -> ``done``, or to ``found``
(the account had its records) or ``updated`` (its access request was
changed to the job's services), or to
``failed`` / ``invalid`` with a reason. Because ``pending`` and
``link_pending`` are committed *before* each create is sent (``write_ahead``),
a re-run after a crash knows which creates may have happened and reconciles
them instead of creating twice. They are committed in groups, one
transaction per turn of the event loop for every item that reached that point;
the other states are kept and written with the next group or on close
(``note``): losing one to a crash only makes a re-run look its record up.

WAL mode with ``synchronous=NORMAL``: every commit survives the process
being killed (only an OS crash can lose the last ones), at a few tens of
microseconds per commit.

A journal is never fooled:

- one writer at a time: opening it for a job takes an exclusive lock on a
  sidecar file (``PATH.lock``, holding the owner's pid), so a second process
  on the same journal is refused with ``JournalLockedError`` instead of creating
  every row again beside the first;
- one job and one target: it records a fingerprint of the job (services and
  options), the base URL and a hash of the API key (never the key), so a
  journal of a dry run against the emulator is not taken as "done" against
  the real API (``JournalMismatchError``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import importlib
import operator
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import IO, TYPE_CHECKING, Any

import attrs
from yarl import URL

from .._errors import AgencyAccessError
from .._http import target_url

if TYPE_CHECKING:
    import sqlite3

__all__ = [
    "DONE_STATES",
    "Journal",
    "JournalError",
    "JournalLockedError",
    "JournalMismatchError",
    "JournalEntry",
]

#: The most states kept unwritten (``Journal.note``): a few milliseconds of rows.
_KEPT = 1000
#: The states of a finished item: made by a run, found already made, or an existing
#: access request updated to the job's services.
DONE_STATES = ("done", "found", "updated")

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
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM rows"
# A row's later states update it in place: an INSERT OR REPLACE would delete
# and re-insert it, rewriting its index entry on every state.
_UPSERT = (
    f"INSERT INTO rows ({', '.join(_COLUMNS)}, updated) "
    f"VALUES ({', '.join('?' * len(_COLUMNS))}, ?)"
    " ON CONFLICT (key) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in (*_COLUMNS[1:], "updated"))
)


class JournalError(AgencyAccessError):
    """A journal cannot be used: locked, of another job or target, or not a journal at all."""

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(message)
        self.path = path


class JournalLockedError(JournalError):
    """Another process is writing this journal; ``pid`` is that process, when known."""

    def __init__(self, message: str, *, path: Path, pid: int | None) -> None:
        super().__init__(message, path=path)
        self.pid = pid


class JournalMismatchError(JournalError, ValueError):
    """The journal is another job's or target's: ``what`` is ``job``, ``base_url`` or ``key``."""

    def __init__(self, message: str, *, path: Path, what: str) -> None:
        super().__init__(message, path=path)
        self.what = what


@attrs.define
class JournalEntry:
    """One item's progress: its journal entry (``key`` is the item's identity)."""

    key: str
    index: int
    run: str
    state: str
    idempotency_key: str
    client_id: str | None = None
    link_id: str | None = None
    invite_url: str | None = None
    error: str | None = None


#: An entry's values in column order (attrs.astuple is generic, and this runs twice an item).
_entry_values = operator.attrgetter(*(field.name for field in attrs.fields(JournalEntry)))


class Journal:
    """A SQLite file holding every item's entry; one per job.

    Opened for a job (``fingerprint`` given), it takes the journal's lock
    (``JournalLockedError`` if another process holds it) and checks that the
    journal belongs to this job (a hash of the requested services and
    options), this ``base_url`` and this ``key_hash`` (``Session.key_fingerprint``).
    A journal of another job or base URL raises ``JournalMismatchError``, or, with
    ``replace=True``, is set aside (renamed, never deleted) for a new one. A
    journal of another key raises ``JournalMismatchError`` too, unless
    ``key_rotated=True`` says the key was rolled for the same account: the
    new key's hash is then recorded. Opened with ``fingerprint=None``, it
    only reads.
    """

    def __init__(
        self,
        path: str | Path,
        fingerprint: str | None,
        *,
        base_url: str | None = None,
        key_hash: str | None = None,
        key_rotated: bool = False,
        replace: bool = False,
    ) -> None:
        self.path = Path(path)
        self.run = uuid.uuid4().hex[:12]
        self._lock: IO[str] | None = None
        self._dirty: dict[str, tuple[Any, ...]] = {}  # key -> the entry's latest state, unwritten
        self._group: asyncio.Future[None] | None = None
        if fingerprint is not None:
            self._lock = _lock(self.path)
        wanted = {"fingerprint": fingerprint, "base_url": base_url, "key": key_hash}
        try:
            self._db = _connect(self.path)
            if fingerprint is None:
                return
            try:
                self._claim(wanted, key_rotated)
            except JournalMismatchError:
                if not replace:
                    raise
                self._db.close()
                set_aside(self.path)
                self._db = _connect(self.path)
                self._claim(wanted, key_rotated)
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"<Journal {self.path}>"

    def _claim(self, wanted: dict[str, str | None], key_rotated: bool) -> None:
        """Record the job and target in a new journal; refuse a journal of another."""
        saved = dict(self._db.execute("SELECT k, v FROM meta").fetchall())
        if "@" in saved.get("base_url", ""):  # an older journal's URL may hold credentials
            saved["base_url"] = target_url(URL(saved["base_url"]))

        def differs(name: str) -> bool:
            return wanted[name] is not None and saved.get(name, wanted[name]) != wanted[name]

        if differs("fingerprint"):
            raise JournalMismatchError(
                f"{self.path} belongs to another job (other services or options)",
                path=self.path,
                what="job",
            )
        if differs("base_url"):
            raise JournalMismatchError(
                f"{self.path} was written against {saved['base_url']}, not {wanted['base_url']}",
                path=self.path,
                what="base_url",
            )
        if differs("key") and not key_rotated:
            raise JournalMismatchError(
                f"{self.path} was written with another API key",
                path=self.path,
                what="key",
            )
        for name, value in wanted.items():
            if value is not None and saved.get(name) != value:
                self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))

    def get(self, key: str) -> JournalEntry | None:
        """The entry of ``key``: the latest one noted, written or not yet."""
        if key in self._dirty:
            return JournalEntry(*self._dirty[key][: len(_COLUMNS)])
        found = self._db.execute(f"{_SELECT} WHERE key = ?", (key,)).fetchone()
        return JournalEntry(*found) if found else None

    def save(self, entry: JournalEntry) -> None:
        """Write the entry and commit it before returning."""
        self.note(entry)
        self.flush()

    def note(self, entry: JournalEntry) -> None:
        """Keep the entry, to be written with the next group (or by ``flush``).

        For states whose loss a re-run repairs (a create that finished: the
        re-run finds its record); a state that must be on disk before a create
        is sent goes through ``write_ahead``. At most ``_KEPT`` states wait:
        then they are written at once, so memory never grows with the job (a
        million rows found, say, with no create to group them with).
        """
        self._dirty[entry.key] = (*_entry_values(entry), time.time())
        if len(self._dirty) >= _KEPT and self._group is None:
            self.flush()

    async def write_ahead(self, entry: JournalEntry) -> None:
        """Return once the entry is committed: group commit, one transaction a loop turn.

        Every entry that reaches this point in the same turn of the event loop
        is committed in the same transaction (with every noted state), so the
        journal costs one commit per turn rather than one per item.
        """
        self.note(entry)
        if self._group is None:
            loop = asyncio.get_running_loop()
            self._group = _Group(loop=loop)
            loop.call_soon(self._commit_group, self._group)
        await self._group

    def _commit_group(self, group: asyncio.Future[None]) -> None:
        self._group = None
        try:
            self.flush()
        except BaseException as error:  # the items waiting on it must not hang
            group.set_exception(error)
            group.add_done_callback(_retrieved)  # even if every waiter was cancelled
            return
        group.set_result(None)

    def flush(self) -> None:
        """Commit every state kept so far, in one transaction."""
        if not self._dirty:
            return
        rows, self._dirty = list(self._dirty.values()), {}
        self._db.execute("BEGIN")
        try:
            self._db.executemany(_UPSERT, rows)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def entries(self) -> Iterator[JournalEntry]:
        """Every entry, in input order (kept states are written first)."""
        self.flush()
        cursor = self._db.execute(f"{_SELECT} ORDER BY idx")
        for found in cursor:
            yield JournalEntry(*found)

    def note_listed(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Keep (idempotency key, client id) pairs listed from the account, for ``held_twice``.

        In a temporary table of this connection: SQLite keeps it on disk past
        its small cache, so an account of any size costs no memory here.
        """
        self._db.execute(
            "CREATE TEMP TABLE IF NOT EXISTS listed (idem TEXT NOT NULL, client TEXT NOT NULL)"
        )
        self._db.executemany("INSERT INTO listed VALUES (?, ?)", pairs)

    def held_twice(self) -> Iterator[tuple[JournalEntry, list[str]]]:
        """Each entry whose idempotency key two or more listed clients carry, and their ids."""
        self.flush()
        self._db.execute(
            "CREATE TEMP TABLE IF NOT EXISTS listed (idem TEXT NOT NULL, client TEXT NOT NULL)"
        )
        # One scan of the journal against the few keys held twice (SQLite indexes them).
        found = self._db.execute(
            f"SELECT {', '.join('r.' + c for c in _COLUMNS)}, d.clients FROM rows r JOIN "
            "(SELECT idem, group_concat(client, ' ') AS clients FROM listed GROUP BY idem "
            "HAVING count(*) > 1) d ON d.idem = r.idempotency_key"
        )
        for *entry, clients in found:
            yield JournalEntry(*entry), sorted(clients.split(" "))

    def close(self) -> None:
        """Write what is kept, close the database (checkpointing the WAL), release the lock."""
        try:
            with contextlib.suppress(AttributeError):  # __init__ may have failed before connecting
                try:
                    self.flush()
                finally:
                    self._db.close()
        finally:
            if self._lock is not None:
                self._lock.close()  # closing the file releases the lock
                self._lock = None


class _Group(asyncio.Future[None]):
    """The commit of one group, which its waiters cannot cancel.

    An item cancelled while it waits is woken when the commit is done, and
    raises its ``CancelledError`` then (its state is written all the same);
    the items waiting beside it are not disturbed. ``asyncio.shield`` would do
    the same with two futures more per waiting item.
    """

    def cancel(self, msg: Any = None) -> bool:
        return False


def _retrieved(group: asyncio.Future[None]) -> None:
    group.exception()


def _connect(path: Path) -> sqlite3.Connection:
    """Open (or create) the journal database; a file that is not one is a ``JournalError``."""
    import sqlite3  # only journaled runs pay for it

    try:
        db = sqlite3.connect(path, isolation_level=None)
    except sqlite3.Error as error:
        raise JournalError(f"{path}: cannot open the journal ({error})", path=path) from None
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
    except sqlite3.DatabaseError as error:
        db.close()
        raise JournalError(f"{path}: not a journal file ({error})", path=path) from None
    return db


def _lock(path: Path) -> IO[str] | None:
    """Take the journal's exclusive lock, or raise ``JournalLockedError`` naming its holder.

    A lock on ``PATH.lock`` that the OS releases when the holder exits,
    however it exits, so a killed run never leaves a stale lock: ``fcntl``'s
    ``flock`` on POSIX, ``msvcrt.locking`` on Windows. Where neither exists,
    the journal is refused: two runs on one journal would duplicate rows.
    """
    fcntl = _system_module("fcntl")  # None on Windows
    lock_path = path.with_name(path.name + ".lock")
    try:
        handle = lock_path.open("a+", encoding="ascii")
    except OSError as error:
        raise JournalError(f"{lock_path}: cannot create ({error.strerror})", path=path) from None
    try:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            _lock_without_fcntl(handle, path)
    except OSError:  # BlockingIOError from flock; PermissionError from msvcrt
        holder = ""
        with contextlib.suppress(OSError):  # Windows' lock may keep even us from reading
            handle.seek(0)
            holder = handle.read(20).strip()
        handle.close()
        pid = int(holder) if holder.isdigit() else None
        who = f"process {pid}" if pid else "another process"
        raise JournalLockedError(
            f"{path} is in use by {who}; wait for it to finish", path=path, pid=pid
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def _lock_without_fcntl(handle: IO[str], path: Path) -> None:
    """Windows: ``msvcrt.locking`` of the lock file's first bytes; refuse where it is missing."""
    msvcrt = _system_module("msvcrt")
    if msvcrt is None:
        handle.close()
        raise JournalError(
            f"{path}: this system offers no file lock (neither fcntl nor msvcrt), and two "
            "runs on one journal would duplicate rows",
            path=path,
        ) from None
    handle.seek(0)
    msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, _LOCKED_BYTES)


def _system_module(name: str) -> ModuleType | None:
    """An operating system's own module (``fcntl``, ``msvcrt``), or None on the others."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


#: How much of the lock file ``msvcrt.locking`` locks (the holder's pid fits in it).
_LOCKED_BYTES = 32


def set_aside(path: Path) -> Path:
    """Rename a journal (and its WAL files) to ``PATH.replaced-<time>``; return the new name."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.replaced-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        source = path.with_name(path.name + suffix)
        if source.exists():
            os.replace(source, aside.with_name(aside.name + suffix))
    return aside
