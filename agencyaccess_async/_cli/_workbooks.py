"""An .xlsx workbook's sheet as rows of text, in bounded memory whatever the file claims.

A workbook is a zip of XML. What it declares cannot be trusted: a 2 KB file
may declare ``A1:XFD1048576`` (openpyxl then pads every row to 16,384
cells and fills every missing row), hold one shared string of 400 MB
(openpyxl keeps the shared strings in memory), or unpack to gigabytes. So:

- the sheet is streamed (openpyxl's read-only mode) each time its rows are
  read, never held; its declared dimensions are ignored (``reset_dimensions``),
  so a row is as wide as its last cell;
- before openpyxl reads it, the zip's entries are checked against
  ``LIMITS`` (the bytes unpacked, the shared strings' size), and the sheet's
  rows are counted in a streaming pass of flat memory; while reading, the
  columns and the last row (Excel's own maxima);
- a damaged cell (a shared-string index out of range, a bad cell reference,
  number or date) is one line naming the sheet and the cell, found by a
  second look at the sheet's XML once openpyxl has failed on it.
"""

from __future__ import annotations

import datetime
import re
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any
from xml.etree import ElementTree

import attrs

from ._common import UsageError

__all__ = ["LIMITS", "Workbook"]


@attrs.frozen
class Limits:
    """What a workbook may hold; past any of these it is refused in one line.

    openpyxl's streaming reader keeps each row it has read as an empty XML
    element (about half a KiB), and every shared string in memory; these
    bounds keep a run under 200 MiB. Larger client lists go as CSV, which
    has no such bound.
    """

    unpacked_bytes: int = 1 << 30  # everything in the zip, unpacked: 1 GiB
    shared_strings_bytes: int = 16 << 20  # the shared strings' XML: 16 MiB
    rows: int = 200_000  # row elements in the sheet
    columns: int = 16_384  # Excel's own maximum (XFD)


LIMITS = Limits()
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PACKAGE_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_REFERENCE = re.compile(r"^\$?[A-Za-z]{1,3}\$?[1-9][0-9]*$")
#: The largest serial number Excel shows as a date (9999-12-31).
_LAST_DATE_SERIAL = 2_958_465
_EXCEL_ROWS = 1_048_576


@attrs.frozen
class Workbook:
    """One sheet of a workbook, read afresh (streamed) by each call of ``records``."""

    path: Path
    sheet: str

    @classmethod
    def open(cls, path: Path, sheet: str | None) -> Workbook:
        """Check the zip against ``LIMITS`` and find the sheet; a ``UsageError`` otherwise."""
        _openpyxl(path)  # without the extra, say so before anything else
        names = _check_zip(path)
        if not names:
            raise UsageError(f"{path}: the workbook has no sheet")
        if sheet is not None and sheet not in names:
            raise UsageError(
                f"--sheet {sheet}: {path} has no such sheet (it has: {', '.join(names)})"
            )
        chosen = cls(path, sheet if sheet is not None else names[0])
        rows = _count_rows(path, chosen.sheet, stop_after=LIMITS.rows)
        if rows > LIMITS.rows:
            raise UsageError(
                f"{path}: sheet {chosen.sheet!r} has more than {LIMITS.rows:,} rows, more than a "
                'workbook is read with; save it as "CSV UTF-8", which has no such limit'
            )
        return chosen

    def records(self) -> Iterator[list[str]]:
        """The sheet's rows as text cells, the header first, streamed from the file."""
        with _opened(self.path) as book:
            worksheet = book[self.sheet]
            worksheet.reset_dimensions()  # a declared A1:XFD1048576 is not a promise
            number = 0
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    for number, row in enumerate(worksheet.iter_rows(values_only=True), 1):
                        self._check(number, row, caught)
                        yield [_cell_text(value) for value in row]
            except UsageError:
                raise
            except Exception as error:  # openpyxl raises many kinds for a damaged sheet
                raise UsageError(self._damaged(number, error)) from None

    def _check(self, number: int, row: tuple[Any, ...], caught: list[Any]) -> None:
        if number > _EXCEL_ROWS:
            raise UsageError(
                f"{self.path}: sheet {self.sheet!r} has a row after row {_EXCEL_ROWS:,}, "
                "Excel's last: it is not a workbook Excel wrote"
            )
        if len(row) > LIMITS.columns:
            raise UsageError(
                f"{self.path}: sheet {self.sheet!r}, row {number}: more than "
                f"{LIMITS.columns:,} columns, Excel's own limit"
            )
        for warning in caught:
            text = str(warning.message)
            if text.startswith("Cell ") and "marked as a date" in text:
                cell = text.split()[1]
                raise UsageError(
                    f"{self.path}: sheet {self.sheet!r}, cell {cell}: a date outside the "
                    f"dates Excel knows; {_RESAVE}"
                )
        caught.clear()  # other warnings (an unsupported extension) change no cell

    def _damaged(self, number: int, error: Exception) -> str:
        found = _first_bad_cell(self.path, self.sheet)
        if found is not None:
            cell, what = found
            return f"{self.path}: sheet {self.sheet!r}, cell {cell}: {what}; {_RESAVE}"
        return (
            f"{self.path}: sheet {self.sheet!r}, after row {number}: unreadable "
            f"({type(error).__name__}: {error}); {_RESAVE}"
        )


_RESAVE = 'open it in Excel and save it again, or save the sheet as "CSV UTF-8"'


def _openpyxl(path: Path) -> Any:
    """The openpyxl module; without the xlsx extra, one line saying what to do."""
    try:
        import openpyxl
    except ImportError:
        raise UsageError(
            f"{path}: an Excel workbook; install the xlsx extra "
            "(pip install 'agencyaccess-async[xlsx]') or save the sheet as \"CSV UTF-8\""
        ) from None
    return openpyxl


def _opened(path: Path) -> Any:
    """The workbook, opened read-only (streamed); one line if openpyxl cannot open it.

    Only after ``Workbook.open`` has bounded the sheet: openpyxl reads a
    sheet without a declared dimension to its end as it opens it.
    """
    openpyxl = _openpyxl(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an unsupported extension changes no cell
            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a bad file
        raise UsageError(f"{path}: not a readable .xlsx workbook ({error})") from None
    return _Closing(book)


class _Closing:
    """A read-only workbook as a context manager that closes its file."""

    def __init__(self, book: Any) -> None:
        self.book = book

    def __enter__(self) -> Any:
        return self.book

    def __exit__(self, *exc: object) -> None:
        self.book.close()


def _check_zip(path: Path) -> list[str]:
    """The workbook's sheet names; refused, before anything is unpacked, past ``LIMITS``."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            names = _sheet_names(archive)
    except (zipfile.BadZipFile, OSError, KeyError, ElementTree.ParseError) as error:
        raise UsageError(f"{path}: not a readable .xlsx workbook ({error})") from None
    unpacked = sum(entry.file_size for entry in entries)
    if unpacked > LIMITS.unpacked_bytes:
        raise UsageError(
            f"{path}: unpacks to {unpacked / 2**20:,.0f} MiB, more than the "
            f"{LIMITS.unpacked_bytes >> 20:,} MiB a clients workbook is read to; {_RESAVE}"
        )
    for entry in entries:
        strings = entry.filename.lower().endswith("sharedstrings.xml")
        if strings and entry.file_size > LIMITS.shared_strings_bytes:
            raise UsageError(
                f"{path}: its shared strings unpack to {entry.file_size / 2**20:,.0f} MiB, "
                f"more than the {LIMITS.shared_strings_bytes >> 20} MiB read (a cell may "
                f"hold at most 10,000 characters); {_RESAVE}"
            )
    return names


def _first_bad_cell(path: Path, sheet: str) -> tuple[str, str] | None:
    """The first cell of ``sheet`` that no reader could read, and why; None if none is found."""
    try:
        with zipfile.ZipFile(path) as archive:
            strings = _shared_string_count(archive)
            for element in _sheet_elements(archive, sheet, f"{_MAIN}c"):
                found = _bad_cell(element, strings)
                if found is not None:
                    return found
    except (zipfile.BadZipFile, ElementTree.ParseError, OSError, KeyError):
        return None
    return None


def _count_rows(path: Path, sheet: str, *, stop_after: int) -> int:
    """How many row elements the sheet's XML holds, counted up to one past ``stop_after``.

    A streaming pass in flat memory, before openpyxl's (which keeps every row
    it has read); a sheet that cannot be parsed counts what was read, and
    openpyxl's pass then says what is wrong.
    """
    count = 0
    try:
        with zipfile.ZipFile(path) as archive:
            for _ in _sheet_elements(archive, sheet, f"{_MAIN}row"):
                count += 1
                if count > stop_after:
                    break
    except (zipfile.BadZipFile, ElementTree.ParseError, OSError, KeyError):
        pass
    return count


def _sheet_elements(
    archive: zipfile.ZipFile, sheet: str, tag: str
) -> Iterator[ElementTree.Element]:
    """Each ``tag`` element of the sheet's XML, streamed; rows read are let go (flat memory)."""
    xml = _sheet_xml(archive, sheet)
    if xml is None:
        return
    with archive.open(xml) as source:
        rows: ElementTree.Element | None = None
        for event, element in ElementTree.iterparse(source, ("start", "end")):
            if event == "start":
                if element.tag == f"{_MAIN}sheetData":
                    rows = element
                continue
            if element.tag == tag:
                yield element
            if element.tag == f"{_MAIN}row" and rows is not None:
                rows.clear()


def _bad_cell(cell: ElementTree.Element, strings: int) -> tuple[str, str] | None:
    reference = cell.get("r") or "?"
    if cell.get("r") is not None and not _REFERENCE.match(reference):
        return reference, f"{reference!r} is not a cell reference"
    kind, value = cell.get("t", "n"), cell.findtext(f"{_MAIN}v")
    if value is None:
        return None
    if kind == "s":
        if not value.strip().isdigit() or int(value) >= strings:
            return reference, f"shared string {value!r} does not exist (the workbook has {strings})"
    elif kind == "n":
        try:
            number = float(value)
        except ValueError:
            return reference, f"{value!r} is not a number"
        if cell.get("s") is not None and not -1 <= number <= _LAST_DATE_SERIAL:
            return reference, f"{value!r} is not a date Excel knows"
    elif kind == "d":
        try:
            datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return reference, f"{value!r} is not a date"
    return None


def _sheet_names(archive: zipfile.ZipFile) -> list[str]:
    """The workbook's sheets, in order, as its ``xl/workbook.xml`` names them."""
    book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    return [element.get("name", "") for element in book.iter(f"{_MAIN}sheet")]


def _sheet_xml(archive: zipfile.ZipFile, sheet: str) -> str | None:
    """The zip member holding ``sheet``, from the workbook's own relationships."""
    book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    relations = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {
        r.get("Id"): r.get("Target", "") for r in relations.iter(f"{_PACKAGE_REL}Relationship")
    }
    for element in book.iter(f"{_MAIN}sheet"):
        if element.get("name") == sheet:
            target = targets.get(element.get(f"{_REL}id"), "")
            return (
                target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl", target))
            )
    return None


def _shared_string_count(archive: zipfile.ZipFile) -> int:
    """How many shared strings the workbook holds, counted as they stream by."""
    name = next((n for n in archive.namelist() if n.lower() == "xl/sharedstrings.xml"), None)
    if name is None:
        return 0
    count = 0
    with archive.open(name) as source:
        table: ElementTree.Element | None = None
        for event, element in ElementTree.iterparse(source, ("start", "end")):
            if event == "start":
                table = element if table is None else table
            elif element.tag == f"{_MAIN}si" and table is not None:
                count += 1
                table.clear()  # counted and let go
    return count


def _cell_text(value: Any) -> str:
    """A workbook cell as the CSV export of it would read: 1001 not 1001.0, ISO dates."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)
