"""Reading the clients CSV: columns, row validation, and stable row keys.

Columns: ``name`` and ``email`` (required); ``company``, ``website``,
``type``, ``language``, ``external_id`` (optional); ``metadata.<key>`` for
each metadata entry. Other columns are carried to the results file untouched
and not sent. Rows are checked here against the contract's rules, so a bad
row is reported with its number and never sent.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import attrs

from .._contract import (
    COMPANY_MAX,
    EMAIL_MAX,
    METADATA_KEY_MAX,
    METADATA_KEYS_MAX,
    METADATA_VALUE_MAX,
    NAME_MAX,
)
from .._idempotency import row_key
from .._models import UNSET, ClientType, Language, NewClient
from .._services import RequestedServices
from ._common import UsageError

REQUIRED = ("name", "email")
#: The optional client fields, as columns: every field of NewClient but the
#: required ones and metadata (which has its metadata.* columns), plus the row key.
OPTIONAL = (
    *(f.name for f in attrs.fields(NewClient) if f.name not in (*REQUIRED, "metadata")),
    "external_id",
)
#: One metadata key is kept for the SDK's idempotency key.
_METADATA_COLUMNS = METADATA_KEYS_MAX - 1
METADATA_PREFIX = "metadata."
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: The longest cell a row may have; the longest field of the contract is 1,000
#: characters, so a longer cell is a mistake (a stray quote swallowing lines).
MAX_CELL = 10_000
#: What the csv module may read in one cell before failing the whole file.
_FIELD_SIZE_LIMIT = 1 << 30
_DELIMITERS = (";", "\t", "|")


class RowError(ValueError):
    """A row that breaks a rule; the message names the column."""


@attrs.frozen
class Row:
    """One data row: its spreadsheet row number (the header is row 1) and its cells.

    ``problem`` says what makes the row unreadable (a wrong number of fields,
    an over-long cell); the cells are kept anyway, for the results file.
    """

    number: int
    cells: dict[str, str]
    problem: str | None = None

    @property
    def key(self) -> str:
        """``external_id`` when present, else a hash of the row's cells."""
        external = self.cells.get("external_id", "").strip()
        return f"ext:{external}" if external else row_key(self.cells)


class ClientsCsv:
    """A clients CSV file, read lazily (twice at most: once to check, once to use).

    With ``shard=(i, n)`` only every n-th row from the i-th on is read (by row
    number, so each row belongs to exactly one of n shards, whatever is in it).
    """

    def __init__(self, path: str, delimiter: str, shard: tuple[int, int] = (1, 1)) -> None:
        self.path = Path(path)
        self.delimiter = delimiter
        self.shard = shard
        # A pipe or a process substitution (<(cat f)) can be read only once: it
        # is read into memory here, and every later read is of that copy.
        self._content: str | None = None
        if self.path.exists() and not self.path.is_file() and not self.path.is_dir():
            with self._open_file() as handle:
                try:
                    self._content = handle.read()
                except UnicodeDecodeError:
                    raise UsageError(f"{self.path}: not UTF-8 text (is it a CSV file?)") from None
        self.header = self._read_header()
        self.extra_columns = [
            c for c in self.header
            if c not in REQUIRED + OPTIONAL and not c.startswith(METADATA_PREFIX)
        ]  # fmt: skip

    def _open(self) -> Any:
        if self._content is not None:
            return io.StringIO(self._content, newline="")
        return self._open_file()

    def _open_file(self) -> Any:
        try:
            return self.path.open(newline="", encoding="utf-8-sig")
        except FileNotFoundError:
            raise UsageError(f"{self.path}: no such file") from None
        except IsADirectoryError:
            raise UsageError(f"{self.path}: is a directory, not a CSV file") from None
        except OSError as error:
            raise UsageError(f"{self.path}: cannot read it ({error.strerror})") from None

    def _read_header(self) -> list[str]:
        with self._open() as handle:
            try:
                header = next(csv.reader(handle, delimiter=self.delimiter), None)
            except UnicodeDecodeError:
                raise UsageError(f"{self.path}: not UTF-8 text (is it a CSV file?)") from None
            except csv.Error as error:
                raise UsageError(f"{self.path}: not a readable CSV file ({error})") from None
        if not header or not any(cell.strip() for cell in header):
            raise UsageError(
                f"{self.path}: the file is empty; expected a header row with name,email"
            )
        header = [cell.strip() for cell in header]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise UsageError(self._missing_message(header, missing))
        duplicated = sorted({c for c in header if header.count(c) > 1})
        if duplicated:
            raise UsageError(f"{self.path}: column {duplicated[0]!r} appears twice in the header")
        return header

    def _missing_message(self, header: list[str], missing: list[str]) -> str:
        joined = self.delimiter.join(header)
        for other in _DELIMITERS:
            if other != self.delimiter and all(c in joined for c in REQUIRED) and other in joined:
                shown = "\\t" if other == "\t" else other
                return (
                    f"{self.path}: no {missing[0]!r} column; the header looks "
                    f"{shown!r}-separated: use --delimiter '{shown}'"
                )
        return f"{self.path}: no {missing[0]!r} column (the header is: {', '.join(header)})"

    def _row(self, number: int, cells: list[str]) -> Row:
        """The row of these cells, with the problem that keeps it from being sent, if any."""
        by_column = dict(zip(self.header, cells, strict=False))
        if len(cells) != len(self.header):
            problem = f"{len(cells)} fields, the header has {len(self.header)}"
            return Row(number, by_column, problem)
        for column, value in by_column.items():
            if len(value) > MAX_CELL:
                return Row(
                    number, by_column, f"{column}: {len(value)} characters, at most {MAX_CELL}"
                )
        return Row(number, by_column)

    def rows(self) -> Iterator[Row]:
        """Every data row, with its row number; an unreadable file is a UsageError."""
        csv.field_size_limit(_FIELD_SIZE_LIMIT)  # over-long cells are per-row errors, not fatal
        with self._open() as handle:
            reader = csv.reader(handle, delimiter=self.delimiter)
            number = 1
            try:
                next(reader)
                index, count = self.shard
                for number, cells in enumerate(reader, start=2):
                    if not any(cell.strip() for cell in cells):
                        continue  # blank lines are not rows
                    if (number - 2) % count == index - 1:  # this shard's rows only
                        yield self._row(number, cells)
            except UnicodeDecodeError:
                raise UsageError(f"{self.path}: not UTF-8 text after row {number}") from None
            except csv.Error as error:
                raise UsageError(f"{self.path}: unreadable at row {number + 1} ({error})") from None


def to_new_client(row: Row, services: RequestedServices) -> NewClient:
    """The row as a NewClient; a ``RowError`` naming the column if it breaks a rule."""
    cells = row.cells
    if row.problem is not None:
        raise RowError(row.problem)
    name = cells["name"].strip()
    email = cells["email"].strip()
    if not 1 <= len(name) <= NAME_MAX:
        raise RowError(f"name: required, at most {NAME_MAX} characters")
    if not _EMAIL.match(email) or len(email) > EMAIL_MAX:
        raise RowError(
            f"email: {_shown(email)} is not a valid e-mail address" if email else "email: required"
        )
    company = cells.get("company", "").strip()
    if len(company) > COMPANY_MAX:
        raise RowError(f"company: at most {COMPANY_MAX} characters")
    website = cells.get("website", "").strip()
    if website and (
        urlparse(website).scheme not in ("http", "https") or not urlparse(website).netloc
    ):
        raise RowError(f"website: {_shown(website)} is not an http(s) URL")
    kind = _choice(cells, "type", ClientType)
    language = _choice(cells, "language", Language)
    if kind is ClientType.PROSPECT:
        try:
            services.check_prospect()
        except ValueError as error:
            raise RowError(f"type: prospect, but {error}") from None
    return NewClient(
        name=name,
        email=email,
        company=company or UNSET,
        website=website or UNSET,
        type=kind,
        language=language,
        metadata=_metadata(cells),
    )


def _choice(cells: dict[str, str], column: str, enum: Any) -> Any:
    value = cells.get(column, "").strip()
    if not value:
        return UNSET
    try:
        return enum(value.lower())
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise RowError(f"{column}: {_shown(value)} is not one of {allowed}") from None


def _metadata(cells: dict[str, str]) -> dict[str, str] | Any:
    metadata = {
        column[len(METADATA_PREFIX) :]: value.strip()
        for column, value in cells.items()
        if column.startswith(METADATA_PREFIX) and value.strip()
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
