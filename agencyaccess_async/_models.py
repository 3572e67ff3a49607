"""The API's objects as frozen attrs classes, snake_case in Python.

Request models (``NewClient``, ``NewLink``, the ``*Update`` and query models)
use ``UNSET`` for "not given", so that the converter omits those fields from
the body and ``None`` can still mean "clear this field". Response models keep
fields the SDK does not know yet in ``extra`` and enum values it does not
know as plain strings, so a newer server never breaks an older SDK.

Response models are liberal: the public guide fixes little of a record, so
only what the SDK cannot work without is required (a record's id); every
other field is ``None`` (or empty) when an answer leaves it out.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Generic, TypeVar

import attrs

from ._services import RequestedServices

__all__ = [
    "UNSET",
    "AccessPageSource",
    "Client",
    "ClientRef",
    "ClientType",
    "ClientUpdate",
    "DeletedClient",
    "DeletedLink",
    "Grant",
    "GrantStatus",
    "IntakeFormStatus",
    "Language",
    "Link",
    "LinkRef",
    "LinkStatus",
    "LinkUpdate",
    "ListQuery",
    "NewClient",
    "NewLink",
    "Page",
    "Unset",
]

T = TypeVar("T")


class Unset(enum.Enum):
    """The type of ``UNSET``: a field that was not given and is left out of the body."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET = Unset.UNSET


class ClientType(str, enum.Enum):
    """A client record's type; prospects may only be asked for read-only access."""

    CLIENT = "client"
    PROSPECT = "prospect"


class Language(str, enum.Enum):
    """The language of the invite page and e-mails."""

    EN = "en"
    ES = "es"
    NL = "nl"


class LinkStatus(str, enum.Enum):
    """An access request's overall state, derived from its grants."""

    PENDING = "pending"
    PARTIAL = "partial"
    GRANTED = "granted"


class GrantStatus(str, enum.Enum):
    """The state of one requested service."""

    PENDING = "pending"
    GRANTED = "granted"
    REJECTED = "rejected"


class IntakeFormStatus(str, enum.Enum):
    """Whether the client was asked for, and has filled in, the agency's intake form."""

    NOT_REQUESTED = "notRequested"
    PENDING = "pending"
    COMPLETED = "completed"


def _short(value: str, keep: int = 40) -> str:
    return value if len(value) <= keep else value[:keep] + "…"


def _enum_text(value: enum.Enum | str | None) -> str | None:
    return value.value if isinstance(value, enum.Enum) else value


# ---------------------------------------------------------------- requests


@attrs.frozen(kw_only=True)
class _ClientOptions:
    """The optional fields of a client, shared by the create and update bodies."""

    company: str | Unset | None = UNSET
    website: str | Unset | None = UNSET
    type: ClientType | Unset = UNSET
    language: Language | Unset = UNSET
    metadata: Mapping[str, str] | Unset = UNSET


@attrs.frozen(kw_only=True)
class NewClient(_ClientOptions):
    """The body of ``clients/create``; optional fields left ``UNSET`` are not sent."""

    name: str
    email: str


@attrs.frozen(kw_only=True)
class ClientUpdate(_ClientOptions):
    """The body of ``clients/update``: the id and the fields to change."""

    client_id: str
    name: str | Unset = UNSET
    email: str | Unset = UNSET


@attrs.frozen(kw_only=True)
class NewLink:
    """The body of ``links/create``: an access request for one client."""

    client_id: str
    requested_services: RequestedServices | Mapping[str, Any]
    intake_form: bool | Unset = UNSET
    send_email: bool | Unset = UNSET
    thank_you_message: str | Unset | None = UNSET
    redirect_url: str | Unset | None = UNSET


@attrs.frozen(kw_only=True)
class LinkUpdate:
    """The body of ``links/update``: the id and the fields to change."""

    link_id: str
    requested_services: RequestedServices | Mapping[str, Any] | Unset = UNSET
    intake_form: bool | Unset = UNSET
    send_email: bool | Unset = UNSET
    thank_you_message: str | Unset | None = UNSET
    redirect_url: str | Unset | None = UNSET


@attrs.frozen
class ClientRef:
    """The body of ``clients/retrieve`` and ``clients/delete``."""

    client_id: str


@attrs.frozen
class LinkRef:
    """The body of ``links/retrieve`` and ``links/delete``."""

    link_id: str


@attrs.frozen(kw_only=True)
class ListQuery:
    """The body of ``clients/list`` and ``links/list`` (``client_id`` only for links)."""

    limit: int | Unset = UNSET
    cursor: str | Unset | None = UNSET
    search: str | Unset | None = UNSET
    type: ClientType | Unset | None = UNSET
    client_id: str | Unset = UNSET


# --------------------------------------------------------------- responses


@attrs.frozen(repr=False)
class Client:
    """A client record. ``extra`` holds fields this SDK version does not know.

    Only ``client_id`` is sure to be there (read from ``clientID`` or ``id``).
    """

    client_id: str
    name: str | None = None
    email: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    company: str | None = None
    website: str | None = None
    type: ClientType | str | None = None
    language: Language | str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict)
    extra: Mapping[str, Any] = attrs.field(factory=dict)

    def __repr__(self) -> str:
        return (
            f"Client(client_id={self.client_id!r}, name={_short(self.name or '')!r}, "
            f"email={self.email!r}, type={_enum_text(self.type)!r})"
        )


@attrs.frozen
class AccessPageSource:
    """The reusable access page a link came from."""

    access_page_id: str | None = None
    name: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Grant:
    """The state of one requested service of a link."""

    platform: str | None = None
    service: str | None = None
    agency_account_id: str | None = None
    status: GrantStatus | str | None = None
    access_level: str | None = None
    granted_at: datetime | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(repr=False)
class Link:
    """An access request: the invite URL and the grant status of each requested service.

    Only ``link_id`` is sure to be there (read from ``linkID`` or ``id``); a
    link returned by ``links.create`` always has its ``invite_url`` too (read
    from the record, or from beside it in the answer).
    """

    link_id: str
    client_id: str | None = None
    invite_url: str | None = None
    status: LinkStatus | str | None = None
    requested_services: RequestedServices = attrs.field(factory=lambda: RequestedServices(()))
    created_at: datetime | None = None
    updated_at: datetime | None = None
    grants: tuple[Grant, ...] = ()
    intake_form: bool = False
    send_email: bool = False
    thank_you_message: str | None = None
    redirect_url: str | None = None
    intake_form_status: IntakeFormStatus | str = IntakeFormStatus.NOT_REQUESTED
    source: AccessPageSource | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)

    def __repr__(self) -> str:
        granted = sum(1 for g in self.grants if g.status == GrantStatus.GRANTED)
        return (
            f"Link(link_id={self.link_id!r}, client_id={self.client_id!r}, "
            f"status={_enum_text(self.status)!r}, granted={granted}/{len(self.grants)}, "
            f"invite_url={_short(self.invite_url or '')!r})"
        )


@attrs.frozen
class DeletedClient:
    """The answer of ``clients/delete`` (a success means deleted, whatever it says)."""

    client_id: str | None = None
    deleted: bool = True
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class DeletedLink:
    """The answer of ``links/delete`` (a success means deleted, whatever it says)."""

    link_id: str | None = None
    deleted: bool = True
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(repr=False)
class Page(Generic[T]):
    """One page of a list: its items and the cursor of the next page (``None`` on the last)."""

    items: tuple[T, ...]
    next_cursor: str | None

    def __repr__(self) -> str:
        return f"Page({len(self.items)} items, next_cursor={self.next_cursor!r})"

    def __iter__(self) -> Any:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)
