"""The emulator's in-memory records: one agency's connected accounts, clients and links.

Plain dicts in wire form, so answers need no conversion. Records keep a
creation sequence number; list cursors point at a sequence number, which is
why a cursor stays valid while records are created and deleted.
"""

from __future__ import annotations

import base64
import bisect
import secrets
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from .._contract import CATALOG
from ._validate import ApiFailure, check_services, invalid

ALL_CAPABILITIES = (
    "clients:create",
    "clients:retrieve",
    "clients:edit",
    "clients:delete",
    "links:create",
    "links:retrieve",
    "links:edit",
    "links:delete",
)
#: Where invite links point when no request told the emulator its own address.
INVITE_BASE = "http://127.0.0.1/invite/"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(8)


class Table:
    """Records in creation order, addressable by id and by sequence number."""

    def __init__(self, id_field: str) -> None:
        self.id_field = id_field
        self.by_id: dict[str, dict[str, Any]] = {}
        self._seq_of: dict[str, int] = {}
        self._seqs: list[int] = []
        self._ids: list[str] = []
        self._next = 1

    def __len__(self) -> int:
        return len(self.by_id)

    def add(self, record: dict[str, Any]) -> None:
        record_id = record[self.id_field]
        self.by_id[record_id] = record
        self._seq_of[record_id] = self._next
        self._seqs.append(self._next)
        self._ids.append(record_id)
        self._next += 1

    def remove(self, record_id: str) -> None:
        # The sequence slot stays as a tombstone: cursors after it stay valid.
        del self.by_id[record_id]

    def after(self, seq: int) -> Iterator[tuple[int, dict[str, Any]]]:
        """Live records created after sequence number ``seq``, oldest first."""
        for index in range(bisect.bisect_right(self._seqs, seq), len(self._seqs)):
            record = self.by_id.get(self._ids[index])
            if record is not None and self._seq_of.get(record[self.id_field]) == self._seqs[index]:
                yield self._seqs[index], record


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        kind, _, number = base64.urlsafe_b64decode(padded).decode().partition(":")
        if kind != "seq" or not (number.isascii() and number.isdigit()):
            raise ValueError(cursor)
        return int(number)
    except ValueError:
        raise invalid("cursor", "not a cursor this server issued") from None


class Store:
    """All records of one agency: the keys of that agency share them, no other key sees them."""

    def __init__(self) -> None:
        self.accounts: dict[str, dict[str, Any]] = {}
        self.intake_form_enabled: bool = False
        self.clients: Table = Table("clientID")
        self.links: Table = Table("linkID")
        self.links_of: dict[str, list[str]] = {}
        #: invite token -> linkID: the token alone opens the invite page.
        self.invites: dict[str, str] = {}
        #: The base of invite URLs: the emulator's own /invite/ (see Emulator.handle).
        self.invite_base = INVITE_BASE

    # ------------------------------------------------------------ setup
    def add_account(self, platform: str, account_id: str | None, expired: bool) -> dict[str, Any]:
        if platform not in CATALOG:
            raise invalid("platform", f"unknown platform {platform!r}")
        account_id = account_id or f"acct_{platform}_{secrets.token_hex(4)}"
        account = {"agencyAccountID": account_id, "platform": platform, "expired": bool(expired)}
        self.accounts[account_id] = account
        return account

    def seed_accounts(self) -> None:
        for platform in CATALOG:
            self.add_account(platform, f"acct_{platform}_1", expired=False)
        self.add_account("google", "acct_google_expired", expired=True)

    # ------------------------------------------------------------ clients
    def create_client(self, body: dict[str, Any]) -> dict[str, Any]:
        stamp = now_iso()
        client = {
            "clientID": new_id("cl_"),
            "name": body["name"],
            "email": body["email"],
            "company": body.get("company"),
            "website": body.get("website"),
            "type": body.get("type", "client"),
            "language": body.get("language", "en"),
            "metadata": dict(body.get("metadata") or {}),
            "createdAt": stamp,
            "updatedAt": stamp,
        }
        self.clients.add(client)
        return client

    def client(self, client_id: str) -> dict[str, Any]:
        client = self.clients.by_id.get(client_id)
        if client is None:
            raise ApiFailure(404, f"Client does not exist. {client_id}")
        return client

    def update_client(self, body: dict[str, Any]) -> dict[str, Any]:
        client = self.client(body["clientID"])
        changes = {k: v for k, v in body.items() if k != "clientID"}
        if "metadata" in changes:
            changes["metadata"] = dict(changes["metadata"] or {})
        client.update(changes, updatedAt=now_iso())
        return client

    def delete_client(self, client_id: str) -> dict[str, Any]:
        self.client(client_id)
        for link_id in self.links_of.pop(client_id, []):
            if link_id in self.links.by_id:
                self.links.remove(link_id)
        self.clients.remove(client_id)
        return {"clientID": client_id, "deleted": True}

    def list_clients(self, query: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        search = query.get("search") or None
        kind = query.get("type")
        matches = (
            (seq, c)
            for seq, c in self.clients.after(_cursor_seq(query))
            if (kind is None or c["type"] == kind)
            and (search is None or _client_matches(c, search))
        )
        return _page(matches, query.get("limit", 50))

    # ------------------------------------------------------------ links
    def create_link(self, body: dict[str, Any]) -> dict[str, Any]:
        client = self.client(body["clientID"])
        services = body["requestedServices"]
        self._check_link(services, client, body.get("intakeForm", False))
        stamp = now_iso()
        intake = body.get("intakeForm", False)
        token = secrets.token_urlsafe(24)  # unguessable: 192 random bits
        link = {
            "linkID": new_id("ln_"),
            "clientID": client["clientID"],
            "inviteUrl": self.invite_base + token,
            "status": "pending",
            "requestedServices": services,
            "grants": _grants(services, {}),
            "intakeForm": intake,
            "sendEmail": body.get("sendEmail", False),
            "thankYouMessage": body.get("thankYouMessage"),
            "redirectURL": body.get("redirectURL"),
            "intakeFormStatus": "pending" if intake else "notRequested",
            "source": None,
            "createdAt": stamp,
            "updatedAt": stamp,
        }
        self.links.add(link)
        self.links_of.setdefault(client["clientID"], []).append(link["linkID"])
        self.invites[token] = link["linkID"]
        return link

    def invited(self, token: str) -> dict[str, Any] | None:
        """The link an invite token opens, if it still exists."""
        link_id = self.invites.get(token)
        return self.links.by_id.get(link_id) if link_id is not None else None

    def link(self, link_id: str) -> dict[str, Any]:
        link = self.links.by_id.get(link_id)
        if link is None:
            raise ApiFailure(404, f"Not found: access request {link_id}")
        return link

    def update_link(self, body: dict[str, Any]) -> dict[str, Any]:
        link = self.link(body["linkID"])
        client = self.client(link["clientID"])
        services = body.get("requestedServices", link["requestedServices"])
        self._check_link(services, client, body.get("intakeForm", False) and not link["intakeForm"])
        changes = {k: v for k, v in body.items() if k != "linkID"}
        if "requestedServices" in changes:
            previous = {(g["platform"], g["service"]): g for g in link["grants"]}
            changes["grants"] = _grants(services, previous)
        if changes.get("intakeForm") and link["intakeFormStatus"] == "notRequested":
            changes["intakeFormStatus"] = "pending"
        link.update(changes, updatedAt=now_iso())
        link["status"] = link_status(link["grants"])
        return link

    def delete_link(self, link_id: str) -> dict[str, Any]:
        link = self.link(link_id)
        siblings = self.links_of.get(link["clientID"], [])
        if link_id in siblings:
            siblings.remove(link_id)
        self.links.remove(link_id)
        return {"linkID": link_id, "deleted": True}

    def list_links(self, query: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        search = query.get("search") or None
        kind = query.get("type")
        client_id = query.get("clientID")

        def keep(link: dict[str, Any]) -> bool:
            if client_id is not None and link["clientID"] != client_id:
                return False
            client = self.clients.by_id.get(link["clientID"], {})
            if kind is not None and client.get("type") != kind:
                return False
            return search is None or link["linkID"] == search or _client_matches(client, search)

        matches = ((seq, link) for seq, link in self.links.after(_cursor_seq(query)) if keep(link))
        return _page(matches, query.get("limit", 50))

    def set_grant(self, link_id: str, platform: str, service: str, status: str) -> dict[str, Any]:
        link = self.link(link_id)
        for grant in link["grants"]:
            if grant["platform"] == platform and grant["service"] == service:
                grant["status"] = status
                grant["grantedAt"] = now_iso() if status == "granted" else None
                break
        else:
            raise ApiFailure(404, f"Not found: service {platform}.{service} on {link_id}")
        link["status"] = link_status(link["grants"])
        link["updatedAt"] = now_iso()
        return link

    def complete_intake(self, link_id: str) -> dict[str, Any]:
        link = self.link(link_id)
        if not link["intakeForm"]:
            raise invalid("linkID", "this access request has no intake form")
        link["intakeFormStatus"] = "completed"
        link["updatedAt"] = now_iso()
        return link

    def _check_link(self, services: dict[str, Any], client: dict[str, Any], intake: bool) -> None:
        check_services(services, self.accounts, prospect=client["type"] == "prospect")
        if intake and not self.intake_form_enabled:
            raise ApiFailure(400, "Intake form is requested but not enabled.")


def link_status(grants: list[dict[str, Any]]) -> str:
    granted = sum(1 for g in grants if g["status"] == "granted")
    if grants and granted == len(grants):
        return "granted"
    return "partial" if granted else "pending"


def _grants(
    services: dict[str, Any], previous: dict[tuple[str, str], dict[str, Any]]
) -> list[dict[str, Any]]:
    grants = []
    for platform, entries in services.items():
        for service, entry in entries.items():
            old = previous.get((platform, service), {})
            grants.append(
                {
                    "platform": platform,
                    "service": service,
                    "accessLevel": entry.get("accessLevel"),
                    "agencyAccountID": entry["agencyAccountID"],
                    "status": old.get("status", "pending"),
                    "grantedAt": old.get("grantedAt"),
                }
            )
    return grants


def _client_matches(client: dict[str, Any], search: str) -> bool:
    """The contract's search: exact id or metadata value, or a substring of name/company/email."""
    if client.get("clientID") == search or search in client.get("metadata", {}).values():
        return True
    lowered = search.lower()
    return any(
        lowered in value.lower()
        for value in (client.get("name"), client.get("company"), client.get("email"))
        if value
    )


def _cursor_seq(query: dict[str, Any]) -> int:
    cursor = query.get("cursor")
    return decode_cursor(cursor) if cursor else 0


def _page(
    matches: Iterator[tuple[int, dict[str, Any]]], limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    items: list[dict[str, Any]] = []
    last_seq = 0
    for seq, record in matches:
        if len(items) == limit:
            return items, encode_cursor(last_seq)
        items.append(record)
        last_seq = seq
    return items, None
