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

A text file is never held in memory: it is checked in one streaming pass
(its encoding, NUL bytes), and each reading of its rows streams it again
from disk, so memory does not grow with the file. A pipe, which can be read
only once, is first spooled to a temporary file.
"""

from __future__ import annotations

import atexit
import codecs
import csv
import io
import os
import shutil
import stat
import tempfile
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
_CHUNK = 1 << 20  # bytes read at a time
#: The most bytes of non-ASCII lines kept to judge a legacy encoding by.
_SAMPLE = 4 << 20


@attrs.frozen
class Source:
    """A file's content as text rows: its encoding and delimiter known, streamed on demand.

    ``path`` is the file as the user named it; ``file`` is what is read (a
    spooled copy of a pipe). ``bom`` says the file began with a byte-order
    mark (so the results file gets one too, for Excel); ``note`` is a line
    to show the user (a guessed encoding), or None.
    """

    path: Path
    file: Path
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
        csv.field_size_limit(_FIELD_SIZE_LIMIT)
        with _text(self.file, self.encoding, self.bom) as text:
            reader = csv.reader(text, delimiter=self.delimiter)
            try:
                yield from reader
            except csv.Error as error:
                raise UsageError(
                    f"{self.path}: unreadable at row {reader.line_num} ({error})"
                ) from None
            except UnicodeDecodeError:  # checked when read first: the file changed since
                raise UsageError(f"{self.path}: changed while it was being read") from None


def read_source(
    path: Path, *, encoding: str | None, delimiter: str | None, sheet: str | None
) -> Source:
    """Read ``path`` (a CSV or text export, or an .xlsx workbook) as rows of text.

    One streaming pass decides the encoding and checks every byte of it;
    nothing of the file is kept but its first line.
    """
    file = _readable(path)
    with file.open("rb") as handle:
        head = handle.read(_CHUNK)
        blank = not head.strip() and not any(chunk.strip() for chunk in iter(
            lambda: handle.read(_CHUNK), b""))  # fmt: skip
    if blank:
        raise UsageError(f"{path}: the file is empty; expected a header row and client rows")
    if head.startswith(_ZIP):
        return Source(path, file, ",", "xlsx", workbook=Workbook.open(file, sheet))
    if head.startswith(_XLS):
        raise UsageError(
            f"{path}: an old Excel .xls workbook; save it as .xlsx (with the xlsx extra "
            'installed) or as "CSV UTF-8"'
        )
    if sheet is not None:
        raise UsageError(f"--sheet {sheet}: {path} is not an Excel workbook")
    used, bom, note, nul = _decide(path, file, head, encoding)
    if nul:
        raise UsageError(f"{path}: not a text file (it holds NUL bytes); expected a CSV export")
    with _text(file, used, bom) as text:
        first = text.readline()
    if delimiter is None:
        delimiter = _sniff(first)
    return Source(path, file, delimiter, used, bom, note)


def _readable(path: Path) -> Path:
    """``path``, or a pipe's content spooled to a temporary file (removed at exit)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except OSError as error:
        raise UsageError(f"{path}: cannot read it ({error.strerror})") from None
    if stat.S_ISDIR(mode):
        raise UsageError(f"{path}: is a directory, not a CSV file")
    if stat.S_ISREG(mode):
        return path
    handle, spooled = tempfile.mkstemp(prefix="agencyaccess-", suffix=path.suffix)
    atexit.register(os.unlink, spooled)
    try:
        with path.open("rb") as source, os.fdopen(handle, "wb") as copy:
            shutil.copyfileobj(source, copy, _CHUNK)
    except OSError as error:
        raise UsageError(f"{path}: cannot read it ({error.strerror})") from None
    return Path(spooled)


def _text(file: Path, encoding: str, bom: bool) -> io.TextIOWrapper:
    """The file as a text stream in ``encoding``, without its byte-order mark."""
    codec = "utf-8-sig" if encoding == "utf-8" and bom else encoding
    return open(file, encoding=codec, newline="")


def _decide(
    path: Path, file: Path, head: bytes, encoding: str | None
) -> tuple[str, bool, str | None, bool]:
    """(the encoding to read ``file`` in, whether it has a BOM, a note, whether it holds NUL).

    Every byte is decoded once here, in chunks, so a bad one is refused
    before anything is sent; the same pass looks for NUL characters.
    """
    if encoding is not None:
        codec = codec_name(encoding)
        bom = head.startswith(codecs.BOM_UTF8) and codecs.lookup(codec).name == "utf-8"
        return codec, bom, None, _strict(path, file, codec)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", True, None, _strict(path, file, "utf-8-sig")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", True, None, _strict(path, file, "utf-16")
    failure, nul = _scan(file, "utf-8")
    if failure is None:
        return "utf-8", False, None, nul
    if _holds_utf8(file):
        # Valid UTF-8 beside the bad bytes: a UTF-8 file with a damaged cell, which
        # any legacy reading would turn into mojibake everywhere else.
        raise UsageError(
            _undecodable(
                path, file, "utf-8", failure,
                "while the rest of the file is: fix that cell and save the file as UTF-8 "
                "again (nothing was sent)",
            )
        )  # fmt: skip
    sample, nul = _legacy_sample(file)
    choice = choose_legacy(path, sample)
    note = (
        f"{path} is not UTF-8: read it as {encoding_label(choice.codec)} ({choice.why}); "
        "if accents look wrong, name the encoding with --encoding"
    )
    return choice.codec, False, note, nul


def _scan(file: Path, encoding: str) -> tuple[tuple[int, bytes] | None, bool]:
    """The first byte that is not ``encoding`` (offset, value; None), and whether NUL came before.

    One pass over the file, in chunks: the check of every byte and the
    search for NUL characters (a file that is not text) are the same read.
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    offset, nul = 0, False
    with file.open("rb") as handle:
        while True:
            chunk = handle.read(_CHUNK)
            pending = len(decoder.getstate()[0])  # bytes of a character begun last chunk
            try:
                nul = "\x00" in decoder.decode(chunk, final=not chunk) or nul
            except UnicodeDecodeError as error:  # its object: the pending bytes, then chunk
                at = offset - pending + error.start
                return (at, error.object[error.start : error.start + 1]), nul
            if not chunk:
                return None, nul
            offset += len(chunk)


def _holds_utf8(file: Path) -> bool:
    """Whether the file holds any valid non-ASCII UTF-8 (bad bytes skipped)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="ignore")
    with file.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            if not decoder.decode(chunk).isascii():
                return True
    return False


def _legacy_sample(file: Path) -> tuple[bytes, bool]:
    """The lines with a byte over 0x7f (up to ``_SAMPLE`` bytes), and whether a NUL byte is in it.

    The lines are what a legacy encoding is judged by; in each such
    encoding a NUL byte is the NUL character.
    """
    kept: list[bytes] = []
    size, nul = 0, False
    with file.open("rb") as handle:
        for line in handle:
            nul = nul or b"\x00" in line
            if not line.isascii() and size < _SAMPLE:
                kept.append(line)
                size += len(line)
    return b"".join(kept), nul


def _strict(path: Path, file: Path, encoding: str) -> bool:
    """Refuse a file with a byte that is not ``encoding``; whether it holds a NUL character."""
    failure, nul = _scan(file, encoding)
    if failure is not None:
        raise UsageError(_undecodable(path, file, encoding, failure))
    return nul


def _undecodable(
    path: Path,
    file: Path,
    encoding: str,
    failure: tuple[int, bytes],
    advice: str = "so name the file's encoding with --encoding",
) -> str:
    """Where the first undecodable byte is: its row and, when the header reads, its column."""
    at, byte = failure
    bad = byte.hex()
    codec = "utf-8-sig" if encoding == "utf-8" else encoding
    with open(file, encoding=codec, errors="replace", newline="") as text:
        delimiter = _sniff(text.readline())  # (which lifts the csv module's cell-size limit)
        text.seek(0)
        try:
            rows = csv.reader(text, delimiter=delimiter)
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
    with file.open("rb") as handle:
        line = 1 + sum(chunk.count(b"\n") for chunk in _prefix(handle, at))
    return f"{path}: line {line}: byte 0x{bad} is not {encoding_label(encoding)}, {advice}"


def _prefix(handle: io.BufferedReader, size: int) -> Iterator[bytes]:
    """The first ``size`` bytes of ``handle``, in chunks."""
    while size > 0 and (chunk := handle.read(min(_CHUNK, size))):
        size -= len(chunk)
        yield chunk


def _sniff(first: str) -> str:
    """The delimiter that splits the first line into the most fields (',' on a tie)."""
    csv.field_size_limit(_FIELD_SIZE_LIMIT)  # a header line of any length is read
    first = next(iter(first.splitlines()), "")
    counts = {d: len(next(csv.reader([first], delimiter=d), [])) for d in DELIMITERS}
    return max(DELIMITERS, key=lambda d: (counts[d], -DELIMITERS.index(d)))
