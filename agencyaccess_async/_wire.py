"""The wire's spelling: field names and timestamps, shared by the models and the converter."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone

__all__ = ["WIRE_NAME_EXCEPTIONS", "format_datetime", "wire_name"]

#: Wire names that plain camelCase does not produce.
WIRE_NAME_EXCEPTIONS: Mapping[str, str] = {
    "client_id": "clientID",
    "link_id": "linkID",
    "redirect_url": "redirectURL",
    "agency_account_id": "agencyAccountID",
    "access_page_id": "accessPageID",
}


def wire_name(field: str) -> str:
    """The JSON name of a Python field: camelCase, with the contract's exceptions."""
    if field in WIRE_NAME_EXCEPTIONS:
        return WIRE_NAME_EXCEPTIONS[field]
    head, *rest = field.split("_")
    return head + "".join(part.title() for part in rest)


def format_datetime(value: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``: milliseconds, as JavaScript writes them, unless finer."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    else:
        value = value.astimezone(timezone.utc)
    precision = "milliseconds" if value.microsecond % 1000 == 0 else "microseconds"
    return value.replace(tzinfo=None).isoformat(timespec=precision) + "Z"
