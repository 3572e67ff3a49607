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
import os
import sqlite3
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import attrs

from .._bulk import BulkProgress, OnboardItem
from .._errors import APIError, AuthenticationError, DecodeError, TransportError
from .._journal import JournalMismatch
from .._models import UNSET
from .._retry import RetryPolicy
from .._services import RequestedServices
from .._session import Session
from ._common import UsageError
from ._progress import ProgressDisplay
from ._results import write_results
from ._rows import ClientsCsv, RowError, to_new_client


def add_onboard_command(commands: Any) -> None:
    """Register the ``onboard`` subcommand."""
    parser = commands.add_parser(
        "onboard",
        help="create a client and an access request for every row of a CSV",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "csv",
        metavar="CLIENTS.csv",
        help="name,email[,company,website,type,language,external_id,metadata.*]",
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
        "--concurrency", type=int, default=16, help="requests in flight (default 16)"
    )
    parser.add_argument("--rate-limit", type=float, help="requests per second to stay under")
    parser.add_argument(
        "--base-url",
        help="API base URL (default: the hosted API if AGENCYACCESS_API_KEY is set, "
        "else an embedded emulator)",
    )
    parser.add_argument(
        "--retry-failed", action="store_true", help="retry rows that failed in an earlier run"
    )
    parser.add_argument(
        "--send-email", action="store_true", help="have AgencyAccess e-mail each invite"
    )
    parser.add_argument("--delimiter", default=",", help="CSV delimiter (default ',')")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Check the inputs, then onboard; returns 0, 1 (some rows failed) or 130 (interrupted)."""
    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    if args.rate_limit is not None and args.rate_limit <= 0:
        raise UsageError("--rate-limit must be positive")
    delimiter = "\t" if args.delimiter in ("\\t", "tab") else args.delimiter
    if len(delimiter) != 1:
        raise UsageError("--delimiter must be one character")
    services = _load_services(args.services)
    table = ClientsCsv(args.csv, delimiter)
    total = sum(1 for _ in table.rows())  # also proves the whole file is readable
    out = Path(args.out) if args.out else Path(args.csv).with_suffix(".results.csv")
    journal = Path(args.journal) if args.journal else out.with_name(out.name + ".journal")
    return asyncio.run(_onboard(args, table, services, total, out, journal))


def _load_services(path: str) -> RequestedServices:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{path}: cannot read it ({error})") from None
    except json.JSONDecodeError as error:
        raise UsageError(f"{path}: not JSON (line {error.lineno}: {error.msg})") from None
    if isinstance(raw, dict) and set(raw) == {"requestedServices"}:
        raw = raw["requestedServices"]
    try:
        return RequestedServices.from_json(raw)
    except ValueError as error:
        raise UsageError(f"{path}: {error}") from None


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
    services: RequestedServices,
    total: int,
    out: Path,
    journal: Path,
) -> int:
    invalid = _InvalidRows()
    display = ProgressDisplay(sys.stderr, total)
    interrupted = False
    async with _target(args.base_url) as (base_url, api_key):
        session = Session(
            api_key, base_url=base_url, max_concurrency=args.concurrency, rate_limit=args.rate_limit
        )
        async with session:
            await _check_access(session)
            try:
                run = session.bulk.onboard(
                    _items(table, services, invalid),
                    services=services,
                    send_email=True if args.send_email else UNSET,
                    journal=journal,
                    retry_failed=args.retry_failed,
                    concurrency=args.concurrency,
                    total=total,
                    progress=lambda p: display(invalid.shift(p)),
                )
            except JournalMismatch as error:
                raise UsageError(str(error)) from None
            except sqlite3.DatabaseError as error:
                raise UsageError(f"{journal}: not a journal file ({error})") from None
            try:
                await run.run()
            except asyncio.CancelledError:
                interrupted = True
            finally:
                display.finish()
                counts = write_results(table, out, journal, services)
    print(counts.summary(out, interrupted), file=sys.stderr)
    if interrupted:
        raise KeyboardInterrupt
    return 0 if counts.all_ok else 1


async def _check_access(session: Session) -> None:
    """One cheap call first, so a wrong key or URL is one line, not a failure on every row."""
    try:
        await session.clients.list(limit=1, retry=RetryPolicy(attempts=2, deadline=15)).page()
    except AuthenticationError:
        raise UsageError(f"{session.base_url} refused the API key (401)") from None
    except TransportError as error:
        raise UsageError(f"cannot reach {session.base_url}: {error.message}") from None
    except (APIError, DecodeError):
        pass  # e.g. a key without clients:retrieve: the rows will say what they can


def _items(
    table: ClientsCsv, services: RequestedServices, invalid: _InvalidRows
) -> Iterator[OnboardItem]:
    for row in table.rows():
        try:
            client = to_new_client(row, services)
        except RowError:
            invalid.count += 1  # reported in the results file, never sent
            continue
        yield OnboardItem(client, key=row.key, row=row.number)


@contextlib.asynccontextmanager
async def _target(base_url: str | None) -> AsyncIterator[tuple[str | None, str | None]]:
    """Where to send: the given URL, the hosted API with a key, or an embedded emulator."""
    api_key = os.environ.get("AGENCYACCESS_API_KEY")
    if base_url or api_key:
        if not api_key:
            raise UsageError("set AGENCYACCESS_API_KEY to use --base-url")
        yield base_url, api_key
        return
    from ..emulator import EmulatorServer

    async with EmulatorServer() as emulator:
        print(
            f"onboard: no AGENCYACCESS_API_KEY and no --base-url: using an embedded emulator at "
            f"{emulator.base_url} (nothing leaves this machine)",
            file=sys.stderr,
        )
        yield emulator.base_url, emulator.api_key
