"""Reading the clients file: its columns, row validation, and each row's identity.

The file is what a CRM exports (``_sources.py`` decodes it; ``_columns.py``
tells which column is which field). Fields: ``name`` and ``email``
(required); ``company``, ``website``, ``type``, ``language``,
``external_id`` (optional); ``metadata.<key>`` for each metadata entry.
Other columns are carried to the results file untouched and not sent. Rows
are checked here against the contract's rules, so a bad row is reported
with its number and the column as the file spells it, and never sent.

A row's identity (``Row.key``): its ``--key-column`` value, else its
``external_id``, else its e-mail address normalised (``normalised_email``:
NFC, no BOM or zero-width characters, trimmed, lower-cased, an IDN domain
in ASCII). Nothing else: a changed column that is never sent, a stray space
or another spelling of the same address is the same client. The e-mail
address is sent in NFC without its format characters; one that still holds
an invisible or control character is refused, naming the row.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import attrs

from .._bulk._existing import email_identity, visible_text
from .._contract import (
    COMPANY_MAX,
    EMAIL_MAX,
    METADATA_KEY_MAX,
    METADATA_KEYS_MAX,
    METADATA_VALUE_MAX,
    NAME_MAX,
)
from .._models import UNSET, ClientType, Language, NewClient
from .._services import RequestedServices
from ._columns import Columns, looks_like_header, normalised_header
from ._common import UsageError, row_numbers
from ._encodings import encoding_label
from ._sources import DELIMITERS, Source, read_source

__all__ = ["MAX_CELL", "ClientsCsv", "Row", "RowError", "to_new_client"]

#: One metadata key is kept for the SDK's idempotency key.
_METADATA_COLUMNS = METADATA_KEYS_MAX - 1
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: The longest cell a row may have; the longest field of the contract is 1,000
#: characters, so a longer cell is a mistake (a stray quote swallowing lines).
MAX_CELL = 10_000
#: The longest column name: a header cell longer than this is not a column's name.
_MAX_HEADER_CELL = 1_000
#: How many row numbers a note shows.
_SHOWN_ROWS = 10
#: How far down a header is looked for, below a board's title rows.
_LOOK_FOR_HEADER = 50


class RowError(ValueError):
    """A row that breaks a rule; the message names the column."""


@attrs.frozen
class Row:
    """One data row: its spreadsheet row number (the header is row 1) and its cells.

    ``cells`` are by column as the file spells it; ``fields`` by field
    (``name``, ``email``, ...); ``key`` is the row's identity. ``problem``
    says what makes the row unreadable (a wrong number of fields, an
    over-long cell); the cells are kept anyway, for the results file.
    """

    number: int
    cells: dict[str, str]
    fields: dict[str, str]
    key: str
    problem: str | None = None


class ClientsCsv:
    """A clients file (CSV, text export or .xlsx), read once into memory, its columns matched.

    With ``shard=(i, n)`` only every n-th row from the i-th on is read (by row
    number, so each row belongs to exactly one of n shards, whatever is in it).
    """

    def __init__(
        self,
        path: str,
        delimiter: str | None = None,
        shard: tuple[int, int] = (1, 1),
        *,
        encoding: str | None = None,
        sheet: str | None = None,
        mapped: Mapping[str, str] | None = None,
        key_column: str | None = None,
        header_row: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.shard = shard
        self.source: Source = read_source(
            self.path, encoding=encoding, delimiter=delimiter, sheet=sheet
        )
        self.delimiter = self.source.delimiter
        #: The header's row number: the first row, a row given, or the first that reads as
        #: one below title rows (a board's export); ``header_note`` says which was chosen.
        self.header_row, self.header_note = self._header_row(header_row)
        #: How many rows of the last reading held several addresses in their e-mail cell
        #: (Google Contacts' ``a ::: b``), and the first few of their numbers.
        self.several_addresses = 0
        self.several_shown: list[int] = []
        records = self.source.records()
        for _ in range(self.header_row - 1):
            next(records, None)
        header = next(records, None)
        if not header or not any(cell.strip() for cell in header):
            raise UsageError(f"{self.path}: no header row; expected one naming name and email")
        #: The header as the file spells it (surrounding spaces trimmed); empty cells dropped.
        self.header = [cell.strip() for cell in header]
        for number, cell in enumerate(self.header, start=1):
            if len(cell) > _MAX_HEADER_CELL:
                raise UsageError(
                    f"{self.path}: header cell {number} is {len(cell):,} characters long; a "
                    f"column name has at most {_MAX_HEADER_CELL:,} (is the first row the header?)"
                )
        # One pass over every row, before anything is sent: it proves the whole file
        # readable, finds the columns that hold values, and counts this shard's rows.
        filled: set[str] = set()
        named_count = len({c for c in self.header if c})
        rows = 0
        #: The rows this shard will read (``rows()`` yields as many): the run's total.
        self.row_count = 0
        for number, cells in self._table(records):
            rows += 1
            if self._in_shard(number):
                self.row_count += 1
            if len(filled) < named_count:  # once every column has held a value, no more
                filled.update(c for c, v in zip(self.header, cells, strict=False) if v.strip())
        if rows == 0:
            raise UsageError(f"{self.path}: only a header row; there are no clients in it")
        named = [c for c in self.header if c]
        duplicated = sorted({c for c in named if named.count(c) > 1})
        if duplicated:
            raise UsageError(f"{self.path}: column {duplicated[0]!r} appears twice in the header")
        try:
            self.columns = Columns.resolve(str(self.path), named, filled, mapped or {})
        except UsageError:
            other = _other_delimiter(named, self.delimiter)
            if other is None:
                raise
            raise UsageError(
                f"{self.path}: the header is one column with --delimiter {self.delimiter!r}; it "
                f"looks {other!r}-separated: use --delimiter '{other}' (or leave it out)"
            ) from None
        self.key_column = _key_column(self.path, named, key_column)

    @property
    def mapping(self) -> str:
        """The columns read and the encoding, as every run shows them first.

        ``name ← Company · email ← Email Address · encoding: UTF-8``
        """
        shown = " · ".join(f"{field} ← {column}" for field, column in self.columns.shown.items())
        return f"{shown} · encoding: {self.encoding}"

    @property
    def encoding(self) -> str:
        """How the file was read: an encoding's usual name, or the workbook's sheet."""
        if self.source.workbook is not None:
            return f"an .xlsx workbook, sheet {self.source.workbook.sheet!r}"
        return encoding_label(self.source.encoding) + (" with a BOM" if self.source.bom else "")

    def _row(self, number: int, cells: list[str]) -> Row:
        """The row of these cells, with the problem that keeps it from being sent, if any."""
        by_column = {c: v for c, v in zip(self.header, cells, strict=False) if c}
        fields = self.columns.values(by_column)
        first = first_address(fields.get("email", ""))
        if first is not None:  # several addresses in one cell: the first is the client's
            fields["email"] = first
            self.several_addresses += 1
            if len(self.several_shown) < _SHOWN_ROWS:
                self.several_shown.append(number)
        row = functools.partial(Row, number, by_column, fields, self._key(by_column, fields))
        named_width = max(i for i, c in enumerate(self.header) if c) + 1
        surplus = any(v.strip() for v in cells[len(self.header) :])
        if len(cells) < named_width or surplus:
            return row(f"{len(cells)} fields, the header has {len(self.header)}")
        for column, value in zip(self.header, cells, strict=False):
            if not column and value.strip():
                return row("a value under a column that has no name in the header")
            if len(value) > MAX_CELL:
                return row(f"{column}: {len(value)} characters, at most {MAX_CELL}")
        return row()

    def _key(self, cells: Mapping[str, str], fields: Mapping[str, str]) -> str:
        if self.key_column is not None:
            value = cells.get(self.key_column, "").strip()
            return f"column:{normalised_header(self.key_column)}:{value}"
        external = fields.get("external_id", "").strip()
        return f"ext:{external}" if external else email_identity(fields.get("email", ""))

    def rows(self) -> Iterator[Row]:
        """Every data row, with its row number; an unreadable file is a UsageError."""
        records = self.source.records()
        for _ in range(self.header_row):
            next(records)
        self.several_addresses, self.several_shown = 0, []
        for number, cells in self._table(records):
            if self._in_shard(number):
                yield self._row(number, cells)

    def _in_shard(self, number: int) -> bool:
        """Whether row ``number`` is this shard's: every n-th from the i-th, by row number."""
        index, count = self.shard
        return (number - self.header_row - 1) % count == index - 1

    def row_notes(self) -> list[str]:
        """What was decided of the rows' cells, as the last reading of ``rows()`` counted."""
        if not self.several_addresses:
            return []
        return [
            f"{self.several_addresses} rows hold several e-mail addresses in one cell; the "
            "first of each is the client's (rows "
            f"{row_numbers(self.several_shown, self.several_addresses)})"
        ]

    def notes(self) -> list[str]:
        """What was decided in opening the file, and why: the encoding, the header, the rows.

        Known before any row is sent; ``row_notes`` follow a reading of the rows.
        """
        notes = [note for note in (self.source.note, self.header_note) if note]
        if self.skipped:
            notes.append(
                f"skipped {len(self.skipped)} rows that repeat the header or title a group (rows "
                f"{row_numbers(self.skipped[:_SHOWN_ROWS], len(self.skipped))}); they are not "
                "clients"
            )
        return notes

    def _table(self, records: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
        """The records after the header that are rows, numbered; ``skipped`` counts the rest.

        Blank lines are not rows. Nor, in a board's export, are a repeated
        header row and the group title just above it (one cell filled): they
        are counted in ``skipped``, with their row numbers, never read as
        clients that lack an e-mail address.
        """
        header = [cell.strip() for cell in self.header]
        first = header[0] if header else ""
        board = self.header_row > 1  # a board's export: group titles above its rows
        self.skipped: list[int] = []
        held: tuple[int, list[str]] | None = None  # a one-cell row: a group's title, or a row
        for number, cells in enumerate(records, start=self.header_row + 1):
            if not "".join(cells).strip():
                continue
            if (
                cells[0].strip() == first
                and [cell.strip() for cell in cells[: len(header)]] == header
                and not "".join(cells[len(header) :]).strip()
            ):
                self.skipped += [*([held[0]] if held else []), number]
                held = None
                continue
            if held is not None:
                yield held
                held = None
            if board and sum(bool(cell.strip()) for cell in cells) == 1:
                held = (number, cells)  # decided by the row after it
                continue
            yield number, cells
        if held is not None:
            yield held

    def _header_row(self, given: int | None) -> tuple[int, str | None]:
        """Row 1, ``given`` (``--header-row``), or the first of the first 50 that reads as one."""
        if given is not None:
            if given < 1:
                raise UsageError(f"--header-row {given}: rows are numbered from 1")
            return given, None
        for number, cells in enumerate(
            itertools.islice(self.source.records(), _LOOK_FOR_HEADER), 1
        ):
            if looks_like_header(cells):
                if number == 1:
                    return 1, None
                return number, (
                    f"the header is row {number} (the rows above it are titles, not clients); "
                    "--header-row N chooses another"
                )
        return 1, None


def first_address(cell: str) -> str | None:
    """The first address of a cell that holds several, else None.

    Google Contacts joins a person's addresses with ``:::``; other tools with
    ``;`` or ``,``. Only a cell where every part is an address counts: the
    first part is the client's, and the note says so.
    """
    for separator in (":::", ";", ","):
        if separator in cell:
            parts = [part.strip() for part in cell.split(separator) if part.strip()]
            if len(parts) > 1 and all(_EMAIL.match(part) for part in parts):
                return parts[0]
            return None
    return None


def _other_delimiter(header: list[str], delimiter: str) -> str | None:
    """The delimiter a one-column header seems to be split by, if not the one given."""
    if len(header) != 1:
        return None
    found = [d for d in DELIMITERS if d != delimiter and d in header[0]]
    return ("\\t" if found[0] == "\t" else found[0]) if found else None


def _key_column(path: Path, header: list[str], wanted: str | None) -> str | None:
    if wanted is None:
        return None
    matches = [c for c in header if c == wanted] or [
        c for c in header if normalised_header(c) == normalised_header(wanted)
    ]
    if len(matches) != 1:
        raise UsageError(f"--key-column {wanted}: {path} has no column {wanted!r}")
    return matches[0]


def to_new_client(row: Row, services: RequestedServices, columns: Columns) -> NewClient:
    """The row as a NewClient; a ``RowError`` naming the column (as spelled) if it breaks a rule.

    Liberal where a CRM is: a website without a scheme gets ``https://``.
    """
    fields = row.fields
    if row.problem is not None:
        raise RowError(row.problem)
    spelled = columns.spelled
    name = fields.get("name", "").strip()
    email = visible_text(fields.get("email", "")).strip()
    hidden = next((c for c in email if unicodedata.category(c)[0] == "C"), None)
    if hidden is not None:
        raise RowError(
            f"{spelled('email')}: {_shown(email)} holds an invisible or control character "
            f"(U+{ord(hidden):04X}) at position {email.index(hidden) + 1}"
        )
    if not 1 <= len(name) <= NAME_MAX:
        raise RowError(f"{spelled('name')}: required, at most {NAME_MAX} characters")
    if not _EMAIL.match(email) or len(email) > EMAIL_MAX:
        raise RowError(
            f"{spelled('email')}: {_shown(email)} is not a valid e-mail address"
            if email
            else f"{spelled('email')}: required"
        )
    company = fields.get("company", "").strip()
    if len(company) > COMPANY_MAX:
        raise RowError(f"{spelled('company')}: at most {COMPANY_MAX} characters")
    website = _with_scheme(fields.get("website", "").strip())
    if website and not _is_web_url(website):
        raise RowError(f"{spelled('website')}: {_shown(website)} is not an http(s) URL")
    kind = _choice(fields, "type", ClientType, spelled)
    language = _choice(fields, "language", Language, spelled)
    if kind is ClientType.PROSPECT:
        try:
            services.check_prospect()
        except ValueError as error:
            raise RowError(f"{spelled('type')}: prospect, but {error}") from None
    return NewClient(
        name=name,
        email=email,
        company=company or UNSET,
        website=website or UNSET,
        type=kind,
        language=language,
        metadata=_metadata(row.cells, columns),
    )


def _with_scheme(website: str) -> str:
    """``client1.example`` as ``https://client1.example``: CRMs leave the scheme out."""
    return website if not website or "://" in website else "https://" + website


def _is_web_url(website: str) -> bool:
    """Whether ``website`` is an http(s) URL with a host (and a port, if any, that parses)."""
    parsed = urlparse(website)
    try:
        parsed.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError:
        return False
    return parsed.scheme in ("http", "https") and bool(parsed.hostname) and " " not in website


def _choice(fields: dict[str, str], field: str, enum: Any, spelled: Any) -> Any:
    value = fields.get(field, "").strip()
    if not value:
        return UNSET
    try:
        return enum(value.lower())
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise RowError(f"{spelled(field)}: {_shown(value)} is not one of {allowed}") from None


def _metadata(cells: dict[str, str], columns: Columns) -> dict[str, str] | Any:
    metadata = {
        key: cells.get(column, "").strip()
        for column, key in columns.metadata.items()
        if cells.get(column, "").strip()
    }
    if len(metadata) > _METADATA_COLUMNS:
        raise RowError(f"metadata: at most {_METADATA_COLUMNS} metadata.* columns may be filled")
    for key, value in metadata.items():
        if not 1 <= len(key) <= METADATA_KEY_MAX:
            raise RowError(f"metadata.{key}: metadata keys are 1-{METADATA_KEY_MAX} characters")
        if len(value) > METADATA_VALUE_MAX:
            raise RowError(f"metadata.{key}: at most {METADATA_VALUE_MAX} characters")
    return metadata or UNSET


def _shown(value: str, most: int = 60) -> str:
    """A cell quoted for a message, cut short so that one bad cell cannot flood it."""
    return repr(value if len(value) <= most else value[:most] + "…")
