"""Which column of a CRM export holds which field: header matching, alias tables, ``--map``.

A header cell matches a field when the two are equal once lower-cased and
stripped of spaces and punctuation (``E-mail``, ``Email Address``,
``e_mail``). ``EXPORTS`` lists what each CRM's own export calls each field;
it is the one table of aliases (the README cites it). Two columns that may
both be a field, with no ``--map`` to choose, refuse the file with one line
naming both: a guess there would send one client's name as another's.

The client's ``name`` is the business's name: a client-name column (the
account, ``Client``, ``Business Name``), else the company or organisation
column. Only when a file has neither is it made from a person's name: a
full-name column, or first and last names joined. The mapping chosen is
shown by every run (``Columns.shown``) and recorded in its summary.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import attrs

from ._common import UsageError

__all__ = [
    "looks_like_header",
    "EXPORTS",
    "FIELDS",
    "METADATA_PREFIX",
    "Columns",
    "normalised_header",
]

#: The fields a row may give, as the SDK's own files name them.
FIELDS = ("name", "email", "company", "website", "type", "language", "external_id")
METADATA_PREFIX = "metadata."
#: Person-name parts, used for ``name`` only when the file has no business name.
_FALLBACK_NAME = "full_name"
_FIRST, _LAST = "first_name", "last_name"

#: What each CRM's export calls each field, spelled as the export spells it.
#: Keep it explicit: adding an export is adding an entry here.
EXPORTS: Mapping[str, Mapping[str, Sequence[str]]] = {
    "AgencyAccess (these names, in any case or spacing)": {f: (f,) for f in FIELDS},
    "HubSpot": {
        "name": ("Company Name",),
        "company": ("Company Name",),
        "email": ("Email",),
        "website": ("Website URL", "Company Domain Name"),
        "external_id": ("Record ID", "Contact ID"),
        _FIRST: ("First Name",),
        _LAST: ("Last Name",),
    },
    "Salesforce": {
        "name": ("Account Name",),
        "company": ("Account Name", "Company"),
        "email": ("Email",),
        "website": ("Website",),
        "external_id": ("Account ID", "Contact ID", "Lead ID"),
        _FALLBACK_NAME: ("Full Name",),
        _FIRST: ("First Name",),
        _LAST: ("Last Name",),
    },
    "Pipedrive": {
        "name": ("Organization - Name",),
        "company": ("Organization - Name",),
        "email": ("Person - Email", "Person - Email - Work"),
        "website": ("Organization - Website",),
        "external_id": ("Organization - ID",),
        _FALLBACK_NAME: ("Person - Name",),
    },
    "Zoho CRM": {
        "name": ("Account Name",),
        "company": ("Account Name", "Company"),
        "email": ("Email",),
        "website": ("Website",),
        "external_id": ("Record Id", "Account Id", "Contact Id"),
        _FALLBACK_NAME: ("Full Name",),
        _FIRST: ("First Name",),
        _LAST: ("Last Name",),
    },
    "Mailchimp": {
        "company": ("Company",),
        "email": ("Email Address",),
        "external_id": ("Unique Email ID",),
        _FIRST: ("First Name",),
        _LAST: ("Last Name",),
    },
    "Airtable and Numbers": {
        "name": ("Client", "Client Name"),
    },
    "Google Contacts": {
        "company": ("Organization Name", "Organization 1 - Name"),
        "email": ("E-mail 1 - Value", "E-mail Address"),
        "website": ("Website 1 - Value",),
        _FIRST: ("First Name", "Given Name"),
        _LAST: ("Last Name", "Family Name"),
    },
    "Google Sheets and hand-made files": {
        "name": ("Client Name", "Business Name"),
        "company": ("Company Name", "Business Name", "Organization"),
        "email": ("Email Address", "Mail", "Contact Email"),
        "website": ("Website URL", "URL", "Homepage"),
        "type": ("Client Type",),
        "language": ("Lang", "Locale"),
        "external_id": ("CRM ID", "External ID"),
        _FALLBACK_NAME: ("Contact Name", "Full Name"),
    },
}


def normalised_header(cell: str) -> str:
    """A header cell as matching compares it: lower case, no spaces or punctuation."""
    return re.sub(r"[\W_]+", "", cell.lower())


def _aliases() -> dict[str, set[str]]:
    table: dict[str, set[str]] = {}
    for fields in EXPORTS.values():
        for field, spellings in fields.items():
            table.setdefault(field, set()).update(normalised_header(s) for s in spellings)
    return table


_ALIASES = _aliases()


def looks_like_header(cells: Sequence[str]) -> bool:
    """Whether a row reads as a header: a known e-mail column and a known name-like column.

    What finds the header below a board's title rows (a monday.com export),
    and tells a repeated header row inside the table from a client.
    """
    known = {normalised_header(cell) for cell in cells if cell.strip()}
    named = ("name", "company", _FALLBACK_NAME, _FIRST, _LAST)
    return bool(known & _ALIASES["email"]) and any(known & _ALIASES.get(f, set()) for f in named)


@attrs.frozen
class Columns:
    """Which header cell gives each field.

    ``name_parts`` are the columns of a person's name (a full name, or first
    and last names joined): the name of a row whose ``name`` column is empty
    or missing.
    """

    path: str
    by_field: Mapping[str, str]
    name_parts: tuple[str, ...] = ()
    metadata: Mapping[str, str] = attrs.field(factory=dict)  # column -> metadata key

    @classmethod
    def resolve(
        cls, path: str, header: Sequence[str], filled: Iterable[str], mapped: Mapping[str, str]
    ) -> Columns:
        """Match the header to fields; a ``UsageError`` when a field is missing or ambiguous.

        ``filled`` names the columns with a value in some row: a column that is
        empty in every row never competes for a field. ``mapped`` is
        ``--map FIELD=COLUMN``, which always wins.
        """
        filled = set(filled)
        by_field: dict[str, str] = {}
        for field, column in mapped.items():
            by_field[field] = _mapped_column(path, header, field, column)
        chosen = {**by_field}
        for field in (*FIELDS, _FALLBACK_NAME, _FIRST, _LAST):
            if field in chosen:
                continue
            candidates = [
                cell for cell in header
                if cell in filled and normalised_header(cell) in _ALIASES.get(field, ())
            ]  # fmt: skip
            if len(candidates) > 1:
                shown = " and ".join(repr(c) for c in candidates)
                raise UsageError(
                    f"{path}: {shown} could each be the {field.replace('_', ' ')} column; "
                    f"choose one with --map {field}=COLUMN"
                )
            if candidates:
                chosen[field] = candidates[0]
        person: tuple[str, ...] = (
            (chosen[_FALLBACK_NAME],)
            if _FALLBACK_NAME in chosen
            else tuple(chosen[p] for p in (_FIRST, _LAST) if p in chosen)
        )
        if "name" not in chosen and "company" in chosen:  # a business's name before a person's
            chosen["name"] = chosen["company"]
        # A person's name: the name itself when the file has no business name, else for the
        # rows whose business name is empty (unless --map chose the name column).
        parts = () if "name" in mapped else person
        fields = {f: c for f, c in chosen.items() if f in FIELDS}
        for required in ("name", "email"):
            if required not in fields and not (required == "name" and parts):
                raise UsageError(_missing(path, header, required))
        metadata = {
            cell: cell.strip()[len(METADATA_PREFIX) :]
            for cell in header
            if cell.strip().lower().startswith(METADATA_PREFIX)
        }
        return cls(path, fields, parts, metadata)

    @property
    def shown(self) -> dict[str, str]:
        """Each field and the column it is read from, as the file spells it."""
        return {field: self.spelled(field) for field in FIELDS if field in self.by_field or (
            field == "name" and self.name_parts)}  # fmt: skip

    def spelled(self, field: str) -> str:
        """The field's column as the file spells it (for messages)."""
        if field == "name" and self.name_parts:
            person = " + ".join(self.name_parts)
            return f"{self.by_field['name']} (else {person})" if "name" in self.by_field else person
        return self.by_field.get(field, field)

    def values(self, cells: Mapping[str, str]) -> dict[str, str]:
        """The row's fields, from its cells by column."""
        fields = {field: cells.get(column, "") for field, column in self.by_field.items()}
        if self.name_parts and not fields.get("name", "").strip():
            fields["name"] = " ".join(
                cells.get(part, "").strip() for part in self.name_parts if cells.get(part, "")
            )
        return fields


def _mapped_column(path: str, header: Sequence[str], field: str, column: str) -> str:
    if field not in FIELDS:
        raise UsageError(f"--map {field}=...: not a field; the fields are {', '.join(FIELDS)}")
    if column in header:
        return column
    matches = [cell for cell in header if normalised_header(cell) == normalised_header(column)]
    if len(matches) != 1:
        raise UsageError(
            f"--map {field}={column}: {path} has no column {column!r} "
            f"(its header is: {', '.join(c for c in header if c)})"
        )
    return matches[0]


def _missing(path: str, header: Sequence[str], field: str) -> str:
    shown = ", ".join(c for c in header if c) or "(empty)"
    return (
        f"{path}: no {field!r} column (the header is: {shown}); name it with --map {field}=COLUMN"
    )
