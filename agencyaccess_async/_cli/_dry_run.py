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
    valid: list[NewClient] = []
    invalid: list[str] = []
    for row in table.rows():
        try:
            valid.append(to_new_client(row, rules, table.columns))
        except RowError as error:
            invalid.append(f"row {row.number}: {error}")
    for client in valid[:_SHOWN_BODIES]:
        print(json.dumps({"clients.create": CONVERTER.unstructure(client)}, ensure_ascii=False))
    if valid:
        link = {"clientID": "<the new client's id>", "requestedServices": services}
        print(json.dumps({"links.create": link}, ensure_ascii=False))
    print(
        f"onboard --dry-run: {len(valid) + len(invalid)} rows: {len(valid)} valid, "
        f"{len(invalid)} invalid; a run would send {2 * len(valid)} creates (a client and an "
        f"access request per valid row, fewer for rows already onboarded) to {target}; "
        "nothing was sent or written",
        file=sys.stderr,
    )
    for line in invalid[:_SHOWN_ERRORS]:
        print(f"onboard --dry-run: {line}", file=sys.stderr)
    if len(invalid) > _SHOWN_ERRORS:
        print(f"onboard --dry-run: … and {len(invalid) - _SHOWN_ERRORS} more", file=sys.stderr)
    return 0 if not invalid else 1
