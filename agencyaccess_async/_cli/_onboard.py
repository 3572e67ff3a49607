"""``agencyaccess-async onboard``: a client and an access request for every row of a CSV.

Against the hosted API with ``AGENCYACCESS_API_KEY`` (or any ``--base-url``),
or, with neither, against an emulator started in-process. Every row's state
goes to a journal (SQLite) as it changes, so an interrupted run is finished
by running the same command again, with no duplicates. The results file
(every input row plus client_id, link_id, invite_url, status, error) is
written atomically, also after Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import attrs

from .._bulk import BulkProgress, BulkRun, JournalError, JournalLocked, JournalMismatch, OnboardItem
from .._bulk._progress import ProgressDisplay
from .._errors import (
    APIError,
    AuthenticationError,
    DecodeError,
    InvalidServiceError,
    SessionError,
    TransportError,
)
from .._hooks import logger
from .._http import redacted_url
from .._limiter import Limiter
from .._models import UNSET
from .._redis_limiter import RedisLimiter
from .._retry import RetryPolicy
from .._services import RequestedServices, advise
from .._session import Session, checked_base_url
from ._common import Stopped, UsageError, add_command
from ._results import write_results
from ._rows import ClientsCsv, RowError, to_new_client
from ._signals import run_until_signal

__all__ = ["DEFAULT_CONCURRENCY", "add_onboard_command", "run"]

#: Requests in flight by default: at 20 ms of latency, 64 reach ~0.8 of what
#: 64 allow (benchmarks/bench_cli.py); 16 reached 0.18.
DEFAULT_CONCURRENCY = 64


def add_onboard_command(commands: Any) -> None:
    """Register the ``onboard`` subcommand."""
    parser = add_command(
        commands, "onboard", "create a client and an access request for every row of a CSV", __doc__
    )
    parser.add_argument(
        "csv",
        metavar="CLIENTS.csv",
        help="the clients: a CSV or text export (any of , ; tab; UTF-8, UTF-16 or "
        "Windows-1252) or an .xlsx workbook, with name and email columns and optionally "
        "company, website, type, language, external_id and metadata.* (CRM export names "
        "such as 'Company Name' or 'E-mail Address' are understood). A row's identity is "
        "its external_id, else its e-mail address: a row with one already onboarded, by "
        "any run or machine, is found, never made twice",
    )
    parser.add_argument(
        "--services",
        required=True,
        metavar="SERVICES.json",
        help="requested services, as the dashboard exports them",
    )
    parser.add_argument(
        "--out", metavar="RESULTS.csv", help="results file (default: CLIENTS.results.csv)"
    )
    parser.add_argument(
        "--journal", metavar="PATH", help="progress journal (default: RESULTS.csv.journal)"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help=f"requests in flight (default {DEFAULT_CONCURRENCY}; the rate limiter, "
        "not this, holds a run back)",
    )
    parser.add_argument("--rate-limit", type=float, help="requests per second to stay under")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("AGENCYACCESS_REDIS_URL"),
        help="share one rate budget with every process on the same key through this Redis "
        "(default: $AGENCYACCESS_REDIS_URL); needs the redis extra",
    )
    parser.add_argument(
        "--redis-fallback",
        action="store_true",
        help="when Redis cannot be reached at the start, pace locally at this process's share "
        "of the rate instead of refusing to start (a wrong URL, port or password is an error "
        "otherwise)",
    )
    parser.add_argument(
        "--shard",
        metavar="I/N",
        help="onboard only shard I of N (rows I, I+N, ...): run N processes, one per shard, "
        "each with its own --out",
    )
    parser.add_argument(
        "--base-url",
        help="API base URL (default: the hosted API if AGENCYACCESS_API_KEY is set, "
        "else an embedded emulator)",
    )
    parser.add_argument(
        "--retry-failed", action="store_true", help="retry rows that failed in an earlier run"
    )
    parser.add_argument(
        "--wait",
        action="store_true",
        help="if another process is using the journal, wait for it instead of exiting",
    )
    parser.add_argument(
        "--fresh-journal",
        action="store_true",
        help="set aside (rename) a journal of another job, server or key and start a new one",
    )
    parser.add_argument(
        "--key-rotated",
        action="store_true",
        help="the journal was written with an earlier key of the same account: accept it",
    )
    parser.add_argument(
        "--no-escape-formulas",
        dest="escape_formulas",
        action="store_false",
        help="write results cells starting with = + - @ as they are (by default they get a "
        "leading ' so that a spreadsheet does not run them)",
    )
    parser.add_argument(
        "--send-email", action="store_true", help="have AgencyAccess e-mail each invite"
    )
    parser.add_argument(
        "--delimiter", help="CSV delimiter (default: whichever of , ; and tab the header uses)"
    )
    parser.add_argument(
        "--encoding",
        help="the file's text encoding (default: UTF-8, or UTF-16 with a BOM, else "
        "Windows-1252 with a note)",
    )
    parser.add_argument("--sheet", help="the sheet of an .xlsx workbook (default: the first)")
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="read FIELD (name, email, company, website, type, language, external_id) from "
        "COLUMN; repeatable, e.g. --map name='Company Name'",
    )
    parser.add_argument(
        "--key-column",
        metavar="COLUMN",
        help="identify rows by this column instead of external_id or the e-mail address "
        "(two rows with one value are one client)",
    )
    parser.add_argument(
        "--update-links",
        action="store_true",
        help="for a finished job given other services or options: update each row's "
        "existing access request to them (never a new client or invite)",
    )
    parser.add_argument(
        "--excel",
        action="store_true",
        help="write the results file as UTF-8 with a BOM, as Excel needs to show accents",
    )
    parser.add_argument(
        "--strict-services",
        action="store_true",
        help="refuse services the SDK's catalog does not know (default: warn, and send them "
        "as the file has them)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Check the inputs, then onboard; returns 0, 1 (some rows failed), 130 or 143 (stopped)."""
    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    if args.rate_limit is not None and not 0 < args.rate_limit < math.inf:
        raise UsageError("--rate-limit must be a positive number of requests per second")
    if args.base_url is not None:
        try:
            checked_base_url(args.base_url)
        except SessionError as error:
            raise UsageError(f"--base-url: {error}") from None
    delimiter = "\t" if args.delimiter in ("\\t", "tab") else args.delimiter
    if delimiter is not None and len(delimiter) != 1:
        raise UsageError("--delimiter must be one character")
    _show_warnings()
    services = _load_services(args.services, strict=args.strict_services)
    table = ClientsCsv(
        args.csv,
        delimiter,
        _shard(args.shard),
        encoding=args.encoding,
        sheet=args.sheet,
        mapped=_mapped(args.map),
        key_column=args.key_column,
    )
    if table.source.note:
        print(f"onboard: note: {table.source.note}", file=sys.stderr)
    out = Path(args.out) if args.out else Path(args.csv).with_suffix(".results.csv")
    # An embedded emulator's run keeps a journal of its own: a later run against a real
    # server is never blocked by it and never trusts it.
    suffix = ".emulator.journal" if _embedded(args) else ".journal"
    journal = Path(args.journal) if args.journal else out.with_name(out.name + suffix)
    _check_output(out, "--out", table.path)
    _check_output(journal, "--journal", table.path)
    if _same_file(out, journal):
        raise UsageError(f"--journal {journal}: is the results file (--out)")
    total = sum(1 for _ in table.rows())  # also proves the whole file is readable
    return run_until_signal(_onboard(args, table, services, total, out, journal))


def _mapped(pairs: list[str]) -> dict[str, str]:
    """``--map FIELD=COLUMN`` flags as {field: column}."""
    mapped: dict[str, str] = {}
    for pair in pairs:
        field, equals, column = pair.partition("=")
        if not equals or not field.strip() or not column.strip():
            raise UsageError(f"--map {pair!r}: expected FIELD=COLUMN, e.g. name='Company Name'")
        mapped[field.strip().lower()] = column.strip()
    return mapped


def _shard(text: str | None) -> tuple[int, int]:
    """``I/N`` as (I, N), 1 <= I <= N; no shard is shard 1 of 1."""
    if text is None:
        return 1, 1
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count)):
        raise UsageError(f"--shard {text!r}: expected I/N with 1 <= I <= N, e.g. 2/4")
    return int(index), int(count)


def _limiter(args: argparse.Namespace) -> Limiter | None:
    """A RedisLimiter when --redis-url is given: one budget shared by every process."""
    if not args.redis_url:
        return None
    try:
        return RedisLimiter.from_url(
            args.redis_url,
            max_concurrency=args.concurrency,
            rate=args.rate_limit,
            start_fallback=args.redis_fallback,
        )
    except SessionError as error:
        raise UsageError(str(error)) from None
    except ValueError:  # never the URL itself in a message: it may hold a password
        raise UsageError("--redis-url: not a Redis URL (redis://host:port/db)") from None


def _show_warnings() -> None:
    """The SDK's warnings (a service the catalog does not know, a capped wait) as one line each."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("onboard: warning: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(min(logger.getEffectiveLevel(), logging.WARNING))


def _check_output(path: Path, option: str, source: Path) -> None:
    """Refuse, before any row is sent, an output file that would lose or hide something.

    The input itself (followed through links), a symbolic link, a FIFO, a
    device or a directory: the results are written to a temporary file and
    renamed over ``path``, which would replace any of these with a regular file.
    """
    folder = path.parent
    if not folder.is_dir():
        raise UsageError(f"{option} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"{option} {path}: the folder {folder} is not writable")
    if _same_file(path, source):
        raise UsageError(f"{option} {path}: is the input file; name another file")
    if path.is_symlink():
        raise UsageError(f"{option} {path}: is a symbolic link; name the file itself")
    if path.is_dir():
        raise UsageError(f"{option} {path}: is a directory")
    if path.exists() and not path.is_file():
        raise UsageError(f"{option} {path}: is not a regular file (a pipe or a device)")


def _same_file(one: Path, other: Path) -> bool:
    """Whether two paths name one file, links followed (also when ``one`` does not exist yet)."""
    try:
        if one.exists() and other.exists():
            return os.path.samefile(one, other)
    except OSError:
        return False
    return one.resolve() == other.resolve()


def _load_services(path: str, *, strict: bool) -> Mapping[str, Any]:
    """The services file's JSON, to send as it is; checked against the catalog as advice."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{path}: cannot read it ({error})") from None
    except json.JSONDecodeError as error:
        raise UsageError(f"{path}: not JSON (line {error.lineno}: {error.msg})") from None
    except RecursionError:
        raise UsageError(f"{path}: nested too deeply to be requested services") from None
    if isinstance(raw, dict) and set(raw) == {"requestedServices"}:
        raw = raw["requestedServices"]
    try:
        advise(raw, strict=strict)
        RequestedServices.from_json(raw, validate=False)  # the shape the rows are checked with
    except InvalidServiceError as error:
        raise UsageError(f"{path}: {error.msg}") from None
    return cast("Mapping[str, Any]", raw)


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
    table: ClientsCsv,
    services: Mapping[str, Any],
    total: int,
    out: Path,
    journal: Path,
) -> int:
    with _disk_errors(journal, out):
        rules = RequestedServices.from_json(services, validate=False)  # for checking rows
        invalid = _InvalidRows()
        display = ProgressDisplay(sys.stderr, total)
        interrupted = False
        async with _target(args.base_url) as (base_url, api_key):
            session = Session(
                api_key,
                base_url=base_url,
                max_concurrency=args.concurrency,
                rate_limit=args.rate_limit,
                limiter=_limiter(args),
                strict_services=args.strict_services,
            )
            async with session:
                await _check_access(session)

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
                        journal_target=EMBEDDED_TARGET if _embedded(args) else None,
                        concurrency=args.concurrency,
                        total=total,
                        progress=lambda p: display(invalid.shift(p)),
                    )

                run = await _open_journal(
                    start, journal, wait=args.wait, update_links=args.update_links
                )
                try:
                    await run.run()
                except asyncio.CancelledError:
                    interrupted = True
                    raise  # run_until_signal turns it into exit code 130 or 143
                finally:
                    display.close()
                    counts = write_results(
                        table,
                        out,
                        journal,
                        rules,
                        escape_formulas=args.escape_formulas,
                        excel=args.excel,
                    )
                    print(counts.summary(out, interrupted), file=sys.stderr)
        return 0 if counts.all_ok else 1


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
        except JournalLocked as error:
            if not wait:
                raise UsageError(f"{error} (or pass --wait)") from None
            if not announced:
                print(f"onboard: {error}; waiting (--wait)", file=sys.stderr, flush=True)
                announced = True
            await asyncio.sleep(_WAIT_POLL)
        except JournalMismatch as error:
            if error.what == "job" and update_links:
                return start(replace=True)
            raise UsageError(f"{error}; {_MISMATCH_HINT[error.what]}") from None
        except JournalError as error:
            raise UsageError(f"{error}; {_DAMAGED_HINT}") from None


_CHECK_RETRY = RetryPolicy(attempts=4, deadline=15)
"""Enough tries that a dropped connection or two does not end the run (waits of ~1.4 s at
most, so an unreachable URL is still reported promptly)."""


async def _check_access(session: Session) -> None:
    """One cheap call first, so a wrong key or URL is one line, not a failure on every row."""
    try:
        await session.clients.list(limit=1, retry=_CHECK_RETRY).page()
    except AuthenticationError:
        raise UsageError(f"{redacted_url(session.base_url)} refused the API key (401)") from None
    except TransportError as error:
        raise UsageError(
            f"cannot reach {redacted_url(session.base_url)}: {error.message}"
        ) from None
    except SessionError as error:  # e.g. a shared rate limit whose Redis cannot be reached
        raise UsageError(str(error)) from None
    except (APIError, DecodeError):
        pass  # e.g. a key without clients:retrieve: the rows will say what they can


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


def _embedded(args: argparse.Namespace) -> bool:
    """Whether this run goes to an embedded emulator: no --base-url and no key."""
    return not args.base_url and not os.environ.get("AGENCYACCESS_API_KEY")


#: What the journal of an embedded emulator's run names as its target and key: its
#: address changes with every run, so a re-run of the same command finishes at once.
EMBEDDED_TARGET = "embedded-emulator"
EMBEDDED_KEY = "aa_embedded_emulator"


@contextlib.asynccontextmanager
async def _target(base_url: str | None) -> AsyncIterator[tuple[str | None, str | None]]:
    """Where to send: the given URL, the hosted API with a key, or an embedded emulator."""
    api_key = os.environ.get("AGENCYACCESS_API_KEY")
    if base_url or api_key:
        if not api_key:
            raise UsageError("set AGENCYACCESS_API_KEY to use --base-url")
        yield base_url, api_key
        return
    from ..emulator import EmulatorConfig, EmulatorServer

    async with EmulatorServer(EmulatorConfig(api_key=EMBEDDED_KEY)) as emulator:
        print(
            f"onboard: no AGENCYACCESS_API_KEY and no --base-url: using an embedded emulator at "
            f"{emulator.base_url} (nothing leaves this machine; its invite links are an "
            "emulator's and stop working when this command ends)",
            file=sys.stderr,
        )
        yield emulator.base_url, emulator.api_key
