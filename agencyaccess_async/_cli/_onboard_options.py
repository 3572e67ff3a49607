"""The ``onboard`` command's help and options, in the groups a reader looks for them by.

Input, target, pacing, output, journal and run: ``--help`` lists each group
under its title, after a plain description with examples and before the exit
codes. Every default a help text states is the one the option has.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

from ._common import add_command
from ._cron import add_cron_options

__all__ = ["DEFAULT_CONCURRENCY", "EXIT_CODES", "add_onboard_command"]

#: Requests in flight by default: at 20 ms of latency, 64 reach ~0.8 of what
#: 64 allow (benchmarks/bench_cli.py); 16 reached 0.18.
DEFAULT_CONCURRENCY = 64

_HELP = """Create a client and an access request for every row of a clients file.

It sends to the hosted API (or --base-url) with the API key in
AGENCYACCESS_API_KEY or AGENCYACCESS_API_KEY_FILE; --emulator rehearses
against an emulator in this process instead, and every report says so. Each
row's state goes to a journal as it changes: an interrupted run is finished
by running the same command again, with no duplicates. The results file
(every input row plus client_name, client_id, link_id, invite_url, status,
error and target) is written whole, also after Ctrl-C.

examples:
  agencyaccess-async onboard clients.csv --services services.json --emulator
  agencyaccess-async onboard clients.csv --services services.json --dry-run --out checked.csv
  agencyaccess-async onboard board.xlsx --services services.json --send-email --yes"""

EXIT_CODES = """exit codes:
  0    every row onboarded (made, found already made, or updated); with
       --known-invalid-ok, also when the only others are invalid rows or rows
       that failed in an earlier run
  1    a row failed in this run, or rows are invalid or failed earlier
       (see the results file); a full disk
  2    a usage error: a bad option or file, a journal in use or of another
       target (one line, nothing sent)
  130  stopped by Ctrl-C (143: SIGTERM); the results so far are written"""


def add_onboard_command(commands: Any, run: Callable[[argparse.Namespace], int]) -> None:
    """Register the ``onboard`` subcommand, which ``run`` carries out."""
    parser = add_command(
        commands,
        "onboard",
        "create a client and an access request for every row of a CSV",
        _HELP,
        EXIT_CODES,
    )
    input_options = parser.add_argument_group("input", "the clients file and what to read from it")
    input_options.add_argument(
        "csv",
        metavar="CLIENTS.csv",
        help="the clients: a CSV or text export (any of , ; tab; UTF-8, UTF-16 or a legacy "
        "Western code page) or an .xlsx workbook, with name and email columns and optionally "
        "company, website, type, language, external_id and metadata.* (CRM export names "
        "such as 'Company Name' or 'E-mail Address' are understood). A row's identity is "
        "its external_id, else its e-mail address: a row with one already onboarded, by "
        "any run or machine, is found, never made twice",
    )
    input_options.add_argument(
        "--services",
        required=True,
        metavar="SERVICES.json",
        help="requested services, as the dashboard exports them",
    )
    input_options.add_argument(
        "--delimiter", help="CSV delimiter (default: whichever of , ; and tab the header uses)"
    )
    input_options.add_argument(
        "--encoding",
        help="the file's text encoding, e.g. cp1252, latin9, MacRoman (default: UTF-8, or "
        "UTF-16 with a BOM; else Windows-1252, ISO-8859-15 or Mac OS Roman when one is "
        "clearly right, with a note)",
    )
    input_options.add_argument(
        "--sheet", help="the sheet of an .xlsx workbook (default: the first)"
    )
    input_options.add_argument(
        "--header-row",
        type=int,
        metavar="N",
        help="the header is row N (default: row 1, or the first row below title rows that "
        "names a name and an e-mail column, as in a monday.com board's export)",
    )
    input_options.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="read FIELD (name, email, company, website, type, language, external_id) from "
        "COLUMN; repeatable, e.g. --map name='Company Name'",
    )
    input_options.add_argument(
        "--key-column",
        metavar="COLUMN",
        help="identify rows by this column instead of external_id or the e-mail address "
        "(two rows with one value are one client)",
    )
    input_options.add_argument(
        "--shard",
        metavar="I/N",
        help="onboard only shard I of N (rows I, I+N, ...): run N processes, one per shard, "
        "each with its own --out",
    )
    target_options = parser.add_argument_group("target", "where the requests go")
    target_options.add_argument(
        "--base-url",
        help="API base URL (default: $AGENCYACCESS_BASE_URL, else the hosted API)",
    )
    target_options.add_argument(
        "--emulator",
        action="store_true",
        help="rehearse: send to an emulator started in this process, never to a real API "
        "(every report says so; its invite links stop working when the command ends)",
    )
    target_options.add_argument(
        "--redis-url",
        default=os.environ.get("AGENCYACCESS_REDIS_URL"),
        help="share one rate budget with every process on the same key through this Redis, "
        "and hold this job's lease there so that no other run of it goes on anywhere at once "
        "(default: $AGENCYACCESS_REDIS_URL); needs the redis extra",
    )
    target_options.add_argument(
        "--redis-fallback",
        action="store_true",
        help="when Redis cannot be reached at the start, pace locally at this process's share "
        "of the rate instead of refusing to start (a wrong URL, port or password is an error "
        "otherwise)",
    )
    pacing_options = parser.add_argument_group("pacing", "how fast")
    pacing_options.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help=f"requests in flight (default {DEFAULT_CONCURRENCY}; the rate limiter, "
        "not this, holds a run back)",
    )
    pacing_options.add_argument(
        "--rate-limit", type=float, help="requests per second to stay under"
    )
    output_options = parser.add_argument_group("output", "what is written")
    output_options.add_argument(
        "--out",
        metavar="RESULTS.csv",
        help="results file (default: CLIENTS.results.csv); with --dry-run, every row's verdict",
    )
    output_options.add_argument(
        "--excel",
        action="store_true",
        help="write the results file as UTF-8 with a BOM, as Excel needs to show accents",
    )
    output_options.add_argument(
        "--no-escape-formulas",
        dest="escape_formulas",
        action="store_false",
        help="write results cells starting with = + - @ as they are (by default they get a "
        "leading ' so that a spreadsheet does not run them)",
    )
    add_cron_options(output_options)
    journal_options = parser.add_argument_group("journal", "the run's progress, for a re-run")
    journal_options.add_argument(
        "--journal", metavar="PATH", help="progress journal (default: RESULTS.csv.journal)"
    )
    journal_options.add_argument(
        "--retry-failed", action="store_true", help="retry rows that failed in an earlier run"
    )
    journal_options.add_argument(
        "--wait",
        action="store_true",
        help="if another process is using the journal, or (with --redis-url) another run "
        "anywhere holds this job's lease, wait for it instead of exiting",
    )
    journal_options.add_argument(
        "--fresh-journal",
        action="store_true",
        help="set aside (rename) a journal of another job, server or key and start a new one",
    )
    journal_options.add_argument(
        "--key-rotated",
        action="store_true",
        help="the journal was written with an earlier key of the same account: accept it",
    )
    run_options = parser.add_argument_group("run", "what a run does")
    run_options.add_argument(
        "--dry-run",
        action="store_true",
        help="check every row and the services file, print what would be sent, and send "
        "nothing (no journal, no results file; with --out FILE, every row's verdict); exit 0 "
        "when every row is valid",
    )
    run_options.add_argument(
        "--update-links",
        action="store_true",
        help="for a finished job given other services or options: update each row's "
        "existing access request to them (never a new client or invite)",
    )
    run_options.add_argument(
        "--send-email", action="store_true", help="have AgencyAccess e-mail each invite"
    )
    run_options.add_argument(
        "--yes",
        action="store_true",
        help="with --send-email against a real service: e-mail without asking (needed when "
        "there is no terminal to ask on)",
    )
    run_options.add_argument(
        "--known-invalid-ok",
        action="store_true",
        help="exit 0 when the only rows not onboarded are invalid ones or ones that failed "
        "in an earlier run (a nightly re-run with nothing new)",
    )
    run_options.add_argument(
        "--strict-services",
        action="store_true",
        help="refuse services the SDK's catalog does not know (default: warn, and send them "
        "as the file has them)",
    )
    parser.set_defaults(run=run)
