"""``onboard --dry-run``: every row checked and the first bodies shown, nothing sent.

It starts no Session and no emulator and opens no journal: the effects are
lines on stdout (what would be sent) and stderr (the counts and the first
invalid rows), and, with ``--out FILE``, a file of every row's verdict (its
cells, ``verdict`` and ``problem``), written as a stream like a results file.
"""

from __future__ import annotations

import collections
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .._converter import CONVERTER
from .._models import NewClient
from .._services import RequestedServices
from ._results import wants_bom, write_atomically
from ._rows import ClientsCsv, Row, RowError, to_new_client

__all__ = ["VERDICT_COLUMNS", "dry_run"]

#: The rows whose bodies are printed.
_SHOWN_BODIES = 3
_SHOWN_ERRORS = 10
#: The columns ``--dry-run --out`` adds to each row's own.
VERDICT_COLUMNS = ["verdict", "problem"]


class _Tally:
    """Each row's verdict, counted as it goes; the first bodies and problems kept to show."""

    def __init__(self, rules: RequestedServices, table: ClientsCsv) -> None:
        self._rules, self._table = rules, table
        self.valid = self.problems = 0
        self.shown: list[NewClient] = []
        self.invalid: list[str] = []

    def check(self, row: Row) -> list[str]:
        try:
            client = to_new_client(row, self._rules, self._table.columns)
        except RowError as error:
            self.problems += 1
            if len(self.invalid) < _SHOWN_ERRORS:
                self.invalid.append(f"row {row.number}: {error}")
            return ["invalid", str(error)]
        self.valid += 1
        if len(self.shown) < _SHOWN_BODIES:
            self.shown.append(client)
        return ["valid", ""]


def dry_run(
    table: ClientsCsv,
    services: Mapping[str, Any],
    target: str,
    *,
    out: Path | None = None,
    excel: bool = False,
) -> int:
    """Check every row; print the counts, the invalid rows and the first bodies; 0 if all valid.

    With ``out``, also write every row's verdict there (atomically).
    """
    tally = _Tally(RequestedServices.from_json(services, validate=False), table)
    header = [c for c in table.header if c and c not in VERDICT_COLUMNS]

    def verdicts() -> Iterator[list[str]]:
        for row in table.rows():
            verdict = tally.check(row)
            yield [row.cells.get(c, "") for c in header] + verdict

    if out is None:
        collections.deque(verdicts(), maxlen=0)  # checked and counted, nothing kept
    else:
        write_atomically(
            out,
            header + VERDICT_COLUMNS,
            verdicts(),
            delimiter=table.delimiter,
            bom=wants_bom(table, excel=excel),
            escape_formulas=True,
        )
    for client in tally.shown:
        print(json.dumps({"clients.create": CONVERTER.unstructure(client)}, ensure_ascii=False))
    valid, problems = tally.valid, tally.problems
    if valid:
        link = {"clientID": "<the new client's id>", "requestedServices": services}
        print(json.dumps({"links.create": link}, ensure_ascii=False))
    written = f"every row's verdict is in {out}" if out else "nothing was written"
    print(
        f"onboard --dry-run: {valid + problems} rows: {valid} valid, "
        f"{problems} invalid; a run would send {2 * valid} creates (a client and an "
        f"access request per valid row, fewer for rows already onboarded) to {target}; "
        f"nothing was sent; {written}",
        file=sys.stderr,
    )
    for line in tally.invalid:
        print(f"onboard --dry-run: {line}", file=sys.stderr)
    if problems > len(tally.invalid):
        more = problems - len(tally.invalid)
        where = f" (see {out})" if out else " (--out FILE lists every row)"
        print(f"onboard --dry-run: … and {more} more{where}", file=sys.stderr)
    return 0 if not problems else 1
