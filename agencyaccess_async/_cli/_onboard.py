"""``agencyaccess-async onboard``: a client and an access request for every row of a CSV.

Against the hosted API (or any ``--base-url``) with the API key of
``AGENCYACCESS_API_KEY`` or ``AGENCYACCESS_API_KEY_FILE``; or, with
``--emulator`` and only then, a rehearsal against an emulator started
in-process, which every report marks as such. Every row's state
goes to a journal (SQLite) as it changes, so an interrupted run is finished
by running the same command again, with no duplicates. The results file
(every input row plus client_name, client_id, link_id, invite_url, status,
error and target) is
written atomically, also after Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from .._bulk import (
    BulkProgress,
    BulkRun,
    ItemResult,
    JournalError,
    JournalLockedError,
    JournalMismatchError,
    OnboardItem,
)
from .._bulk._progress import Activity, ProgressDisplay
from .._models import UNSET
from .._services import RequestedServices
from .._session import Session
from ._common import Stopped, UsageError
from ._connect import (
    EMBEDDED_TARGET,
    REHEARSAL_LABEL,
    Target,
    check_access,
    check_base_url_option,
    load_services,
    show_warnings,
    to_loopback,
)
from ._cron import confirm, logging_to, write_summary
from ._dry_run import dry_run
from ._jobs import held_lease, job_identity, mark_duplicates, parse_shard, run_limiter
from ._onboard_options import add_onboard_command as add_onboard_options
from ._results import Counts, check_output, same_file, write_results
from ._rows import ClientsCsv, RowError, to_new_client
from ._signals import run_until_signal

__all__ = ["add_onboard_command", "run"]


def add_onboard_command(commands: Any) -> None:
    """Register the ``onboard`` subcommand (its options: ``_onboard_options.py``)."""
    add_onboard_options(commands, run)


def run(args: argparse.Namespace) -> int:
    """Check the inputs, then onboard; returns an exit code of ``EXIT_CODES``."""
    with logging_to(args.log_file):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    if args.rate_limit is not None and not 0 < args.rate_limit < math.inf:
        raise UsageError("--rate-limit must be a positive number of requests per second")
    check_base_url_option(args.base_url)
    delimiter = "\t" if args.delimiter in ("\\t", "tab") else args.delimiter
    if delimiter is not None and len(delimiter) != 1:
        raise UsageError("--delimiter must be one character")
    show_warnings("onboard")
    services = load_services(args.services, strict=args.strict_services)
    table = ClientsCsv(
        args.csv,
        delimiter,
        parse_shard(args.shard),
        encoding=args.encoding,
        sheet=args.sheet,
        mapped=_mapped(args.map),
        key_column=args.key_column,
        header_row=args.header_row,
    )
    if args.dry_run:
        verdicts = Path(args.out) if args.out else None
        if verdicts is not None:
            check_output(verdicts, "--out", table.path)
        sum(1 for _ in table.rows())  # what the row notes count is known after one pass
        _show_reading(table, table.row_notes())
        return dry_run(table, services, _dry_run_target(args), out=verdicts, excel=args.excel)
    where = Target.of(args.base_url, emulator=args.emulator, command="onboard")
    out = Path(args.out) if args.out else Path(args.csv).with_suffix(".results.csv")
    # An embedded emulator's run keeps a journal of its own: a later run against a real
    # server is never blocked by it and never trusts it.
    suffix = ".emulator.journal" if where.rehearsal else ".journal"
    journal = Path(args.journal) if args.journal else out.with_name(out.name + suffix)
    check_output(out, "--out", table.path)
    check_output(journal, "--journal", table.path)
    if same_file(out, journal):
        raise UsageError(f"--journal {journal}: is the results file (--out)")
    total = table.row_count  # the file was read whole when opened: it is readable
    if args.send_email and not where.rehearsal and not to_loopback(args.base_url):
        confirm(
            f"E-mail {total} clients an invite from {where.shown}?",
            yes=args.yes,
            refusal=f"--send-email would e-mail up to {total} clients",
        )
    return run_until_signal(_onboard(args, where, table, services, total, out, journal))


def _show_reading(table: ClientsCsv, row_notes: Sequence[str] = ()) -> None:
    """The columns read, the encoding, and every note on what was decided and why."""
    print(f"onboard: reading {table.path.name}: {table.mapping}", file=sys.stderr)
    _show_notes([*table.notes(), *row_notes])


def _show_notes(notes: Sequence[str]) -> None:
    for note in notes:
        print(f"onboard: note: {note}", file=sys.stderr)


def _dry_run_target(args: argparse.Namespace) -> str:
    """Where a run of these options would send, for --dry-run (which needs no key)."""
    try:
        return Target.of(args.base_url, emulator=args.emulator, command="onboard").shown
    except UsageError as error:
        return f"nowhere yet ({error})"


def _mapped(pairs: list[str]) -> dict[str, str]:
    """``--map FIELD=COLUMN`` flags as {field: column}."""
    mapped: dict[str, str] = {}
    for pair in pairs:
        field, equals, column = pair.partition("=")
        if not equals or not field.strip() or not column.strip():
            raise UsageError(f"--map {pair!r}: expected FIELD=COLUMN, e.g. name='Company Name'")
        mapped[field.strip().lower()] = column.strip()
    return mapped


class _InvalidRows:
    """Counts rows refused before sending, so that progress covers every row."""

    def __init__(self) -> None:
        self.count = 0

    def shift(self, progress: BulkProgress) -> BulkProgress:
        return attrs.evolve(
            progress, done=progress.done + self.count, failed=progress.failed + self.count
        )


async def _onboard(
    args: argparse.Namespace,
    where: Target,
    table: ClientsCsv,
    services: Mapping[str, Any],
    total: int,
    out: Path,
    journal: Path,
) -> int:
    with _disk_errors(journal, out):
        rules = RequestedServices.from_json(services, validate=False)  # for checking rows
        invalid = _InvalidRows()
        activity = Activity()
        display = ProgressDisplay(sys.stderr, total, waiting=activity.waiting_for)
        interrupted = False
        started = time.monotonic()
        async with where.reached() as (base_url, api_key):
            session = Session(
                api_key,
                base_url=base_url,
                max_concurrency=args.concurrency,
                rate_limit=args.rate_limit,
                limiter=run_limiter(args),
                strict_services=args.strict_services,
                hooks=activity.hooks(),
            )
            # The input's hash, of its spooled copy for a pipe: only a lease needs it.
            job = job_identity(table.source.file, table.shard) if args.redis_url else ""
            lease = held_lease(args.redis_url, job, session.key_fingerprint, wait=args.wait,
                               fallback=args.redis_fallback, command="onboard")  # fmt: skip
            async with session, lease as leased:
                await check_access(session)

                def start(replace: bool = False) -> BulkRun[Any]:
                    return session.bulk.onboard(
                        _items(table, rules, invalid),
                        services=services,
                        send_email=True if args.send_email else UNSET,
                        journal=journal,
                        replace_journal=args.fresh_journal or replace,
                        update_links=args.update_links,
                        key_rotated=args.key_rotated,
                        retry_failed=args.retry_failed,
                        journal_target=EMBEDDED_TARGET if where.rehearsal else None,
                        concurrency=args.concurrency,
                        total=total,
                        progress=lambda p: display(invalid.shift(p)),
                    )

                run = await _open_journal(
                    start, journal, wait=args.wait, update_links=args.update_links
                )
                _show_reading(table)  # once the run is sure to start: errors stay one line
                tally = _Tally()
                ticker = asyncio.ensure_future(display.ticking())
                duplicates = 0
                try:
                    async for result in run:
                        tally.add(result)
                    if not leased and tally.created:
                        duplicates = await mark_duplicates(session, journal)
                        tally.failed_now += duplicates
                except asyncio.CancelledError:
                    interrupted = True
                    raise  # run_until_signal turns it into exit code 130 or 143
                finally:
                    ticker.cancel()
                    display.close()
                    counts = write_results(
                        table,
                        out,
                        journal,
                        rules,
                        escape_formulas=args.escape_formulas,
                        excel=args.excel,
                        first_created=tally.first_created[1] if tally.first_created else None,
                        target=REHEARSAL_LABEL if where.rehearsal else str(session.base_url),
                    )
                    _show_notes(table.row_notes())  # the rows were read whole by now
                    elapsed = time.monotonic() - started
                    print(counts.summary(out, interrupted, elapsed), file=sys.stderr)
                    if where.rehearsal:
                        print(f"onboard: {_REHEARSAL_NOTE}", file=sys.stderr)
                    code = tally.exit_code(counts, known_invalid_ok=args.known_invalid_ok)
                    write_summary(
                        args.summary_json,
                        {
                            "command": "onboard",
                            "target": "embedded emulator"
                            if where.rehearsal
                            else str(session.base_url),
                            "rehearsal": where.rehearsal,
                            "columns": table.columns.shown,
                            "encoding": table.encoding,
                            "rows": total,
                            "onboarded": counts.count("onboarded"),
                            "found": counts.totals.get("onboarded (found)", 0),
                            "updated": counts.totals.get("onboarded (updated)", 0),
                            "invalid": counts.count("invalid"),
                            "failed": counts.count("failed"),
                            "created_this_run": tally.created,
                            "failed_this_run": tally.failed_now,
                            "duplicates": duplicates,
                            "requests": session.stats.requests,
                            "elapsed": round(elapsed, 3),
                            "interrupted": interrupted,
                            "exit_code": code if not interrupted else None,
                            "results": str(out),
                        },
                    )
        return code


#: The last line of a rehearsal, so that a log read from its end cannot mistake it.
_REHEARSAL_NOTE = (
    "this was a rehearsal (--emulator): nothing was sent to a real API, and these clients "
    "and invite links exist nowhere now"
)


@attrs.define
class _Tally:
    """What this run did, as opposed to what the journal remembers of earlier runs."""

    created: int = 0
    #: The item (index, key) of the first row, in the file's order, whose invite this
    #: run created: the one the summary shows. A count and one key, not a set of keys.
    first_created: tuple[int, str] | None = None
    failed_now: int = 0

    def add(self, result: ItemResult[Any]) -> None:
        if result.ok:
            if result.outcome == "created":
                self.created += 1
                if self.first_created is None or result.index < self.first_created[0]:
                    self.first_created = (result.index, result.key)
        elif result.outcome == "failed" and not result.earlier:
            self.failed_now += 1

    def exit_code(self, counts: Counts, *, known_invalid_ok: bool) -> int:
        """0 all onboarded; 1 otherwise, unless only known rows are left and that is fine."""
        if counts.all_ok or (known_invalid_ok and self.failed_now == 0):
            return 0
        return 1


@contextlib.contextmanager
def _disk_errors(journal: Path, out: Path) -> Iterator[None]:
    """A damaged journal (exit 2) or a full disk (exit 1) as one line, never a traceback."""
    try:
        yield
    except sqlite3.OperationalError as error:
        if "disk" not in str(error) and "full" not in str(error):
            raise _damaged(journal, error) from None
        raise Stopped(
            f"cannot write the journal {journal} ({error}); free some space and run the same "
            "command again: what was sent is in the journal, nothing is sent twice"
        ) from None
    except sqlite3.DatabaseError as error:
        raise _damaged(journal, error) from None
    except OSError as error:
        raise Stopped(
            f"cannot write {error.filename or out} ({error.strerror or error}); free some space "
            "and run the same command again: the journal keeps what was done"
        ) from None


#: What to do with a journal that cannot be read, said honestly.
_DAMAGED_HINT = (
    "move it aside and run again with --fresh-journal (a new journal does not know which "
    "rows the old one had sent)"
)


def _damaged(journal: Path, error: Exception) -> UsageError:
    return UsageError(f"{journal}: the journal is damaged ({error}); {_DAMAGED_HINT}")


_WAIT_POLL = 0.5
_MISMATCH_HINT = {
    "job": "to change the existing access requests to these services and options, run "
    "with --update-links; --fresh-journal starts a new journal (existing clients are found, "
    "not made again)",
    "base_url": "a journal of another server is not proof of anything here: use "
    "--fresh-journal (the old one is renamed, not deleted)",
    "key": "if the key was rolled for the same account, pass --key-rotated; if it is "
    "another account, use --fresh-journal",
}


async def _open_journal(
    start: Callable[..., BulkRun[Any]], journal: Path, *, wait: bool, update_links: bool
) -> BulkRun[Any]:
    """Start the run on its journal; a journal problem is one line, or a wait with ``--wait``.

    With ``update_links``, a journal of the same job with other services or
    options is set aside (renamed) for a new one: every row is then found in
    the account and its access request updated.
    """
    announced = False
    while True:
        try:
            return start()
        except JournalLockedError as error:
            if not wait:
                raise UsageError(f"{error} (or pass --wait)") from None
            if not announced:
                print(f"onboard: {error}; waiting (--wait)", file=sys.stderr, flush=True)
                announced = True
            await asyncio.sleep(_WAIT_POLL)
        except JournalMismatchError as error:
            if error.what == "job" and update_links:
                return start(replace=True)
            raise UsageError(f"{error}; {_MISMATCH_HINT[error.what]}") from None
        except JournalError as error:
            raise UsageError(f"{error}; {_DAMAGED_HINT}") from None


def _items(
    table: ClientsCsv, services: RequestedServices, invalid: _InvalidRows
) -> Iterator[OnboardItem]:
    for row in table.rows():
        try:
            client = to_new_client(row, services, table.columns)
        except RowError:
            invalid.count += 1  # reported in the results file, never sent
            continue
        yield OnboardItem(client, key=row.key, row=row.number)
