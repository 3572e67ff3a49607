"""Reading what a CRM exports as rows of text: encodings, delimiters, Excel workbooks.

- **Encoding**: UTF-8 with or without a BOM and UTF-16 with a BOM (Excel's
  "CSV UTF-8" and "Unicode text") are recognised. A UTF-8 file with a few
  bad bytes is refused, naming the first one's row and column. Any other
  file is read in the legacy encoding that is clearly right (``_encodings``:
  Windows-1252, ISO-8859-15 or Mac OS Roman), with a one-line note, or
  refused naming the candidates, unless ``--encoding`` names its encoding.
- **Delimiter**: the one of ``,`` ``;`` and tab that splits the header into
  the most fields, unless ``--delimiter`` is given.
- **Workbooks**: ``.xlsx`` is streamed with openpyxl (the ``xlsx`` extra),
  its first sheet or ``--sheet``, within bounds whatever the file claims
  (``_workbooks``). An old binary ``.xls`` is refused with what to do instead.

A text file is read into memory once: a CRM export of 100,000 rows is a few
tens of megabytes, and a pipe can be read only once.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from pathlib import Path

import attrs

from ._common import UsageError
from ._encodings import choose_legacy, codec_name, encoding_label
from ._workbooks import Workbook

__all__ = ["DELIMITERS", "Source", "read_source"]

#: The delimiters a file is sniffed for, in order of preference on a tie.
DELIMITERS = (",", ";", "\t")
#: What the csv module may read in one cell before failing the whole file (an
#: over-long cell is a per-row error, reported by the row checks).
_FIELD_SIZE_LIMIT = 1 << 30
_XLS = b"\xd0\xcf\x11\xe0"  # an OLE2 compound file: .xls, .doc
_ZIP = b"PK\x03\x04"


@attrs.frozen
class Source:
    """A file's content as text rows: decoded, its delimiter known.

    ``bom`` says the file began with a byte-order mark (so the results file
    gets one too, for Excel); ``note`` is a line to show the user (a guessed
    encoding), or None.
    """

    path: Path
    text: str | None
    delimiter: str
    encoding: str
    bom: bool = False
    note: str | None = None
    workbook: Workbook | None = None

    def records(self) -> Iterator[list[str]]:
        """Every record of the file, the header first; a bad CSV is a UsageError."""
        if self.workbook is not None:
            yield from self.workbook.records()  # streamed, each time
            return
        assert self.text is not None
        csv.field_size_limit(_FIELD_SIZE_LIMIT)
        reader = csv.reader(io.StringIO(self.text, newline=""), delimiter=self.delimiter)
        try:
            yield from reader
        except csv.Error as error:
            raise UsageError(
                f"{self.path}: unreadable at row {reader.line_num} ({error})"
            ) from None


def read_source(
    path: Path, *, encoding: str | None, delimiter: str | None, sheet: str | None
) -> Source:
    """Read ``path`` (a CSV or text export, or an .xlsx workbook) as rows of text."""
    data = _read_bytes(path)
    if not data.strip():
        raise UsageError(f"{path}: the file is empty; expected a header row and client rows")
    if data.startswith(_ZIP):
        return Source(path, None, ",", "xlsx", workbook=Workbook.open(path, sheet))
    if data.startswith(_XLS):
        raise UsageError(
            f"{path}: an old Excel .xls workbook; save it as .xlsx (with the xlsx extra "
            'installed) or as "CSV UTF-8"'
        )
    if sheet is not None:
        raise UsageError(f"--sheet {sheet}: {path} is not an Excel workbook")
    text, used, bom, note = _decode(path, data, encoding)
    if "\x00" in text:
        raise UsageError(f"{path}: not a text file (it holds NUL bytes); expected a CSV export")
    if delimiter is None:
        delimiter = _sniff(text)
    return Source(path, text, delimiter, used, bom, note)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, not a CSV file") from None
    except OSError as error:
        raise UsageError(f"{path}: cannot read it ({error.strerror})") from None


def _decode(path: Path, data: bytes, encoding: str | None) -> tuple[str, str, bool, str | None]:
    """(text, encoding used, had a BOM, a note for the user)."""
    if encoding is not None:
        codec = codec_name(encoding)
        try:
            text = data.decode(codec)
        except UnicodeDecodeError as error:
            raise UsageError(_undecodable(path, data, codec, error)) from None
        bom = text.startswith("\ufeff")
        return text.removeprefix("\ufeff"), codec, bom, None
    if data.startswith(codecs.BOM_UTF8):
        return _strict(path, data[3:], "utf-8"), "utf-8", True, None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _strict(path, data, "utf-16").removeprefix("\ufeff"), "utf-16", True, None
    try:
        return data.decode("utf-8"), "utf-8", False, None
    except UnicodeDecodeError as error:
        if not data.decode("utf-8", errors="ignore").isascii():
            # Valid UTF-8 beside the bad bytes: a UTF-8 file with a damaged cell, which
            # any legacy reading would turn into mojibake everywhere else.
            raise UsageError(
                _undecodable(
                    path, data, "utf-8", error,
                    "while the rest of the file is: fix that cell and save the file as UTF-8 "
                    "again (nothing was sent)",
                )
            ) from None  # fmt: skip
    choice = choose_legacy(path, data)
    note = (
        f"{path} is not UTF-8: read it as {encoding_label(choice.codec)} ({choice.why}); "
        "if accents look wrong, name the encoding with --encoding"
    )
    return choice.text, choice.codec, False, note


def _strict(path: Path, data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise UsageError(_undecodable(path, data, encoding, error)) from None


def _undecodable(
    path: Path,
    data: bytes,
    encoding: str,
    error: UnicodeDecodeError,
    advice: str = "so name the file's encoding with --encoding",
) -> str:
    """Where the first undecodable byte is: its row and, when the header reads, its column."""
    text = data.decode(encoding, errors="replace")
    delimiter = _sniff(text)  # (which lifts the csv module's cell-size limit)
    bad = data[error.start : error.start + 1].hex()
    try:
        rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        header = next(rows, [])
        for number, cells in enumerate(rows, start=2):
            for column, cell in zip(header, cells, strict=False):
                if "\ufffd" in cell:
                    return (
                        f"{path}: row {number}, column {column!r}: byte 0x{bad} is not "
                        f"{encoding_label(encoding)}, {advice}"
                    )
    except csv.Error:
        pass
    line = data[: error.start].count(b"\n") + 1
    return f"{path}: line {line}: byte 0x{bad} is not {encoding_label(encoding)}, {advice}"


def _sniff(text: str) -> str:
    """The delimiter that splits the first line into the most fields (',' on a tie)."""
    csv.field_size_limit(_FIELD_SIZE_LIMIT)  # a header line of any length is read
    first = next(iter(text.splitlines()), "")
    counts = {d: len(next(csv.reader([first], delimiter=d), [])) for d in DELIMITERS}
    return max(DELIMITERS, key=lambda d: (counts[d], -DELIMITERS.index(d)))
