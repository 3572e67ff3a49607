"""``update`` and ``delete``: changing what ``onboard`` made, from its results file.

  agencyaccess-async update RESULTS.csv --services NEW.json [--where COLUMN=VALUE ...]
  agencyaccess-async delete RESULTS.csv [--where COLUMN=VALUE ...] [--yes]

``update`` changes the selected rows' access requests (services, and the
e-mail, intake-form, thank-you and redirect options) through links/update;
services that stay keep their grants. It is the way to change a finished
job, and it is journaled (RESULTS.csv.update.journal, one for every change
to that file's links): the same update run again sends nothing, an
interrupted one, run again, finishes, and a later change supersedes an
earlier one (A, then B, then A again puts A back). Rows marked deleted are
skipped and counted as such. Every row that fails is named, with its error.

``delete`` deletes the selected rows' clients, and with them their access
requests, after a confirmation (a question on a terminal, --yes without
one), and marks those rows "deleted" in the file. Rows marked deleted are
not sent again.

Both need the API key of the account the file was onboarded with
(AGENCYACCESS_API_KEY or AGENCYACCESS_API_KEY_FILE), and send where the file
was onboarded (its target column) unless --base-url says otherwise.
--where COLUMN=VALUE selects rows whose COLUMN equals VALUE, --where
COLUMN~TEXT rows whose COLUMN contains TEXT (trimmed, ignoring case, column
names too); several --where must all hold.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .._bulk import BulkRun, ItemResult, JournalError
from .._bulk._journal import Journal
from .._bulk._progress import ProgressDisplay
from .._models import UNSET
from .._scratch import batched, scratch_db
from .._session import Session
from ._common import Stopped, UsageError, add_command
from ._connect import (
    Target,
    check_account,
    check_base_url_option,
    load_services,
    recorded_target,
    show_warnings,
    to_loopback,
)
from ._cron import add_any_account_option, add_cron_options, confirm, logging_to, write_summary
from ._results import ResultsFile, is_deleted, write_atomically
from ._signals import deferred_signals, run_until_signal

__all__ = ["add_change_commands"]

#: What each command's --help says first: plain text (no markup), with examples.
_UPDATE_HELP = """Change the services or options of the access requests onboard made.

The selected rows' links are updated in place (links/update): services that
stay keep their grants, and no client or invite is made anew. The update is
journaled beside the file (RESULTS.csv.update.journal): run again, it sends
nothing; interrupted, run again, it finishes. Rows marked deleted are skipped.
It sends where the file was onboarded (its target column), with the key of
that account (AGENCYACCESS_API_KEY or AGENCYACCESS_API_KEY_FILE).

examples:
  agencyaccess-async update clients.results.csv --services new-services.json
  agencyaccess-async update clients.results.csv --where link_status=pending --send-email --yes
  agencyaccess-async update clients.results.csv --where email~@acme.example --intake-form on"""

_DELETE_HELP = """Delete the clients onboard made (and with them their access requests).

It asks first, naming the clients (--yes answers for you where there is no
terminal), then marks the deleted rows "deleted" in the file: they are never
sent again. It sends where the file was onboarded (its target column), with
the key of that account (AGENCYACCESS_API_KEY or AGENCYACCESS_API_KEY_FILE).

examples:
  agencyaccess-async delete clients.results.csv --where name="Acme Bakery"
  agencyaccess-async delete clients.status.csv --where link_status=rejected --yes"""

EXIT_CODES = """exit codes:
  0    every selected row done (now or by an earlier run)
  1    some rows failed (run the same command again to retry them)
  2    a usage error (one line, nothing sent)
  130  stopped by Ctrl-C (143: SIGTERM); run the same command again to finish"""


def add_change_commands(commands: Any) -> None:
    """Register ``update`` and ``delete``."""
    update = add_command(
        commands, "update", "change the services or options of onboarded rows' links",
        _UPDATE_HELP, EXIT_CODES,
    )  # fmt: skip
    _common_options(update)
    update.add_argument("--services", metavar="NEW.json", help="the services to request now")
    update.add_argument(
        "--send-email",
        action="store_true",
        help="have AgencyAccess e-mail each updated invite (asks first, or --yes)",
    )
    update.add_argument(
        "--intake-form", choices=("on", "off"), help="ask for the agency's intake form, or stop"
    )
    update.add_argument(
        "--thank-you-message",
        metavar="TEXT",
        help="what the invite page shows once the client has granted access",
    )
    update.add_argument(
        "--redirect-url",
        metavar="URL",
        help="where the invite page sends the client once access is granted",
    )
    update.add_argument(
        "--strict-services", action="store_true", help="refuse services the catalog lacks"
    )
    update.set_defaults(run=run_update)
    delete = add_command(
        commands, "delete", "delete onboarded rows' clients (and their links)", _DELETE_HELP,
        EXIT_CODES,
    )  # fmt: skip
    _common_options(delete)
    delete.set_defaults(run=run_delete)


def _common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", metavar="RESULTS.csv", help="what onboard (or status) wrote")
    parser.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="COLUMN=VALUE",
        help="only rows whose COLUMN is VALUE (or COLUMN~TEXT: contains TEXT), ignoring case; "
        "repeatable (all must hold)",
    )
    parser.add_argument("--yes", action="store_true", help="do not ask; needed without a terminal")
    parser.add_argument(
        "--base-url",
        help="API base URL (default: where the file was onboarded, as its target column says)",
    )
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    add_any_account_option(parser)
    add_cron_options(parser)


class _Selection:
    """The rows a command works on, each id once, in a private temporary SQLite file.

    A results file of a million rows selects a million ids: none is held in
    memory. Each id keeps the first row it is on and a name to show (the
    row's name, else its e-mail); ``deleted`` counts the selected rows
    already marked deleted, which are not sent.

    Two ways to read it. ``read_all()`` first, when a question must say how
    many rows (a confirmation): one pass, and with ``exclude_marked`` (for
    ``delete``) an id that any row marks deleted is not selected from another
    row either. Otherwise ``ids()`` streams: each id is recorded and handed
    to the run as its row is read, so the first request goes out at once
    whatever the file's length, and ``count`` is known when the file has
    been read (an id whose later row is marked deleted is then sent, and
    its journal, or the server, says it is done).
    """

    def __init__(self, table: ResultsFile, where: Target, column: str, conditions: list[str]):
        self.table = table
        self.where = where
        self.deleted = 0
        self.count = 0
        self._column = column
        self._matches = table.matcher(conditions)
        self._started = False  # ids read (all, or as a stream): later reads use the table
        self._complete = False  # the whole file was read: count is final
        self._db = scratch_db(
            "selected (id TEXT PRIMARY KEY, number INTEGER, name TEXT)",
            "marked (id TEXT PRIMARY KEY)",
        )

    def _read(self) -> Iterator[tuple[str, str, int, str]]:
        """One pass: (kind, id, row number, name) of the rows selected or marked deleted.

        ``kind`` is ``"selected"``; ``"deleted"`` for a row that matches but is
        marked deleted (counted, never sent); or ``"marked"`` for one marked
        deleted that does not match (``delete`` leaves its id out too).
        """
        for number, row in enumerate(self.table.rows(), start=2):
            item = row.get(self._column, "").strip()
            if is_deleted(row):
                yield ("deleted" if self._matches(row) else "marked"), item, number, ""
            elif item and self._matches(row):
                yield "selected", item, number, (row.get("name") or row.get("email") or "").strip()

    def read_all(self, *, exclude_marked: bool = False) -> None:
        """Read the whole selection now, so that ``count`` is known before anything is sent."""
        self._started = True
        rows = self._read()
        for batch in batched(rows, _BATCH):
            self.deleted += sum(1 for kind, *_ in batch if kind == "deleted")
            with self._db:  # BEGIN ... COMMIT, a batch at a time
                self._db.executemany(
                    "INSERT OR IGNORE INTO selected VALUES (?, ?, ?)",
                    ((i, n, name) for kind, i, n, name in batch if kind == "selected"),
                )
                if exclude_marked:
                    self._db.executemany(
                        "INSERT OR IGNORE INTO marked VALUES (?)",
                        ((i,) for kind, i, _, _ in batch if kind != "selected" and i),
                    )
        self._db.execute("DELETE FROM selected WHERE id IN (SELECT id FROM marked)")
        self.count = int(self._db.execute("SELECT count(*) FROM selected").fetchone()[0])
        self._complete = True

    def ids(self) -> Iterator[str]:
        """The selected ids in the order of their rows: read now, or from what was read."""
        if self._started:
            for (item,) in self._db.execute("SELECT id FROM selected ORDER BY rowid"):
                yield item
            return
        self._started = True
        insert = "INSERT OR IGNORE INTO selected VALUES (?, ?, ?)"
        for kind, item, number, name in self._read():
            if kind == "deleted":
                self.deleted += 1
            elif kind == "selected" and self._db.execute(insert, (item, number, name)).rowcount:
                self.count += 1
                yield item
        self._complete = True

    def peek(self) -> Iterator[str]:
        """The selected ids from the file's start, as read, recording nothing (for a look)."""
        return (item for kind, item, _, _ in self._read() if kind == "selected")

    @property
    def total(self) -> int | None:
        """How many ids are selected, once known (after ``read_all``, or a stream's end)."""
        return self.count if self._complete else None

    def row(self, item: str) -> tuple[int, str]:
        """The row number and name of an id (0 and "" for an id not selected)."""
        found = self._db.execute("SELECT number, name FROM selected WHERE id = ?", (item,))
        number, name = found.fetchone() or (0, "")
        return int(number), str(name)

    def named(self, item: str) -> str:
        """``row 7 (Acme)``: how a message names the row of an id."""
        number, name = self.row(item)
        return f"row {number} ({name})" if name else f"row {number}"

    def close(self) -> None:
        self._db.close()


#: Ids inserted into a selection per transaction.
_BATCH = 10_000


@contextlib.contextmanager
def _prepare(args: argparse.Namespace, column: str) -> Iterator[_Selection]:
    """The file, the rows to select (their ids in ``column``), and where to send."""
    check_base_url_option(args.base_url)
    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    table = ResultsFile.read(Path(args.results))
    where = recorded_target(table.target, args.base_url, path=table.path, command=args.command)
    selection = _Selection(table, where, column, args.where)
    try:
        yield selection
    finally:
        selection.close()


def run_update(args: argparse.Namespace) -> int:
    """Update the selected rows' links; an exit code of ``EXIT_CODES``."""
    with logging_to(args.log_file):
        show_warnings("update")
        changes: dict[str, Any] = {
            "services": (
                load_services(args.services, strict=args.strict_services)
                if args.services
                else UNSET
            ),
            "send_email": True if args.send_email else UNSET,
            "intake_form": {"on": True, "off": False}.get(args.intake_form or "", UNSET),
            "thank_you_message": args.thank_you_message or UNSET,
            "redirect_url": args.redirect_url or UNSET,
        }
        if all(value is UNSET for value in changes.values()):
            raise UsageError(
                "nothing to change: give --services, --send-email, --intake-form, "
                "--thank-you-message or --redirect-url"
            )
        with _prepare(args, "link_id") as selection:
            if args.send_email and not to_loopback(selection.where.base_url) and not args.yes:
                selection.read_all()  # the question says how many
                confirm(
                    f"E-mail {selection.count} clients an updated invite from "
                    f"{selection.where.shown}?",
                    yes=args.yes,
                    refusal=f"--send-email would e-mail up to {selection.count} clients",
                )
            table = selection.table
            journal = table.path.with_name(f"{table.path.name}.update.journal")

            def start(session: Session) -> BulkRun[Any]:
                total = selection.total
                return session.bulk.update_links(
                    selection.ids(), journal=journal, concurrency=args.concurrency, total=total,
                    progress=ProgressDisplay(sys.stderr, total, label="update"), **changes,
                )  # fmt: skip

            return run_until_signal(_run(args, "update", "link", selection, journal, start))


def run_delete(args: argparse.Namespace) -> int:
    """Delete the selected rows' clients, marking them in the file; ``EXIT_CODES``."""
    with logging_to(args.log_file):
        show_warnings("delete")
        with _prepare(args, "client_id") as selection:
            return _delete(args, selection)


def _delete(args: argparse.Namespace, selection: _Selection) -> int:
    """Confirm, delete the selected clients, and mark what the journal says is done.

    The question names how many and which, so without ``--yes`` the whole
    selection is read first; with it, the ids stream to the run.
    """
    if not args.yes:
        selection.read_all(exclude_marked=True)
        selected = selection.count
        if selected:
            shown = ", ".join(selection.named(c) for c in itertools.islice(selection.ids(), _SHOWN))
            more = f", and {selected - _SHOWN} more" if selected > _SHOWN else ""
            confirm(
                f"Delete {selected} clients and their access requests at "
                f"{selection.where.shown}: {shown}{more}?",
                yes=args.yes,
                refusal=f"delete would delete {selected} clients",
            )
    if selection.total == 0 or next(selection.peek(), None) is None:
        print("delete: no selected row has a client that is not deleted yet", file=sys.stderr)
        return 0
    table = selection.table
    journal = table.path.with_name(f"{table.path.name}.delete.journal")
    done = 0

    def start(session: Session) -> BulkRun[Any]:
        total = selection.total
        return session.bulk.delete_clients(
            selection.ids(), journal=journal, concurrency=args.concurrency, total=total,
            progress=ProgressDisplay(sys.stderr, total, label="delete"),
        )  # fmt: skip

    def finished(result: ItemResult[Any]) -> None:
        nonlocal done
        done += result.ok

    # A signal after the run and before or during the rewrite waits for the file to be
    # whole, then ends the command (143 for SIGTERM), never cutting the file short.
    with deferred_signals() as received:
        code = 1
        try:
            code = run_until_signal(
                _run(args, "delete", "client", selection, journal, start, finished)
            )
        finally:
            if done:
                _record_deleted(selection, journal)
    return 128 + received[0] if received else code


async def _run(
    args: argparse.Namespace,
    command: str,
    column: str,
    selection: _Selection,
    journal: Path,
    start: Any,
    each: Any = None,
) -> int:
    """Run the bulk job on a Session of the key, with a summary line and JSON.

    Every failed row is named with its error, on stderr (so in ``--log-file``
    too) and in ``--summary-json``; rows marked deleted count as skipped.
    """
    started = time.monotonic()
    outcomes: dict[str, int] = {}
    failures: list[dict[str, Any]] = []
    where = selection.where
    async with Session(where.key, base_url=where.base_url) as session:
        if not args.any_account:
            unfinished = _unfinished(selection.peek(), journal)
            await check_account(session, f"{column}s", unfinished, selection.table.path)
        try:
            run = start(session)
        except JournalError as error:  # e.g. the same command running already
            raise UsageError(f"{error}; nothing was sent") from None
        except (OSError, sqlite3.Error) as error:
            raise UsageError(
                f"cannot keep a journal beside {selection.table.path} ({error}): {command} "
                "journals every row beside the file; nothing was sent"
            ) from None
        try:
            async for result in run:
                outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
                if not result.ok:
                    failures.append(_failure(command, selection, result))
                if each is not None:
                    each(result)
        finally:
            if selection.deleted:  # counted as the file is read: known by now
                outcomes["skipped (deleted)"] = selection.deleted
            elapsed = time.monotonic() - started
            shown = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))
            total = selection.count + selection.deleted
            print(
                f"{command}: {total} selected: {shown or 'nothing done'}; "
                f"{session.stats.requests} requests in {elapsed:.1f}s"
                + ("; run the same command again to retry the failed ones" if failures else ""),
                file=sys.stderr,
            )
            write_summary(
                args.summary_json,
                {"command": command, "target": str(session.base_url), "selected": total,
                 "outcomes": outcomes, "failed": failures, "requests": session.stats.requests,
                 "elapsed": round(elapsed, 3)},
            )  # fmt: skip
    return 1 if failures else 0


def _unfinished(ids: Iterator[str], journal: Path) -> list[str]:
    """The ids the command's journal does not record as done, the first few of them.

    The account check looks for these: records a run already deleted are
    gone from the server, and prove nothing about the key either way.
    """
    if not journal.exists():
        return list(itertools.islice(ids, _SHOWN))
    saved = Journal(journal, None)
    try:
        left = (i for i in ids if (entry := saved.get(i)) is None or entry.state != "done")
        return list(itertools.islice(left, _SHOWN))
    finally:
        saved.close()


def _failure(command: str, selection: _Selection, result: ItemResult[Any]) -> dict[str, Any]:
    """A failed row, named on stderr at once and returned for the summary JSON."""
    number, name = selection.row(result.key)
    error = str(result.error)
    print(
        f"{command}: failed: {selection.named(result.key)}, {result.key}: {error}",
        file=sys.stderr,
    )
    return {"row": number, "name": name, "id": result.key, "error": error}


def _record_deleted(selection: _Selection, journal: Path) -> None:
    """Mark in the file the rows whose client the journal records deleted, whole or not at all.

    The journal, not memory, says which: a million deletes hold no set. A
    file that cannot be rewritten (locked by a spreadsheet, a read-only
    folder, a full disk) is one line saying which clients were deleted and
    how to record them: the same command, run again, marks them and sends
    nothing for them (the journal knows they are done).
    """
    saved = Journal(journal, None)
    try:

        def deleted(client_id: str) -> bool:
            entry = saved.get(client_id) if client_id else None
            return entry is not None and entry.state == "done"

        try:
            _mark_deleted(selection.table, deleted)
        except OSError as error:
            done = sum(1 for c in selection.ids() if deleted(c))
            first = itertools.islice((c for c in selection.ids() if deleted(c)), _SHOWN)
            names = ", ".join(selection.named(c) for c in first)
            more = f" and {done - _SHOWN} more" if done > _SHOWN else ""
            raise Stopped(
                f"deleted {done} clients ({names}{more}), but cannot rewrite "
                f"{selection.table.path} to mark them ({error.strerror or error}); run the "
                "same command again once it can be written: it marks them and sends nothing "
                f"for them ({journal.name} knows they are deleted)"
            ) from None
    finally:
        saved.close()


#: How many deleted clients a message names before it counts the rest.
_SHOWN = 10


def _mark_deleted(table: ResultsFile, deleted: Callable[[str], bool]) -> None:
    """Rewrite the file with the deleted rows' status (and link_status) set to "deleted"."""
    header = table.header + [c for c in ("status",) if c not in table.header]

    def rows() -> Any:
        for row in table.rows():
            if deleted(row.get("client_id", "").strip()):
                row = {**row, "status": "deleted"}
                if "link_status" in row:
                    row["link_status"] = "deleted"
            yield [row.get(column, "") for column in header]

    write_atomically(
        table.path, header, rows(), delimiter=table.delimiter, bom=table.bom,
        escape_formulas=False,
    )  # fmt: skip
