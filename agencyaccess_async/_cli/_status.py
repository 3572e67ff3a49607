"""``agencyaccess-async status``: which clients have granted access, from a results file.

Reads the results file of ``onboard`` (or a status file this command wrote)
and writes every column of it plus, for each row with a link_id:

  link_status        granted, partial, rejected (a service was refused) or pending;
                     "not found" for a link that no longer exists
  access             each service and its state, in words: "Google Ads: granted; ..."
  services_granted   platform.service of each granted service, space-separated
  services_pending   ... of each service not answered yet
  services_rejected  ... of each service the client refused
  intake_form        not requested, pending or completed
  checked_at         when it was read (UTC)

Statuses are read in list pages of 100 (about one request per 100 links),
never one call per link. --watch SECONDS checks again until every link is
granted, or Ctrl-C, printing only what changed. --html REPORT.html also
writes a one-page report a manager can read: the counts, grants by platform,
and the clients still to answer with their invite links. Needs the API key of the account
the file was onboarded with (AGENCYACCESS_API_KEY or AGENCYACCESS_API_KEY_FILE);
it reads the links where the file was onboarded (its target column) unless
--base-url says otherwise. Stopped by Ctrl-C, the file holds the last
complete check.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._errors import AgencyAccessError
from .._models import Link
from .._scratch import scratch_db
from .._session import Session
from ._common import Stopped, UsageError, add_command
from ._connect import Target, check_account, check_base_url_option, reaching, recorded_target
from ._cron import add_any_account_option
from ._report import Report, readable_access, readable_intake
from ._results import ResultsFile, check_output, write_atomically
from ._signals import run_until_signal

__all__ = ["STATUS_COLUMNS", "add_status_command"]

STATUS_COLUMNS = [
    "link_status",
    "access",
    "services_granted",
    "services_pending",
    "services_rejected",
    "intake_form",
    "checked_at",
]
_STATES = ("granted", "partial", "rejected", "pending", "not found")


_HELP = """Show which clients have granted access, from the results file onboard wrote.

It writes every column of the file plus, for each row with a link: link_status
(granted, partial, rejected, pending, or "not found"), access in words
("Google Ads: granted; Meta Ads: pending"), the services granted, pending and
rejected as the API names them, the intake form's state and when it was
checked. Statuses are read in list pages of 100, about one request per 100
links. It reads where the file was onboarded (its target column), with the key
of that account (AGENCYACCESS_API_KEY or AGENCYACCESS_API_KEY_FILE).

examples:
  agencyaccess-async status clients.results.csv
  agencyaccess-async status clients.results.csv --html report.html
  agencyaccess-async status clients.status.csv --watch 60"""


def add_status_command(commands: Any) -> None:
    """Register the ``status`` subcommand."""
    parser = add_command(
        commands, "status", "which clients have granted access (from a results file)", _HELP
    )
    parser.add_argument("results", metavar="RESULTS.csv", help="what onboard (or status) wrote")
    parser.add_argument(
        "--out",
        metavar="STATUS.csv",
        help="where to write (default: CLIENTS.status.csv beside CLIENTS.results.csv; a "
        "status file is rewritten in place)",
    )
    parser.add_argument(
        "--watch",
        type=float,
        metavar="SECONDS",
        help="check again every SECONDS until every link is granted (or Ctrl-C)",
    )
    parser.add_argument(
        "--html",
        metavar="REPORT.html",
        help="also write a one-page report: counts, grants by platform, clients still to answer",
    )
    parser.add_argument(
        "--json", action="store_true", help="print a machine-readable summary on stdout"
    )
    parser.add_argument(
        "--base-url",
        help="API base URL (default: where the file was onboarded, as its target column says)",
    )
    add_any_account_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Read the statuses and write them; 0, 2 (usage) or 130/143 (stopped)."""
    if args.watch is not None and not args.watch > 0:
        raise UsageError("--watch must be a positive number of seconds")
    check_base_url_option(args.base_url)
    table = ResultsFile.read(Path(args.results), without=STATUS_COLUMNS)
    where = recorded_target(table.target, args.base_url, path=table.path, command="status")
    out = Path(args.out) if args.out else _default_out(table)
    check_output(out, "--out", None if out.name.endswith(".status.csv") else table.path)
    if args.html is not None:
        check_output(Path(args.html), "--html", table.path)
    return run_until_signal(_status(args, where, table, out))


def _default_out(table: ResultsFile) -> Path:
    name = table.path.name
    for suffix in (".status.csv", ".results.csv", ".csv"):
        if name.endswith(suffix):
            return table.path.with_name(name[: -len(suffix)] + ".status.csv")
    return table.path.with_name(name + ".status.csv")


async def _status(args: argparse.Namespace, where: Target, table: ResultsFile, out: Path) -> int:
    async with Session(where.key, base_url=where.base_url) as session:
        started = time.monotonic()
        sent = session.stats.requests  # the first check counts the account check too
        if not args.any_account:
            await check_account(session, "links", table.live_link_ids(), table.path)
        with contextlib.closing(_Statuses()) as statuses:
            watched = False
            while True:
                checked = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
                statuses.new_round()
                await _check(session, table.link_ids(), statuses, checked)
                report = Report() if args.html is not None else None
                try:
                    counts = _write(table, out, statuses, checked, report)
                except OSError as error:  # a full disk, a file locked by a spreadsheet
                    raise Stopped(
                        f"cannot write {out} ({error.strerror or error}): the statuses of "
                        f"{statuses.found} links were read but not written, and {out.name} is "
                        "as it was"
                    ) from None
                if report is not None:
                    _write_report(report, Path(args.html), out, counts, checked)
                links = sum(counts.values())
                summary = {
                    **{state: counts.get(state, 0) for state in _STATES},
                    "links": links,
                    "rows_without_link": table.count() - links,
                    "requests": session.stats.requests - sent,
                    "elapsed": round(time.monotonic() - started, 3),
                    "checked_at": checked,
                    "out": str(out),
                }
                _report(table, statuses, summary, as_json=args.json, changes=watched)
                if args.watch is None or statuses.all_granted():
                    return 0
                watched = True
                await asyncio.sleep(args.watch)
                started, sent = time.monotonic(), session.stats.requests


def _write_report(
    report: Report, path: Path, out: Path, counts: Counter[str], checked: str
) -> None:
    """The HTML report of the check just written; a failure stops in one line."""
    try:
        report.write(path, counts, checked)
    except OSError as error:
        raise Stopped(
            f"cannot write {path} ({error.strerror or error}): {out.name} is written"
        ) from None
    print(f"status: report written to {path}", file=sys.stderr)


class _Statuses:
    """What one check read, by link id, in a temporary SQLite file: no memory per link.

    Each link's status columns, and its overall status of the round before
    (for ``--watch`` to print what changed).
    """

    def __init__(self) -> None:
        self._db = scratch_db(
            "links (id TEXT PRIMARY KEY, columns TEXT NOT NULL, now TEXT, before TEXT)"
        )
        self.found = 0

    def new_round(self) -> None:
        """Keep each link's overall status as the one before; forget what was read."""
        self._db.execute("UPDATE links SET before = now, now = NULL")
        self.found = 0

    def record(self, links: tuple[Link, ...], checked: str) -> None:
        rows = [
            (link.link_id, json.dumps(_columns(link, checked)), link.overall_status)
            for link in links
        ]
        self._db.executemany(
            "INSERT INTO links (id, columns, now) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE "
            "SET columns = excluded.columns, now = excluded.now",
            rows,
        )
        self.found += len(rows)

    def columns(self, link_id: str) -> tuple[list[str], str | None] | None:
        """The link's status columns and its overall status the round before; None if unread."""
        found = self._db.execute(
            "SELECT columns, before FROM links WHERE id = ? AND now IS NOT NULL", (link_id,)
        ).fetchone()
        return (json.loads(found[0]), found[1]) if found else None

    def all_granted(self) -> bool:
        """Whether every link found this round is granted."""
        left = self._db.execute(
            "SELECT count(*) FROM links WHERE now IS NOT NULL AND now != 'granted'"
        ).fetchone()
        return bool(left[0] == 0)

    def close(self) -> None:
        self._db.close()


async def _check(
    session: Session, link_ids: Iterator[str], statuses: _Statuses, checked: str
) -> None:
    """Read the links' statuses in pages into ``statuses``; a failure is one line."""
    try:
        with reaching(session):
            async for links in session.links.statuses(link_ids):
                statuses.record(links, checked)
    except AgencyAccessError as error:
        raise UsageError(f"cannot read the statuses: {error}") from None


def _write(
    table: ResultsFile, out: Path, statuses: _Statuses, checked: str, report: Report | None
) -> Counter[str]:
    """Write the status file (and feed ``report`` each row with a link, in the same pass)."""
    counts: Counter[str] = Counter()

    def rows() -> Any:
        for row in table.rows():
            link_id = row.get("link_id", "").strip()
            added = [""] * len(STATUS_COLUMNS)
            if link_id:
                found = statuses.columns(link_id)
                added = found[0] if found else _columns(None, checked)
                counts[added[0]] += 1
                if report is not None:
                    report.add({**row, **dict(zip(STATUS_COLUMNS, added, strict=True))})
            yield [row.get(c, "") for c in table.header] + added

    write_atomically(
        out,
        table.header + STATUS_COLUMNS,
        rows(),
        delimiter=table.delimiter,
        bom=table.bom,
        escape_formulas=True,
    )
    return counts


def _columns(link: Link | None, checked: str) -> list[str]:
    if link is None:
        return ["not found", "", "", "", "", "", checked]
    by_state: dict[str, list[str]] = {"granted": [], "pending": [], "rejected": []}
    for grant in link.grants:
        state = getattr(grant.status, "value", grant.status) or "pending"
        by_state.setdefault(state, []).append(f"{grant.platform}.{grant.service}")
    intake = getattr(link.intake_form_status, "value", link.intake_form_status)
    return [
        link.overall_status,
        readable_access(by_state),
        " ".join(by_state["granted"]),
        " ".join(by_state["pending"]),
        " ".join(by_state["rejected"]),
        readable_intake(str(intake)),
        checked,
    ]


def _report(
    table: ResultsFile,
    statuses: _Statuses,
    summary: dict[str, Any],
    *,
    as_json: bool,
    changes: bool,
) -> None:
    changed = 0
    if changes:  # a later round of --watch: only what changed since the one before
        for number, row in enumerate(table.rows(), start=2):
            link_id = row.get("link_id", "").strip()
            found = statuses.columns(link_id) if link_id else None
            if found is not None and found[1] not in (None, found[0][0]):
                changed += 1
                now, access = found[0][0], found[0][1] or "no service"
                print(
                    f"status: row {number} ({_who(row, link_id)}): {found[1]} -> {now} ({access})",
                    file=sys.stderr,
                )
        if not changed:
            return
    parts = ", ".join(f"{summary[s]} {s}" for s in _STATES if summary[s])
    print(
        f"status: {summary['links']} links: {parts or 'none'}; {summary['requests']} requests "
        f"in {summary['elapsed']:.1f}s; written to {summary['out']}",
        file=sys.stderr,
        flush=True,
    )
    if as_json:
        print(json.dumps(summary), flush=True)


def _who(row: dict[str, str], link_id: str) -> str:
    """A row's client as a person knows it: "Acme (ops@acme.test)", or its link id."""
    name = (row.get("name") or row.get("client_name") or "").strip()
    email = row.get("email", "").strip()
    return f"{name} ({email})" if name and email else name or email or link_id
