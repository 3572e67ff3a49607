"""Hand-specialised codecs for the models on every hot call; the converter stays the truth.

``structure`` and ``unstructure`` are what the Requester calls. For the
models of the hot path (``Client``, ``Link`` and its ``Grant``s read;
``NewClient`` and ``NewLink`` written) a function written for that model
does the work with no generic dispatch, calling the converter's own hooks for
every rule that is not a plain copy (enums, timestamps, services, sources).
It takes only the shapes it was written for; anything else (an alias such
as ``id``, a number where a string belongs, a raw services mapping) makes it
give up, and the cattrs converter (``_converter``, the design's serializer)
does the whole value. So a result is always the converter's:
``tests/test_fast_codec.py`` checks that over thousands of generated variants.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, TypeVar

import attrs

from . import _models as m
from ._converter import ALIASES, CONVERTER, MODERN_ISOFORMAT, parse_datetime, wire_name
from ._services import RequestedServices

__all__ = ["FAST_STRUCTURE", "FAST_UNSTRUCTURE", "structure", "unstructure"]

T = TypeVar("T")
E = TypeVar("E", bound=enum.Enum)

_UTC = timezone.utc
_fromisoformat = datetime.fromisoformat


class _Slow(Exception):
    """This value is not a shape the fast function handles: the converter will."""


def structure(value: Any, cls: type[T]) -> T:
    """``CONVERTER.structure(value, cls)``, faster for the hot response models."""
    fast = FAST_STRUCTURE.get(cls)
    if fast is not None:
        try:
            return fast(value)  # type: ignore[no-any-return]
        except Exception:  # _Slow, or a value the converter will refuse in its own words
            pass
    return CONVERTER.structure(value, cls)


def unstructure(obj: Any) -> Any:
    """``CONVERTER.unstructure(obj)``, faster for the hot request models."""
    fast = FAST_UNSTRUCTURE.get(type(obj))
    if fast is not None:
        try:
            return fast(obj)
        except _Slow:
            pass
    return CONVERTER.unstructure(obj)


# ------------------------------------------------------------------ the converter's own leaves


def _field_hook(cls: type, name: str) -> Callable[[Any], Any]:
    """The converter's structure hook of one field of ``cls``, as a one-argument function."""
    field = attrs.fields_dict(attrs.resolve_types(cls))[name]
    hook, kind = CONVERTER.get_structure_hook(field.type), field.type
    return lambda value: hook(value, kind)


def _known(cls: type) -> frozenset[str]:
    """The wire names of ``cls``'s fields (aliases not included)."""
    return frozenset(wire_name(f.name) for f in attrs.fields(cls) if f.name != "extra")


_optional_str = _field_hook(m.Client, "name")
_client_type = _field_hook(m.Client, "type")
_language = _field_hook(m.Client, "language")
_link_status = _field_hook(m.Link, "status")
_grant_status = _field_hook(m.Grant, "status")
_intake_form_status = _field_hook(m.Link, "intake_form_status")
_requested_services = _field_hook(m.Link, "requested_services")
_source = _field_hook(m.Link, "source")


#: The types an optional string field takes as they are.
_PLAIN = frozenset({str, type(None)})


def _members(enum_cls: type[E]) -> dict[Any, E]:
    """An open enum's members by exact wire value, looked up before its hook.

    The usual answer needs no hook (``_CLIENT_TYPES.get(value) or
    _client_type(value)``); any other value goes to the converter's
    (case-folded match, an unknown string kept, anything else refused).
    """
    return {member.value: member for member in enum_cls}


_CLIENT_TYPES = _members(m.ClientType)
_LANGUAGES = _members(m.Language)
_LINK_STATUSES = _members(m.LinkStatus)
_GRANT_STATUSES = _members(m.GrantStatus)
_INTAKE_FORM_STATUSES = _members(m.IntakeFormStatus)


def _text(value: Any) -> Any:
    """An optional string field: a str or None as is, else the converter's rule."""
    return value if value is None or type(value) is str else _optional_str(value)


def _when(value: Any) -> datetime | None:
    """An optional timestamp: the contract's ``...Z`` read directly, else ``parse_datetime``."""
    if value is None:
        return None
    if MODERN_ISOFORMAT and type(value) is str and value[-1:] == "Z":
        parsed = _fromisoformat(value)
        if parsed.tzinfo is _UTC:
            return parsed
    return parse_datetime(value)


def _stamps(created: Any, updated: Any) -> tuple[datetime | None, datetime | None]:
    """``createdAt`` and ``updatedAt``, read once when they are the same string (a new record's)."""
    created_at = _when(created)
    if type(updated) is str and updated == created:
        return created_at, created_at
    return created_at, _when(updated)


def _flag(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if type(value) is not bool:
        raise _Slow
    return value


def _strings(value: Any) -> dict[str, str]:
    """A metadata object of strings, copied; anything else is the converter's."""
    if value is None:
        return {}
    if type(value) is not dict:
        raise _Slow
    for key, item in value.items():
        if type(key) is not str or type(item) is not str:
            raise _Slow
    return dict(value)


def _extra(value: dict[str, Any], known: frozenset[str], aliases: frozenset[str]) -> dict[str, Any]:
    """The fields ``known`` does not name, in the answer's order; an alias is the converter's."""
    if known.issuperset(value):
        return {}
    extra = {key: item for key, item in value.items() if key not in known}
    if not aliases.isdisjoint(extra):
        raise _Slow
    return extra


def _record(value: Any, id_field: str) -> str:
    """Check an answer is a JSON object with a string id; the id."""
    if type(value) is not dict:
        raise _Slow
    record_id = value.get(id_field)
    if type(record_id) is not str:
        raise _Slow
    return record_id


# ------------------------------------------------------------------ responses

_CLIENT = _known(m.Client)
_CLIENT_ALIASES = frozenset(ALIASES[m.Client])
_LINK = _known(m.Link)
_LINK_ALIASES = frozenset(ALIASES[m.Link])
_GRANT = _known(m.Grant)
_NO_ALIASES: frozenset[str] = frozenset()


def _client(value: Any) -> m.Client:
    client_id = _record(value, "clientID")
    get = value.get
    name, email, company, website = get("name"), get("email"), get("company"), get("website")
    if not (type(name) in _PLAIN and type(email) in _PLAIN and type(company) in _PLAIN
            and type(website) in _PLAIN):  # fmt: skip
        name, email, company, website = _text(name), _text(email), _text(company), _text(website)
    created_at, updated_at = _stamps(get("createdAt"), get("updatedAt"))
    kind, language = get("type"), get("language")
    # Positional, in the model's field order (keywords cost 0.3 us here); the
    # property test would catch a field moved in the model.
    return m.Client(
        client_id,
        name,
        email,
        created_at,
        updated_at,
        company,
        website,
        _CLIENT_TYPES.get(kind) or _client_type(kind),
        _LANGUAGES.get(language) or _language(language),
        _strings(get("metadata")),
        _extra(value, _CLIENT, _CLIENT_ALIASES),
    )


def _grant(value: Any) -> m.Grant:
    if type(value) is not dict:
        raise _Slow
    get = value.get
    status = get("status")
    return m.Grant(
        platform=_text(get("platform")),
        service=_text(get("service")),
        agency_account_id=_text(get("agencyAccountID")),
        status=_GRANT_STATUSES.get(status) or _grant_status(status),
        access_level=_text(get("accessLevel")),
        granted_at=_when(get("grantedAt")),
        extra=_extra(value, _GRANT, _NO_ALIASES),
    )


def _grants(value: Any) -> tuple[m.Grant, ...]:
    if value is None:
        return ()
    if type(value) is not list:
        raise _Slow
    return tuple(structure(grant, m.Grant) for grant in value)


def _link(value: Any) -> m.Link:
    link_id = _record(value, "linkID")
    get = value.get
    services, status, source = get("requestedServices"), get("intakeFormStatus"), get("source")
    link_status = get("status")
    created_at, updated_at = _stamps(get("createdAt"), get("updatedAt"))
    return m.Link(  # positional, in field order, as in _client
        link_id,
        _text(get("clientID")),
        _text(get("inviteUrl")),
        _LINK_STATUSES.get(link_status) or _link_status(link_status),
        RequestedServices(()) if services is None else _requested_services(services),
        created_at,
        updated_at,
        _grants(get("grants")),
        _flag(get("intakeForm"), False),
        _flag(get("sendEmail"), False),
        _text(get("thankYouMessage")),
        _text(get("redirectURL")),
        _INTAKE_FORM_STATUSES.get(status)
        or (m.IntakeFormStatus.NOT_REQUESTED if status is None else _intake_form_status(status)),
        None if source is None else _source(source),
        _extra(value, _LINK, _LINK_ALIASES),
    )


FAST_STRUCTURE: Mapping[type, Callable[[Any], Any]] = {
    m.Client: _client,
    m.Link: _link,
    m.Grant: _grant,
}


# ------------------------------------------------------------------ requests


def _out(value: Any) -> Any:
    """A request field's wire value: strings, None, bools and the SDK's enums; else give up."""
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return value
    if kind in _ENUMS:
        return value.value
    raise _Slow


_ENUMS = frozenset({m.ClientType, m.Language})
_UNSET = m.UNSET


def _new_client(new: m.NewClient) -> dict[str, Any]:
    # The converter's order: the required fields, then the others as declared.
    wire: dict[str, Any] = {"name": _out(new.name), "email": _out(new.email)}
    if new.company is not _UNSET:
        wire["company"] = _out(new.company)
    if new.website is not _UNSET:
        wire["website"] = _out(new.website)
    if new.type is not _UNSET:
        wire["type"] = _out(new.type)
    if new.language is not _UNSET:
        wire["language"] = _out(new.language)
    if new.metadata is not _UNSET:
        wire["metadata"] = _strings(new.metadata)
    return wire


def _new_link(new: m.NewLink) -> dict[str, Any]:
    services = new.requested_services
    if type(services) is not RequestedServices:
        raise _Slow  # a raw mapping: the converter copies it as given
    wire: dict[str, Any] = {
        "clientID": _out(new.client_id),
        "requestedServices": services.to_json(),
    }
    if new.intake_form is not _UNSET:
        wire["intakeForm"] = _out(new.intake_form)
    if new.send_email is not _UNSET:
        wire["sendEmail"] = _out(new.send_email)
    if new.thank_you_message is not _UNSET:
        wire["thankYouMessage"] = _out(new.thank_you_message)
    if new.redirect_url is not _UNSET:
        wire["redirectURL"] = _out(new.redirect_url)
    return wire


FAST_UNSTRUCTURE: Mapping[type, Callable[[Any], Any]] = {
    m.NewClient: _new_client,
    m.NewLink: _new_link,
}
