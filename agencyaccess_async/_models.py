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
import functools
import html
import json
import warnings
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar, Generic, Literal, TypeVar

import attrs

from ._converter import WireEnum, plain_converter
from ._services import RequestedServices

__all__ = [
    "IDEMPOTENCY_METADATA_KEY",
    "UNSET",
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
]

T = TypeVar("T")
M = TypeVar("M", bound=type)

#: The metadata entry in which ``clients.create`` stores its idempotency key on the wire
#: (``Client.idempotency_key`` in Python).
IDEMPOTENCY_METADATA_KEY = "agencyaccess_idempotency_key"


def _renamed(renames: Mapping[str, str], why: str) -> Callable[[M], M]:
    """Keep a model's 0.1 field names working for one minor release, with a warning.

    The old name is accepted as a keyword of the constructor and read as an
    attribute; both warn with ``DeprecationWarning`` (saying ``why``) and give
    the new field. Type checkers see only the new name (the constructor's
    signature is the attrs one).
    """

    def warn(cls: type, old: str, stacklevel: int) -> None:
        warnings.warn(
            f"{cls.__name__}.{old} is deprecated: use {renames[old]} ({why})",
            DeprecationWarning,
            stacklevel=stacklevel,
        )

    def decorate(cls: M) -> M:
        init: Callable[..., None] = vars(cls)["__init__"]  # the one attrs wrote

        @functools.wraps(init)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            for old in renames.keys() & kwargs.keys():
                warn(cls, old, 3)
                kwargs[renames[old]] = kwargs.pop(old)
            init(self, *args, **kwargs)

        setattr(cls, "__init__", __init__)  # noqa: B010
        for old, new in renames.items():

            def read(self: Any, old: str = old, new: str = new) -> Any:
                warn(cls, old, 3)
                return getattr(self, new)

            read.__doc__ = f"Deprecated: ``{new}`` ({why})."
            setattr(cls, old, property(read))
        return cls

    return decorate


_SERVICES_RENAMED = {"requested_services": "services"}
_SERVICES_WHY = "the one name for requested services, as in links.create(services=...)"
#: Other wire names of a record's timestamps, read when the contract's are absent
#: (``created`` in epoch milliseconds is what the service's Zapier payloads carry).
_TIMESTAMP_ALIASES = {"created": "createdAt", "updated": "updatedAt"}


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


class Model:
    """What every model can do: become plain data for JSON, a web framework or a DataFrame.

    The class attributes tell the converter how the wire holds a model:
    ``_wire_role`` is ``"request"`` (a body: ``UNSET`` fields are left out) or
    ``"response"`` (a record, read liberally, unknown fields kept in
    ``extra``); ``_wire_aliases`` gives other wire names for a field;
    ``_wire_lifted`` names a wire entry held in a field of its own.
    """

    __slots__ = ()
    _wire_role: ClassVar[str] = ""
    _wire_aliases: ClassVar[Mapping[str, str]] = {}
    _wire_lifted: ClassVar[tuple[str, str, str] | None] = None

    def to_dict(
        self, *, by_alias: bool = False, mode: Literal["python", "json"] = "python"
    ) -> dict[str, Any]:
        """The model as a dict: snake_case names, or the wire's with ``by_alias=True``.

        Enum members become their values; with ``mode="json"`` datetimes become
        ISO 8601 strings, so the result is ready for ``json.dumps`` (``mode``
        ``"python"`` keeps them as ``datetime``). Fields left ``UNSET`` are
        left out. Fields the SDK does not know (``extra``) are merged in with
        ``by_alias=True`` (the wire form, as the server sent it) and kept
        under ``"extra"`` otherwise; so is the SDK's idempotency key (in
        ``metadata`` on the wire, ``idempotency_key`` otherwise). The rules
        are the converter's: ``to_dict(by_alias=True, mode="json")`` is what
        goes over the wire.
        """
        plain: dict[str, Any] = plain_converter(by_alias, mode == "json").unstructure(self)
        return plain

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


class ClientType(WireEnum):
    """A client record's type; prospects may only be asked for read-only access."""

    CLIENT = "client"
    PROSPECT = "prospect"


class Language(WireEnum):
    """The language of the invite page and e-mails."""

    EN = "en"
    ES = "es"
    NL = "nl"


class LinkStatus(WireEnum):
    """An access request's overall state, derived from its grants."""

    PENDING = "pending"
    PARTIAL = "partial"
    GRANTED = "granted"


class GrantStatus(WireEnum):
    """The state of one requested service."""

    PENDING = "pending"
    GRANTED = "granted"
    REJECTED = "rejected"


class IntakeFormStatus(WireEnum):
    """Whether the client was asked for, and has filled in, the agency's intake form."""

    NOT_REQUESTED = "notRequested"
    PENDING = "pending"
    COMPLETED = "completed"


def _short(value: str, keep: int = 40) -> str:
    return value if len(value) <= keep else value[:keep] + "…"


def _enum_text(value: enum.Enum | str | None) -> str | None:
    return value.value if isinstance(value, enum.Enum) else value


class _Metadata(dict[str, str]):
    """A client's metadata as the user stored it, without the SDK's idempotency key.

    A dict of the user's entries (so ``json.dumps``, ``dict()``, equality and
    iteration see those only). 0.1 showed the key among them; reading it
    (``metadata[KEY]``, ``.get``, ``in``) still answers until 0.3.0, with a
    ``DeprecationWarning`` pointing at ``Client.idempotency_key``.
    """

    __slots__ = ("_key",)

    def __init__(self, entries: dict[str, str], key: str) -> None:
        super().__init__(entries)
        self._key = key

    def __missing__(self, name: str) -> str:
        if self._deprecated(name):
            return self._key
        raise KeyError(name)

    def get(self, name: str, default: Any = None) -> Any:
        if self._deprecated(name):
            return self._key
        return super().get(name, default)

    def __contains__(self, name: object) -> bool:
        return super().__contains__(name) or self._deprecated(name)

    def _deprecated(self, name: object) -> bool:
        """Whether ``name`` is the SDK's key, read the 0.1 way (warned about)."""
        if name != IDEMPOTENCY_METADATA_KEY or super().__contains__(name):
            return False
        warnings.warn(
            f"a client's metadata[{IDEMPOTENCY_METADATA_KEY!r}] is deprecated: "
            "use Client.idempotency_key",
            DeprecationWarning,
            stacklevel=3,
        )
        return True


# ---------------------------------------------------------------- requests


@attrs.frozen(kw_only=True)
class _ClientOptions(Model):
    """The optional fields of a client, shared by the create and update bodies."""

    _wire_role: ClassVar[str] = "request"

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


@_renamed(_SERVICES_RENAMED, _SERVICES_WHY)
@attrs.frozen(kw_only=True)
class NewLink(Model):
    """The body of ``links/create``: an access request for one client.

    ``services`` goes out as the wire's ``requestedServices``.
    """

    _wire_role: ClassVar[str] = "request"

    client_id: str
    services: RequestedServices | Mapping[str, Any]
    intake_form: bool | Unset = UNSET
    send_email: bool | Unset = UNSET
    thank_you_message: str | Unset | None = UNSET
    redirect_url: str | Unset | None = UNSET


@_renamed(_SERVICES_RENAMED, _SERVICES_WHY)
@attrs.frozen(kw_only=True)
class LinkUpdate(Model):
    """The body of ``links/update``: the id and the fields to change."""

    _wire_role: ClassVar[str] = "request"

    link_id: str
    services: RequestedServices | Mapping[str, Any] | Unset = UNSET
    intake_form: bool | Unset = UNSET
    send_email: bool | Unset = UNSET
    thank_you_message: str | Unset | None = UNSET
    redirect_url: str | Unset | None = UNSET


@attrs.frozen
class ClientRef(Model):
    """The body of ``clients/retrieve`` and ``clients/delete``."""

    _wire_role: ClassVar[str] = "request"

    client_id: str


@attrs.frozen
class LinkRef(Model):
    """The body of ``links/retrieve`` and ``links/delete``."""

    _wire_role: ClassVar[str] = "request"

    link_id: str


@attrs.frozen(kw_only=True)
class ListQuery(Model):
    """The body of ``clients/list`` and ``links/list`` (``client_id`` only for links)."""

    _wire_role: ClassVar[str] = "request"

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
    ``metadata`` is what you stored; ``idempotency_key`` is the entry the SDK
    stores beside it on the wire (``IDEMPOTENCY_METADATA_KEY``), by which a
    create whose answer was lost is found again.
    """

    _wire_role: ClassVar[str] = "response"
    _wire_aliases: ClassVar[Mapping[str, str]] = {
        "id": "clientID", "clientId": "clientID", **_TIMESTAMP_ALIASES
    }  # fmt: skip
    _wire_lifted: ClassVar[tuple[str, str, str] | None] = (
        "metadata", IDEMPOTENCY_METADATA_KEY, "idempotency_key"
    )  # fmt: skip

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
    idempotency_key: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        # The wire keeps the SDK's key among the user's metadata; lift it out.
        if IDEMPOTENCY_METADATA_KEY in self.metadata and not isinstance(self.metadata, _Metadata):
            entries = dict(self.metadata)
            stored = entries.pop(IDEMPOTENCY_METADATA_KEY)
            key = self.idempotency_key or stored
            object.__setattr__(self, "idempotency_key", key)
            object.__setattr__(self, "metadata", _Metadata(entries, key))

    def __repr__(self) -> str:
        return (
            f"Client(client_id={self.client_id!r}, name={_short(self.name or '')!r}, "
            f"email={self.email!r}, type={_enum_text(self.type)!r})"
        )


@attrs.frozen
class AccessPageSource(Model):
    """The reusable access page a link came from."""

    _wire_role: ClassVar[str] = "response"

    access_page_id: str | None = None
    name: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Grant(Model):
    """The state of one requested service of a link."""

    _wire_role: ClassVar[str] = "response"

    platform: str | None = None
    service: str | None = None
    agency_account_id: str | None = None
    status: GrantStatus | str | None = None
    access_level: str | None = None
    granted_at: datetime | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@_renamed(_SERVICES_RENAMED, _SERVICES_WHY)
@attrs.frozen(repr=False)
class Link(Model):
    """An access request: the invite URL and the grant status of each requested service.

    Only ``link_id`` is sure to be there (read from ``linkID`` or ``id``); a
    link returned by ``links.create`` always has its ``invite_url`` too (read
    from the record, or from beside it in the answer). ``services`` is the
    wire's ``requestedServices``.
    """

    _wire_role: ClassVar[str] = "response"
    _wire_aliases: ClassVar[Mapping[str, str]] = {
        "id": "linkID", "linkId": "linkID", "clientId": "clientID", **_TIMESTAMP_ALIASES
    }  # fmt: skip

    link_id: str
    client_id: str | None = None
    invite_url: str | None = None
    status: LinkStatus | str | None = None
    services: RequestedServices = attrs.field(factory=lambda: RequestedServices(()))
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

    _wire_role: ClassVar[str] = "response"

    client_id: str | None = None
    deleted: bool = True
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class DeletedLink(Model):
    """The answer of ``links/delete`` (a success means deleted, whatever it says)."""

    _wire_role: ClassVar[str] = "response"

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
        items: tuple[Any, ...] = self.items  # models, whose to_dict is the one rule
        return [item.to_dict(by_alias=by_alias, mode=mode) for item in items]

    def _repr_html_(self) -> str:
        """Jupyter's view: a table with a row per item."""
        more = f"; next page: {self.next_cursor}" if self.next_cursor else ""
        return _html_table(self.to_dicts(mode="json"), caption=f"{len(self.items)} items{more}")

    def __len__(self) -> int:
        return len(self.items)
