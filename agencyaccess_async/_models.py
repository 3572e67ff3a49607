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
import html
import json
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import Any, Generic, Literal, TypeVar

import attrs

from ._services import RequestedServices

__all__ = [
    "UNSET",
    "WIRE_NAME_EXCEPTIONS",
    "AccessPageSource",
    "Client",
    "ClientRef",
    "ClientType",
    "ClientTypeName",
    "ClientUpdate",
    "DeletedClient",
    "DeletedLink",
    "Grant",
    "GrantStatus",
    "IntakeFormStatus",
    "Language",
    "LanguageName",
    "Link",
    "LinkRef",
    "LinkStatus",
    "LinkUpdate",
    "ListQuery",
    "Model",
    "NewClient",
    "NewLink",
    "Page",
    "Unset",
    "format_datetime",
    "wire_name",
]

T = TypeVar("T")

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


class Unset(enum.Enum):
    """The type of ``UNSET``: a field that was not given and is left out of the body."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET = Unset.UNSET


#: The string values a ``ClientType`` or ``Language`` parameter also accepts.
ClientTypeName = Literal["client", "prospect"]
LanguageName = Literal["en", "es", "nl"]


class _WireEnum(str, enum.Enum):
    """An enum of wire values that prints as its value: ``str(LinkStatus.PENDING) == "pending"``."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"


class Model:
    """What every model can do: become plain data for JSON, a web framework or a DataFrame."""

    __slots__ = ()

    def to_dict(
        self, *, by_alias: bool = False, mode: Literal["python", "json"] = "python"
    ) -> dict[str, Any]:
        """The model as a dict: snake_case names, or the wire's with ``by_alias=True``.

        Enum members become their values; with ``mode="json"`` datetimes become
        ISO 8601 strings, so the result is ready for ``json.dumps`` (``mode``
        ``"python"`` keeps them as ``datetime``). Fields left ``UNSET`` are
        left out. Fields the SDK does not know (``extra``) are merged in with
        ``by_alias=True`` (the wire form, as the server sent it) and kept
        under ``"extra"`` otherwise.
        """
        out: dict[str, Any] = {}
        model: Any = type(self)  # every Model is an attrs class
        for field in attrs.fields(model):
            value = getattr(self, field.name)
            if value is UNSET or field.name == "extra":
                continue
            name = wire_name(field.name) if by_alias else field.name
            out[name] = _plain(value, by_alias, mode == "json")
        extra = getattr(self, "extra", None)
        if extra:
            if by_alias:
                out.update(extra)
            else:
                out["extra"] = dict(extra)
        return out

    def to_json(self, *, by_alias: bool = False) -> str:
        """The model as JSON text (``to_dict(mode="json")``, dumped)."""
        return json.dumps(self.to_dict(by_alias=by_alias, mode="json"), ensure_ascii=False)

    def _repr_html_(self) -> str:
        """Jupyter's view: a one-row table, a column per field."""
        return _html_table([self.to_dict(mode="json")])


def _html_table(rows: list[dict[str, Any]], caption: str = "") -> str:
    """Rows of plain data as an HTML table, every value escaped.

    Names and URLs are the user's data, and a notebook renders what it is given.
    """
    columns = list(dict.fromkeys(name for row in rows for name in row))

    def cell(value: Any) -> str:
        if value is None:
            return "<td></td>"
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        return f"<td>{html.escape(shown)}</td>"

    head = "".join(f"<th>{html.escape(name)}</th>" for name in columns)
    body = "".join(
        "<tr>" + "".join(cell(row.get(name, "")) for name in columns) + "</tr>" for row in rows
    )
    title = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{title}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _plain(value: Any, by_alias: bool, json_mode: bool) -> Any:
    """A field's value as plain data (see ``Model.to_dict``)."""
    if isinstance(value, Model):
        return value.to_dict(by_alias=by_alias, mode="json" if json_mode else "python")
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return format_datetime(value) if json_mode else value
    if isinstance(value, RequestedServices):
        return value.to_json()
    if isinstance(value, Mapping):
        return {key: _plain(item, by_alias, json_mode) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item, by_alias, json_mode) for item in value]
    return value


class ClientType(_WireEnum):
    """A client record's type; prospects may only be asked for read-only access."""

    CLIENT = "client"
    PROSPECT = "prospect"


class Language(_WireEnum):
    """The language of the invite page and e-mails."""

    EN = "en"
    ES = "es"
    NL = "nl"


class LinkStatus(_WireEnum):
    """An access request's overall state, derived from its grants."""

    PENDING = "pending"
    PARTIAL = "partial"
    GRANTED = "granted"


class GrantStatus(_WireEnum):
    """The state of one requested service."""

    PENDING = "pending"
    GRANTED = "granted"
    REJECTED = "rejected"


class IntakeFormStatus(_WireEnum):
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
class _ClientOptions(Model):
    """The optional fields of a client, shared by the create and update bodies."""

    company: str | Unset | None = UNSET
    website: str | Unset | None = UNSET
    type: ClientType | ClientTypeName | Unset = UNSET
    language: Language | LanguageName | Unset = UNSET
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
class NewLink(Model):
    """The body of ``links/create``: an access request for one client."""

    client_id: str
    requested_services: RequestedServices | Mapping[str, Any]
    intake_form: bool | Unset = UNSET
    send_email: bool | Unset = UNSET
    thank_you_message: str | Unset | None = UNSET
    redirect_url: str | Unset | None = UNSET


@attrs.frozen(kw_only=True)
class LinkUpdate(Model):
    """The body of ``links/update``: the id and the fields to change."""

    link_id: str
    requested_services: RequestedServices | Mapping[str, Any] | Unset = UNSET
    intake_form: bool | Unset = UNSET
    send_email: bool | Unset = UNSET
    thank_you_message: str | Unset | None = UNSET
    redirect_url: str | Unset | None = UNSET


@attrs.frozen
class ClientRef(Model):
    """The body of ``clients/retrieve`` and ``clients/delete``."""

    client_id: str


@attrs.frozen
class LinkRef(Model):
    """The body of ``links/retrieve`` and ``links/delete``."""

    link_id: str


@attrs.frozen(kw_only=True)
class ListQuery(Model):
    """The body of ``clients/list`` and ``links/list`` (``client_id`` only for links)."""

    limit: int | Unset = UNSET
    cursor: str | Unset | None = UNSET
    search: str | Unset | None = UNSET
    type: ClientType | ClientTypeName | Unset | None = UNSET
    client_id: str | Unset = UNSET


# --------------------------------------------------------------- responses


@attrs.frozen(repr=False)
class Client(Model):
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
class AccessPageSource(Model):
    """The reusable access page a link came from."""

    access_page_id: str | None = None
    name: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Grant(Model):
    """The state of one requested service of a link."""

    platform: str | None = None
    service: str | None = None
    agency_account_id: str | None = None
    status: GrantStatus | str | None = None
    access_level: str | None = None
    granted_at: datetime | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(repr=False)
class Link(Model):
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

    @property
    def overall_status(self) -> str:
        """``granted``, ``partial``, ``rejected`` (some service refused) or ``pending``.

        The server's ``status`` has no "rejected": a link whose client refused
        one service and granted the rest reads ``partial`` there, and one that
        refused everything reads ``pending``. This is derived from the grants
        (falling back on ``status`` for a link that lists none).
        """
        states = [_enum_text(g.status) for g in self.grants]
        if "rejected" in states:
            return "rejected"
        if states and all(state == "granted" for state in states):
            return "granted"
        if "granted" in states:
            return "partial"
        return (_enum_text(self.status) or "pending") if not states else "pending"

    def __repr__(self) -> str:
        granted = sum(1 for g in self.grants if g.status == GrantStatus.GRANTED)
        return (
            f"Link(link_id={self.link_id!r}, client_id={self.client_id!r}, "
            f"status={_enum_text(self.status)!r}, granted={granted}/{len(self.grants)}, "
            f"invite_url={_short(self.invite_url or '')!r})"
        )


@attrs.frozen
class DeletedClient(Model):
    """The answer of ``clients/delete`` (a success means deleted, whatever it says)."""

    client_id: str | None = None
    deleted: bool = True
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class DeletedLink(Model):
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
        shown = ", ".join(repr(item) for item in self.items[:2])
        more = f", …+{len(self.items) - 2} more" if len(self.items) > 2 else ""
        return f"Page([{shown}{more}], next_cursor={self.next_cursor!r})"

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def to_dicts(
        self, *, by_alias: bool = False, mode: Literal["python", "json"] = "python"
    ) -> list[dict[str, Any]]:
        """Each item as a dict (see ``Model.to_dict``): ``pd.DataFrame(page.to_dicts())``."""
        return [_plain(item, by_alias, mode == "json") for item in self.items]

    def _repr_html_(self) -> str:
        """Jupyter's view: a table with a row per item."""
        more = f"; next page: {self.next_cursor}" if self.next_cursor else ""
        return _html_table(self.to_dicts(mode="json"), caption=f"{len(self.items)} items{more}")

    def __len__(self) -> int:
        return len(self.items)
