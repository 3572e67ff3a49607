"""Which encoding a clients file is in, when it is not UTF-8: chosen only when it is clear.

A file that is not UTF-8 comes from a spreadsheet saving "CSV" in a legacy
single-byte code page. Three are common for the Latin languages an agency's
clients write in, and they disagree on the same bytes:

- **Windows-1252** (Excel on Windows): ``é`` is 0xE9, ``€`` 0x80, a curly
  apostrophe 0x92;
- **ISO-8859-15** (LibreOffice's "Western Europe"): ``€`` 0xA4, ``œ`` 0xBD,
  and 0x80-0x9F are control characters;
- **Mac OS Roman** (Excel for Mac): ``é`` 0x8E, ``ü`` 0x9F.

The rule: decode the file in each, and read the non-ASCII characters as a
person would. A control character or an unassigned byte rules a candidate
out; a character that does not belong in a name, an address or a company
(a symbol such as ``½`` or ``¤``, a non-Latin letter such as ``Ω``, an
accented capital inside a lower-case word such as ``JosÈ``, a letter
glued to a digit) counts against it. The file is read in a candidate only
when it is the only one with nothing against it, or when every such
candidate reads the same text. Otherwise nothing is guessed: the one-line
refusal names each candidate with the first name it would read
differently, and ``--encoding``.

Also: the usual spellings of encodings (``MacRoman``, ``Mac OS Roman``,
``latin9``, ``ISO-8859-15``) as ``--encoding`` values.
"""

from __future__ import annotations

import codecs
import unicodedata
from pathlib import Path

import attrs

from ._common import UsageError

__all__ = ["Choice", "choose_legacy", "codec_name", "encoding_label"]

#: The legacy encodings a file that is not UTF-8 is tried in, in order of preference
#: when they read the same text.
CANDIDATES = ("cp1252", "iso8859-15", "mac-roman")
_LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8",
    "utf-16": "UTF-16",
    "cp1252": "Windows-1252",
    "iso8859-15": "ISO-8859-15",
    "mac-roman": "Mac OS Roman",
}
#: Spellings Python's codec registry does not know, by their letters and digits only.
_ALIASES = {
    "macosroman": "mac-roman",
    "macintosh": "mac-roman",
    "macroman": "mac-roman",
    "latin9": "iso8859-15",
    "iso885915": "iso8859-15",
    "windows1252": "cp1252",
    "ansi": "cp1252",
}
#: Non-ASCII characters that are not letters and still belong in names, companies and
#: notes: currency, quotes, dashes, the ellipsis, marks, ordinals and a no-break space.
_PLAUSIBLE = set("€£¥¢©®°«»…•™·¿¡ªº\xa0\u2018\u2019\u201a\u201c\u201d\u201e\u2013\u2014")


def codec_name(spelled: str) -> str:
    """The codec of an ``--encoding`` value, however it is usually spelled; else one line."""
    wanted = _ALIASES.get("".join(c for c in spelled.lower() if c.isalnum()), spelled)
    try:
        return codecs.lookup(wanted).name
    except LookupError:
        known = ", ".join(dict.fromkeys(_LABELS.values()))
        raise UsageError(
            f"--encoding {spelled}: not an encoding Python knows (e.g. {known})"
        ) from None


def encoding_label(codec: str) -> str:
    """How a person names the codec: ``Windows-1252``, ``Mac OS Roman``, ``UTF-8``."""
    return _LABELS.get(codecs.lookup(codec).name, codec)


@attrs.frozen
class Choice:
    """The text of the file in the encoding chosen, and why it was chosen (for the note)."""

    text: str
    codec: str
    why: str


def choose_legacy(path: Path, data: bytes) -> Choice:
    """The file's text in the one legacy encoding that is clearly right; else one line."""
    readings: dict[str, str] = {}
    against: dict[str, int] = {}
    for codec in CANDIDATES:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue  # a byte this encoding does not assign
        count = _implausible(text)
        if count is not None:
            readings[codec], against[codec] = text, count
    clean = [codec for codec in readings if against[codec] == 0]
    if clean and len({readings[codec] for codec in clean}) == 1:
        chosen = clean[0]
        others = [encoding_label(c) for c in CANDIDATES if c != chosen]
        same = [encoding_label(c) for c in clean[1:]]
        why = (
            f"the same text as {' and '.join(same)}"
            if same
            else f"{' and '.join(others)} would read its accents as other characters"
        )
        return Choice(readings[chosen], chosen, why)
    shown = clean or list(readings)
    if not shown:
        raise UsageError(
            f"{path}: not text in UTF-8 or in {', '.join(map(encoding_label, CANDIDATES))} "
            "(is it a CSV file?); if it is, name its encoding with --encoding"
        )
    raise UsageError(_unclear(path, {codec: readings[codec] for codec in shown}))


def _implausible(text: str) -> int | None:
    """How many non-ASCII characters do not belong in such a file; None if one cannot."""
    count = 0
    for at, char in enumerate(text):
        if char.isascii():
            continue
        category = unicodedata.category(char)
        if category[0] == "C":
            return None  # a control or unassigned character: not this encoding
        if category[0] != "L":
            count += char not in _PLAUSIBLE
            continue
        before = text[at - 1] if at else " "
        after = text[at + 1] if at + 1 < len(text) else " "
        count += (
            not unicodedata.name(char, "").startswith("LATIN")
            or (char.isupper() and before.islower())
            or (char.islower() and after.isupper())
            or (char.isupper() and before.isalpha() and after.islower())
            or before.isdigit()
            or after.isdigit()
        )
    return count


def _unclear(path: Path, readings: dict[str, str]) -> str:
    """The refusal: each candidate with the first word it reads differently from the others."""
    lines = {codec: text.splitlines() for codec, text in readings.items()}
    first = next(iter(lines.values()))
    for number in range(len(first)):
        variants = {codec: rows[number] for codec, rows in lines.items() if number < len(rows)}
        if len(set(variants.values())) > 1:
            break
    else:
        number, variants = 0, {codec: rows[0] for codec, rows in lines.items() if rows}
    previews = ", ".join(
        f"--encoding {encoding_label(codec).replace(' ', '')} reads {_word(text, variants)!r}"
        for codec, text in variants.items()
    )
    return (
        f"{path}: not UTF-8, and which legacy encoding it is is not clear (row {number + 1}: "
        f"{previews}); name the right one with --encoding"
    )


def _word(line: str, variants: dict[str, str]) -> str:
    """The part of ``line`` around its first character that the candidates read differently."""
    others = list(variants.values())
    at = next(
        (i for i in range(len(line)) if len({v[i] if i < len(v) else "" for v in others}) > 1),
        0,
    )
    start = max(0, at - 12)
    return line[start : at + 12].strip()
