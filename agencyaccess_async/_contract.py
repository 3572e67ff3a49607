"""The contract's data: the services catalog, field limits and enumerated values, as plain data.

Plain data only (dicts, tuples, numbers), so that the emulator shares it
with the SDK without sharing any of the SDK's code: the requested-services
builder, the metadata rule of ``clients.create``, the CLI's row checks and
the emulator's validation all read these values.

The catalog (platform -> service -> access levels) is read from the one copy
of the contract's catalog table, ``catalog.txt`` beside this module, kept in
the contract's own notation (``*`` marks the read-only level, ``(none)`` a service without
levels) so that a correction is a one-line edit. The SDK's requested-services
builder validates against it, and the emulator reads the same data (plain
dicts and tuples only: it shares data with the SDK, never models).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "CATALOG",
    "CLIENT_TYPES",
    "COMPANY_MAX",
    "EMAIL_MAX",
    "GRANT_STATUSES",
    "INTAKE_FORM_STATUSES",
    "LANGUAGES",
    "LINK_STATUSES",
    "LIST_LIMIT_MAX",
    "METADATA_KEYS_MAX",
    "METADATA_KEY_MAX",
    "METADATA_VALUE_MAX",
    "NAME_MAX",
    "READ_ONLY_LEVELS",
    "THANK_YOU_MAX",
    "URL_MAX",
    "Levels",
]

#: The values of the contract's enumerated fields, in the guide's order. The SDK's
#: enums (``ClientType``, ...) and ``Literal`` names spell them out for type
#: checkers; a test holds them equal to these, which the emulator validates and
#: documents with.
CLIENT_TYPES = ("client", "prospect")
LANGUAGES = ("en", "es", "nl")
#: A link's ``status`` as the server reports it ("rejected" is the SDK's own derivation).
LINK_STATUSES = ("pending", "partial", "granted")
GRANT_STATUSES = ("pending", "granted", "rejected")
INTAKE_FORM_STATUSES = ("notRequested", "pending", "completed")

#: The access levels of one service, in the contract's order; empty when the
#: service has none.
Levels = tuple[str, ...]

#: The table itself, in the contract's notation: a data file beside this module.
_TABLE = (Path(__file__).with_name("catalog.txt")).read_text(encoding="utf-8")


def _parse(table: str) -> tuple[dict[str, dict[str, Levels]], dict[tuple[str, str], str]]:
    catalog: dict[str, dict[str, Levels]] = {}
    read_only: dict[tuple[str, str], str] = {}
    for line in table.strip().splitlines():
        if line.startswith("#"):
            continue
        platform, service, levels_text = (cell.strip() for cell in line.split("|"))
        names = [] if levels_text == "(none)" else [n.strip() for n in levels_text.split(",")]
        catalog.setdefault(platform, {})[service] = tuple(n.rstrip("*") for n in names)
        for name in names:
            if name.endswith("*"):
                read_only[(platform, service)] = name.rstrip("*")
    return catalog, read_only


_catalog, _read_only = _parse(_TABLE)

#: platform -> service -> access levels (empty tuple: the service has none).
CATALOG: Mapping[str, Mapping[str, Levels]] = _catalog

#: (platform, service) -> the read-only level (marked * in the contract), for
#: every service that has levels.
READ_ONLY_LEVELS: Mapping[tuple[str, str], str] = _read_only


# The contract's field limits.
NAME_MAX = 200
EMAIL_MAX = 320
COMPANY_MAX = 200
URL_MAX = 2048
#: A client's metadata: at most this many keys, each key and value this long at most.
METADATA_KEYS_MAX = 50
METADATA_KEY_MAX = 40
METADATA_VALUE_MAX = 500
THANK_YOU_MAX = 1000
LIST_LIMIT_MAX = 100
