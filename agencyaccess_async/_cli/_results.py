"""Writing the onboard results file: every input row, plus what became of it.

The file is built from the input CSV and the journal (the journal is the
truth: it holds rows finished by earlier runs too), written to a temporary
file beside the target and renamed over it, so it is never half-written.

Cells that a spreadsheet would run as a formula (starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return) get a leading ``'``, as OWASP
advises against CSV injection; the values sent to the API are not touched.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import attrs

from .._bulk._journal import Journal
from .._services import RequestedServices
from ._common import UsageError, open_atomically, row_numbers
from ._rows import ClientsCsv, Row, RowError, to_new_client
from ._sources import Source, read_source

__all__ = [
    "RESULT_COLUMNS",
    "Counts",
    "ResultsFile",
    "check_output",
    "is_deleted",
    "same_file",
    "wants_bom",
    "write_atomically",
    "write_results",
]

#: What the results file adds to every input row: the client's name as it was sent (from
#: whichever column the mapping chose), what became of the row, and where it was sent.
RESULT_COLUMNS = ["client_name", "client_id", "link_id", "invite_url", "status", "error"]
_STATUS = {
    "done": "onboarded",
    "found": "onboarded (found)",
    "updated": "onboarded (updated)",
    "failed": "failed",
    "invalid": "invalid",
    "new": "not_started",  # claimed by a run that stopped before sending anything for it
}
_SHOWN = 10
#: Names of spreadsheet workbooks, which a CSV results file must not be given.
_WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".numbers")
_TARGET = "target"


@attrs.define
class Counts:
    """Rows by status, for the closing summary: how many, and the first few row numbers.

    Only the first ``_SHOWN`` numbers of each status are kept (what the
    summary shows), so a million rows cost no more than ten.
    ``first_invite`` is the first row whose invite this run created (a run
    that created nothing has none to show).
    """

    totals: dict[str, int] = attrs.field(factory=dict)
    rows: dict[str, list[int]] = attrs.field(factory=dict)
    first_invite: tuple[int, str] | None = None

    def add(self, status: str, number: int, created_invite: str = "") -> None:
        self.totals[status] = self.totals.get(status, 0) + 1
        shown = self.rows.setdefault(status, [])
        if len(shown) < _SHOWN:
            shown.append(number)
        if created_invite and self.first_invite is None:
            self.first_invite = (number, created_invite)

    def count(self, status: str) -> int:
        """Rows with this status (``onboarded`` counts found and updated rows too)."""
        return sum(n for s, n in self.totals.items() if s.split(" ")[0] == status)

    @property
    def all_ok(self) -> bool:
        """Whether every row was onboarded (made, found already made, or updated)."""
        return all(status.startswith("onboarded") for status in self.rows)

    def summary(self, out: Path, interrupted: bool, elapsed: float) -> str:
        """How many rows were onboarded, which were not, where the results are, how long."""
        total = sum(self.totals.values())
        onboarded = self.count("onboarded")
        how = [
            f"{self.totals[s]} {s[len('onboarded (') : -1]}"
            for s in ("onboarded (found)", "onboarded (updated)")
            if s in self.totals
        ]
        parts = [f"{onboarded} of {total} rows onboarded" + (f" ({', '.join(how)})" if how else "")]
        for status in ("invalid", "failed", "interrupted", "not_started"):
            numbers = self.rows.get(status)
            if numbers:
                many = self.totals[status]
                shown = row_numbers(numbers, many)
                parts.append(f"{many} {status.replace('_', ' ')} (rows {shown})")
        line = "onboard: " + "; ".join(parts) + f"; results in {out}; took {_clock(elapsed)}"
        if interrupted or "interrupted" in self.rows or "not_started" in self.rows:
            line += "; run the same command again to finish"
        elif "failed" in self.rows:
            line += "; add --retry-failed to try the failed rows again"
        if self.first_invite is not None:
            number, url = self.first_invite
            line += f"\nonboard: the invite URL of row {number}, to send to that client: {url}"
        return line


def write_results(
    table: ClientsCsv,
    out: Path,
    journal_path: Path,
    services: RequestedServices,
    *,
    escape_formulas: bool = True,
    excel: bool = False,
    first_created: str | None = None,
    target: str,
) -> Counts:
    """Write ``out`` atomically from the input rows and the journal; return the counts.

    With ``excel``, or an input that had a byte-order mark, was in a legacy
    encoding or was a workbook (a file from Excel, likely opened in it
    again), the file is UTF-8 with a BOM, which Excel needs to show accents
    right; rows end in
    CRLF either way, as RFC 4180 says. ``first_created`` is the key of the
    first row whose invite this run created (the summary shows its invite).
    ``target`` fills the ``target``
    column: the base URL the rows were onboarded against, which ``status``,
    ``update`` and ``delete`` then default to (a rehearsal's says so instead).
    """
    counts = Counts()
    header = [c for c in table.header if c and c not in (*RESULT_COLUMNS, _TARGET)]
    journal = Journal(journal_path, None) if journal_path.exists() else None

    def rows() -> Iterator[list[str]]:
        for row in table.rows():
            outcome = _outcome(row, journal, services, table)
            shown = outcome[3] if first_created is not None and row.key == first_created else ""
            counts.add(outcome[4], row.number, shown)
            yield [row.cells.get(c, "") for c in header] + outcome + [target]

    try:
        write_atomically(
            out,
            header + RESULT_COLUMNS + [_TARGET],
            rows(),
            delimiter=table.delimiter,
            bom=wants_bom(table, excel=excel),
            escape_formulas=escape_formulas,
        )
    finally:
        if journal is not None:
            journal.close()
    return counts


def wants_bom(table: ClientsCsv, *, excel: bool) -> bool:
    """Whether a file written from ``table`` needs a BOM for Excel to read its accents.

    With ``--excel``, or when the input had one, or was in a legacy encoding or
    was a workbook: a file from Excel, likely opened in it again.
    """
    return excel or table.source.bom or table.source.encoding != "utf-8"


def write_atomically(
    out: Path,
    header: list[str],
    rows: Iterable[list[str]],
    *,
    delimiter: str,
    bom: bool,
    escape_formulas: bool,
) -> None:
    """Write a CSV to a temporary file beside ``out`` and rename it over ``out``.

    Never half-written: a crash leaves the old file. Formula-like cells,
    header cells included, get a leading ``'`` unless ``escape_formulas`` is
    false.
    """
    cell = _escape_formula if escape_formulas else str
    with open_atomically(out, newline="", encoding="utf-8-sig" if bom else "utf-8") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow([cell(name) for name in header])  # a column's name is a cell too
        for cells in rows:
            writer.writerow([cell(value) for value in cells])


@attrs.define
class ResultsFile:
    """A results (or status) file read back: its rows by column, streamed from disk.

    ``header`` leaves out the ``without`` columns (the ones a command is about
    to write afresh) and empty header cells. ``rows()`` reads the file again
    each time, so no command holds it in memory; ``read`` reads only as far
    as the first row with a ``target``, so a command starts at once whatever
    the file's length.
    """

    path: Path
    header: list[str]
    delimiter: str
    bom: bool
    #: Where the rows were onboarded, as the ``target`` column records it; None in a
    #: file written before the column was recorded.
    target: str | None
    _source: Source
    _columns: list[str]
    _count: int | None = None

    @classmethod
    def read(cls, path: Path, *, without: Collection[str] = ()) -> ResultsFile:
        """Read ``path``; a file without a link_id column is a one-line ``UsageError``."""
        source = read_source(path, encoding=None, delimiter=None, sheet=None)
        records = source.records()
        columns = [cell.strip() for cell in next(records, [])]
        if "link_id" not in columns:
            raise UsageError(f"{path}: no link_id column; expected the results file of onboard")
        kept = [c for c in columns if c and c not in without]
        target = next(
            (t for row in _as_rows(columns, records) if (t := row.get(_TARGET, "").strip())), None
        )  # the first row that has one: row 1, unless the file predates the column
        return cls(path, kept, source.delimiter, source.bom, target, source, columns)

    def rows(self) -> Iterator[dict[str, str]]:
        """Every row, by column, read from the file as it is iterated."""
        records = self._source.records()
        next(records, None)
        yield from _as_rows(self._columns, records)

    def count(self) -> int:
        """How many rows the file has (one pass over it, the first time it is asked)."""
        if self._count is None:
            self._count = sum(1 for _ in self.rows())
        return self._count

    def link_ids(self) -> Iterator[str]:
        """The link ids of the rows that have one."""
        return (row["link_id"].strip() for row in self.rows() if row.get("link_id", "").strip())

    def live_link_ids(self) -> Iterator[str]:
        """The link ids of the rows not marked deleted (what the server should still hold)."""
        return (
            row["link_id"].strip()
            for row in self.rows()
            if row.get("link_id", "").strip() and not is_deleted(row)
        )

    def where(self, conditions: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
        """The rows matching every condition, numbered (the header is row 1); see ``matcher``."""
        matches = self.matcher(conditions)
        return ((n, row) for n, row in enumerate(self.rows(), start=2) if matches(row))

    def matcher(self, conditions: Sequence[str]) -> Callable[[Mapping[str, str]], bool]:
        """Whether a row matches every condition.

        ``COLUMN=VALUE``: the cell equals VALUE; ``COLUMN~TEXT``: the cell
        contains TEXT. Cells and values are trimmed and compared ignoring case,
        and so are column names. A bad condition is refused at once.
        """
        wanted: list[tuple[str, bool, str]] = []
        by_name = {column.lower(): column for column in self.header}
        for condition in conditions:
            cut = min((i for i in (condition.find("="), condition.find("~")) if i > 0), default=-1)
            column = by_name.get(condition[:cut].strip().lower()) if cut > 0 else None
            if column is None:
                raise UsageError(
                    f"--where {condition!r}: expected COLUMN=VALUE (equals) or COLUMN~TEXT "
                    f"(contains) with a column of {self.path.name} ({', '.join(self.header)})"
                )
            value = condition[cut + 1 :].strip().lower()
            wanted.append((column, condition[cut] == "~", value))
        return lambda row: all(_matches(row.get(c, ""), has, v) for c, has, v in wanted)


def _as_rows(columns: list[str], records: Iterator[list[str]]) -> Iterator[dict[str, str]]:
    """Records as rows by column; blank records are not rows."""
    for cells in records:
        if any(cells):
            yield dict(zip(columns, cells, strict=False))


def is_deleted(row: Mapping[str, str]) -> bool:
    """Whether ``delete`` marked the row deleted (in its status, or a status file's link_status)."""
    return "deleted" in (row.get("status", ""), row.get("link_status", ""))


def _matches(cell: str, contains: bool, value: str) -> bool:
    text = cell.strip().lower()
    return value in text if contains else text == value


def check_output(path: Path, option: str, source: Path | None) -> None:
    """Refuse, before any row is sent, an output file that would lose or hide something.

    The input itself (``source``, followed through links), a symbolic link,
    a FIFO, a device or a directory: the results are written to a temporary file and
    renamed over ``path``, which would replace any of these with a regular file.
    """
    folder = path.parent
    if not folder.is_dir():
        raise UsageError(f"{option} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"{option} {path}: the folder {folder} is not writable")
    if source is not None and same_file(path, source):
        raise UsageError(f"{option} {path}: is the input file; name another file")
    if path.is_symlink():
        raise UsageError(f"{option} {path}: is a symbolic link; name the file itself")
    if path.is_dir():
        raise UsageError(f"{option} {path}: is a directory")
    if path.exists() and not path.is_file():
        raise UsageError(f"{option} {path}: is not a regular file (a pipe or a device)")
    if option == "--out" and path.suffix.lower() in _WORKBOOK_SUFFIXES:
        raise UsageError(
            f"{option} {path}: results are written as CSV, which Excel opens as it is; name "
            f"a .csv file (a {path.suffix} name would hide CSV text under a workbook's name)"
        )


def same_file(one: Path, other: Path) -> bool:
    """Whether two paths name one file, links followed (also when ``one`` does not exist yet)."""
    try:
        if one.exists() and other.exists():
            return os.path.samefile(one, other)
    except OSError:
        return False
    return one.resolve() == other.resolve()


def _clock(seconds: float) -> str:
    """12.3s, 4m05s, 1h02m: an elapsed time as a person reads it."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _escape_formula(value: str) -> str:
    """The cell as a spreadsheet shows it but never runs it: a leading ' before a formula."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _outcome(
    row: Row, journal: Journal | None, services: RequestedServices, table: ClientsCsv
) -> list[str]:
    """client_name, client_id, link_id, invite_url, status, error of one row."""
    try:
        name = to_new_client(row, services, table.columns).name
    except RowError as error:
        return ["", "", "", "", "invalid", f"row {row.number}: {error}"]
    saved = journal.get(row.key) if journal is not None else None
    if saved is None:
        return [name, "", "", "", "not_started", ""]
    if saved.index != row.number:
        why = f"row {row.number}: duplicate of row {saved.index}"
        if row.key.startswith("email:"):
            why += " (same e-mail address: give each an external_id, or choose --key-column)"
        return [name, "", "", "", "invalid", why]
    status = _STATUS.get(saved.state, "interrupted")
    return [
        name,
        saved.client_id or "",
        saved.link_id or "",
        saved.invite_url or "",
        status,
        saved.error or "",
    ]
