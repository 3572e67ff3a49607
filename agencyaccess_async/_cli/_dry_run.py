"""``onboard --dry-run``: every row checked and the first bodies shown, nothing sent or written.

It starts no Session and no emulator and opens no journal: the only
effects are lines on stdout (what would be sent) and stderr (the counts and
the invalid rows).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

from .._converter import CONVERTER
from .._models import NewClient
from .._services import RequestedServices
from ._rows import ClientsCsv, RowError, to_new_client

__all__ = ["dry_run"]

#: The rows whose bodies are printed.
_SHOWN_BODIES = 3
_SHOWN_ERRORS = 10


def dry_run(table: ClientsCsv, services: Mapping[str, Any], target: str) -> int:
    """Check every row; print the counts, the invalid rows and the first bodies; 0 if all valid."""
    rules = RequestedServices.from_json(services, validate=False)
    shown: list[NewClient] = []  # the first bodies; the rest are only counted
    valid = 0
    invalid: list[str] = []  # the first problems; the rest are only counted
    problems = 0
    for row in table.rows():
        try:
            client = to_new_client(row, rules, table.columns)
        except RowError as error:
            problems += 1
            if len(invalid) < _SHOWN_ERRORS:
                invalid.append(f"row {row.number}: {error}")
            continue
        valid += 1
        if len(shown) < _SHOWN_BODIES:
            shown.append(client)
    for client in shown:
        print(json.dumps({"clients.create": CONVERTER.unstructure(client)}, ensure_ascii=False))
    if valid:
        link = {"clientID": "<the new client's id>", "requestedServices": services}
        print(json.dumps({"links.create": link}, ensure_ascii=False))
    print(
        f"onboard --dry-run: {valid + problems} rows: {valid} valid, "
        f"{problems} invalid; a run would send {2 * valid} creates (a client and an "
        f"access request per valid row, fewer for rows already onboarded) to {target}; "
        "nothing was sent or written",
        file=sys.stderr,
    )
    for line in invalid:
        print(f"onboard --dry-run: {line}", file=sys.stderr)
    if problems > len(invalid):
        print(f"onboard --dry-run: … and {problems - len(invalid)} more", file=sys.stderr)
    return 0 if not problems else 1
