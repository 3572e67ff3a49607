"""``agencyaccess-async doctor``: first contact with a real key, with harmless calls only.

It checks that the URL answers, that the key is accepted, which capabilities
the key has, and whether each answer has the shape the SDK expects; then it
prints what it saw that our model of the API did not predict (unknown or
missing fields, failures answered at HTTP 200, missing headers). Nothing is
created unless ``--write``: then one client and one access request are made
and deleted again. Exit 0 when the SDK can work with what it saw, 1 when not.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any

import attrs

from .._converter import CONVERTER, wire_fields
from .._errors import (
    AgencyAccessError,
    AuthenticationError,
    CapabilityError,
    TransportError,
)
from .._http import redacted_url
from .._models import Client, Link
from .._retry import RetryPolicy
from .._routes import ROUTES
from .._session import ResponseInfo, Session
from ._common import add_command
from ._connect import load_services, no_key, read_api_key
from ._signals import run_until_signal

_EXIT_CODES = """exit codes:
  0    nothing fatal seen (warnings may be printed)
  1    something fatal: the key refused, the URL not answering as the API, records
       the SDK cannot read (a missing capability is reported, not fatal)
  2    a usage error (one line)
  130  stopped by Ctrl-C (143: SIGTERM)"""
_ONCE = RetryPolicy(attempts=2, deadline=20)
_RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


_HELP = """Check an API key and URL with harmless calls, and report what was seen.

It checks that the URL answers, that the key is accepted and which
capabilities it has, and that each answer has the shape the SDK expects; then
it prints what it saw that the SDK's model of the API did not predict. Nothing
is created unless --write: then one client (and, with --services, one access
request) is made and deleted again.

examples:
  agencyaccess-async doctor
  agencyaccess-async doctor --write --services services.json"""


def add_doctor_command(commands: Any) -> None:
    """Register the ``doctor`` subcommand."""
    parser = add_command(
        commands,
        "doctor",
        "check a key and URL with harmless calls; report what was seen",
        _HELP,
        _EXIT_CODES,
    )
    parser.add_argument(
        "--base-url", help="API base URL (default: $AGENCYACCESS_BASE_URL or the hosted API)"
    )
    parser.add_argument(
        "--write",
        action="store_true",
        help="also create one client (and, with --services, one access request), then delete them",
    )
    parser.add_argument(
        "--services", metavar="SERVICES.json", help="requested services for the --write link"
    )
    parser.set_defaults(run=run)


@attrs.define
class Report:
    """What the doctor saw: one line per finding, and whether the SDK can work."""

    lines: list[str] = attrs.field(factory=list)
    fatal: bool = False

    def ok(self, text: str) -> None:
        self.lines.append(f"  ok    {text}")

    def no(self, text: str, *, fatal: bool = False) -> None:
        self.lines.append(f"  no    {text}")
        self.fatal = self.fatal or fatal

    def note(self, text: str) -> None:
        self.lines.append(f"  note  {text}")


def run(args: argparse.Namespace) -> int:
    """Examine the target, print the report; 0 if the SDK can work with it, else 1."""
    api_key = read_api_key()
    if not api_key:
        raise no_key("to check it")
    services = load_services(args.services, strict=False) if args.services else None
    return run_until_signal(_examine(api_key, args.base_url, args.write, services))


async def _examine(
    api_key: str, base_url: str | None, write: bool, services: Mapping[str, Any] | None
) -> int:
    report = Report()
    async with Session(api_key, base_url=base_url, retry=_ONCE) as session:
        print(f"doctor: {redacted_url(session.base_url)}", file=sys.stderr)
        with session.capture_responses() as seen:
            await _reads(session, report)
            if write and not report.fatal:
                await _writes(session, report, services)
            elif not write and not report.fatal:
                report.note(
                    "create, edit and delete capabilities not checked (--write makes one "
                    "client and one access request, then deletes them)"
                )
        _headers(seen, report)
    verdict = "cannot work" if report.fatal else "can work"
    report.lines.append(f"doctor: the SDK {verdict} with what it saw")
    print("\n".join(report.lines), file=sys.stderr)
    return 1 if report.fatal else 0


async def _reads(session: Session, report: Report) -> None:
    """The URL, the key, the read capabilities, and the shape of a listed record of each kind."""
    for operation, model in (("clients.list", Client), ("links.list", Link)):
        route = ROUTES[operation]
        try:
            data = await session.post(route.path, {"limit": 1}, idempotent=True, retry=_ONCE)
        except AuthenticationError as error:
            report.no(f"the key is refused: {error.message}", fatal=True)
            return
        except TransportError as error:
            shown = redacted_url(session.base_url)
            report.no(f"{shown} does not answer as the API: {error}", fatal=True)
            return
        except CapabilityError as error:
            report.no(f"{route.capability}: not granted to this key ({error.message})")
            continue
        except AgencyAccessError as error:
            report.no(f"{operation}: {error}", fatal=True)
            continue
        if operation == "clients.list":
            report.ok("the URL answers and the key is accepted")
        report.ok(f"{route.capability}: {operation} answered")
        if not isinstance(data, list):
            report.no(f"{operation}: data is a {type(data).__name__}, not a list", fatal=True)
        elif data:
            _shape(operation, data[0], model, report)
        else:
            report.note(f"{operation}: no records yet, so their shape was not seen")


async def _writes(session: Session, report: Report, services: Mapping[str, Any] | None) -> None:
    """Create, update and delete one client (and one link with ``services``); report each step."""
    try:
        raw = await session.post(
            ROUTES["clients.create"].path,
            {"name": "agencyaccess-async doctor", "email": "doctor@example.invalid"},
        )
    except AgencyAccessError as error:
        report.no(f"clients:create: {error}")
        return
    report.ok("clients:create: a client was made")
    client_id = _shape("clients.create", raw, Client, report)
    if client_id is None:
        return
    try:
        if services is not None:
            await _link(session, report, client_id, services)
        else:
            report.note("links:create not checked (--services SERVICES.json to check it)")
        await session.clients.update(client_id, name="agencyaccess-async doctor (checked)")
        report.ok("clients:edit: the client was updated")
    except AgencyAccessError as error:
        report.no(f"{error}")
    finally:
        try:
            await session.clients.delete(client_id)
            report.ok("clients:delete: the client was deleted again")
        except AgencyAccessError as error:
            report.no(f"clients:delete: {error}; delete client {client_id} by hand")


async def _link(
    session: Session, report: Report, client_id: str, services: Mapping[str, Any]
) -> None:
    try:
        link = await session.links.create(client_id, services=services)
    except AgencyAccessError as error:
        report.no(f"links:create: {error}")
        return
    report.ok(f"links:create: an access request was made (invite URL {link.invite_url})")
    try:
        await session.links.delete(link.link_id)
        report.ok("links:delete: the access request was deleted again")
    except AgencyAccessError as error:
        report.no(f"links:delete: {error}")


def _shape(operation: str, record: Any, model: type[Any], report: Report) -> str | None:
    """Compare a raw record with the model; report the differences; return its id if readable."""
    if not isinstance(record, Mapping):
        report.no(f"{operation}: a record is a {type(record).__name__}", fatal=True)
        return None
    expected = wire_fields(model)
    unknown = sorted(set(record) - set(expected))
    missing = [name for name in expected if name not in record]
    if unknown:
        report.note(
            f"{operation}: fields the SDK does not model (kept in .extra): {', '.join(unknown)}"
        )
    if missing:
        report.note(f"{operation}: fields the SDK expected but did not get: {', '.join(missing)}")
    try:
        decoded = CONVERTER.structure(record, model)
    except Exception as error:  # the converter's failures are many kinds; all mean the same here
        report.no(f"{operation}: the SDK cannot read a record ({error})", fatal=True)
        return None
    report.ok(f"{operation}: records read as {model.__name__}")
    return str(decoded.client_id if model is Client else decoded.link_id)


def _headers(seen: list[ResponseInfo], report: Report) -> None:
    answered = [info for info in seen if info.status is not None]
    if not answered:
        return
    if not any(all(h in info.headers for h in _RATE_HEADERS) for info in answered):
        report.note("no X-RateLimit-* headers: the SDK paces itself by 429s and Retry-After only")
    if not any("X-Request-ID" in info.headers for info in answered):
        report.note("no X-Request-ID header: errors will carry the SDK's own request ids")
    statuses = sorted({info.status for info in answered if info.status is not None})
    if any(status != 200 for status in statuses):
        report.note(f"HTTP statuses seen: {', '.join(map(str, statuses))}")
