"""The cattrs converter between the SDK's attrs models and the API's JSON.

One function, ``configure_converter``, installs every rule; ``CONVERTER`` is
the configured instance the SDK uses. The models' hooks come from factories:
each is generated the first time its model is converted, then reused, so a
call never generates one and an import pays for none.
"""

from __future__ import annotations

import enum
import re
import sys
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, Optional, Union

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from . import _models as m
from ._models import format_datetime, wire_name
from ._services import RequestedServices

__all__ = ["CONVERTER", "MODERN_ISOFORMAT", "configure_converter", "parse_datetime", "wire_name"]


REQUEST_MODELS: tuple[type, ...] = (
    m.NewClient, m.ClientUpdate, m.NewLink, m.LinkUpdate, m.ClientRef, m.LinkRef, m.ListQuery,
)  # fmt: skip
RESPONSE_MODELS: tuple[type, ...] = (
    m.Client, m.AccessPageSource, m.Grant, m.Link, m.DeletedClient, m.DeletedLink,
)  # fmt: skip
#: Other wire names a response may use for a field, read when the contract's is absent
#: (``created`` in epoch milliseconds is what the service's Zapier payloads carry).
_TIMESTAMP_ALIASES = {"created": "createdAt", "updated": "updatedAt"}
ALIASES: Mapping[type, Mapping[str, str]] = {
    m.Client: {"id": "clientID", "clientId": "clientID", **_TIMESTAMP_ALIASES},
    m.Link: {"id": "linkID", "linkId": "linkID", "clientId": "clientID", **_TIMESTAMP_ALIASES},
}
OPEN_ENUMS: tuple[type[enum.Enum], ...] = (
    m.ClientType,
    m.Language,
    m.LinkStatus,
    m.GrantStatus,
    m.IntakeFormStatus,
)


def configure_converter(converter: cattrs.Converter) -> None:
    """Install every rule of the wire format on ``converter``.

    Rules:

    - **Renames**: snake_case fields map to camelCase wire names (``invite_url``
      -> ``inviteUrl``, ``created_at`` -> ``createdAt``), except the contract's
      odd ones in ``WIRE_NAME_EXCEPTIONS``: ``clientID``, ``linkID``,
      ``redirectURL``, ``agencyAccountID``, ``accessPageID``.
    - **Datetimes** are ISO 8601 in UTC with a ``Z`` suffix, written with
      milliseconds (microseconds when finer); a naive datetime is UTC. Read,
      they may also be epoch seconds or milliseconds (numbers or digits).
    - **Enums** go out as their values. Coming in, values match in any case
      (``"Prospect"`` is ``ClientType.PROSPECT``), and a value the SDK does not
      know yet is kept as a plain ``str`` (the field types are ``Enum | str``).
    - **Requests**: fields left ``UNSET`` are omitted from the body; ``None``
      is sent as ``null`` (it clears the field in an update).
    - **Responses** are read liberally: only fields without a default (a
      record's id) are required; ``null`` counts as absent; ``ALIASES`` gives
      other names for a field (``id`` for ``clientID``/``linkID``). Fields the
      model does not know are kept in ``extra``, and written back out when the
      model is unstructured, so model -> wire -> model is the identity.
    - **RequestedServices** use the nested platform -> service object of the
      wire, read leniently (no catalog check) from responses.
    """
    converter.register_unstructure_hook(datetime, format_datetime)
    converter.register_structure_hook(datetime, _structure_datetime)
    # The commonest optional types, without cattrs' generic Optional dispatch.
    converter.register_structure_hook(Optional[datetime], _structure_datetime)  # noqa: UP045
    converter.register_structure_hook(Optional[str], _optional_str)  # noqa: UP045
    converter.register_unstructure_hook(RequestedServices, RequestedServices.to_json)
    converter.register_structure_hook(
        RequestedServices,
        lambda value, _: RequestedServices.from_json(value or {}, validate=False),
    )
    for enum_cls in OPEN_ENUMS:
        hook = _open_enum_hook(enum_cls)
        converter.register_structure_hook(Union[enum_cls, str], hook)  # noqa: UP007
        converter.register_structure_hook(Union[enum_cls, str, None], hook)  # noqa: UP007
        converter.register_structure_hook(enum_cls, hook)
        converter.register_unstructure_hook(enum_cls, _enum_value)
    # Hooks are generated when a model is first used (factories), not at import.
    converter.register_unstructure_hook_factory(
        lambda cls: cls in REQUEST_MODELS,
        lambda cls: make_dict_unstructure_fn(
            cls, converter, _cattrs_omit_if_default=True, **_renames(cls)
        ),
    )
    converter.register_structure_hook_factory(
        lambda cls: cls in RESPONSE_MODELS, lambda cls: _open_structure_hook(converter, cls)
    )
    converter.register_unstructure_hook_factory(
        lambda cls: cls in RESPONSE_MODELS, lambda cls: _open_unstructure_hook(converter, cls)
    )


def _renames(cls: type, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for field in attrs.fields(cls):
        if field.name in skip:
            overrides[field.name] = override(omit=True)
        else:
            overrides[field.name] = override(rename=wire_name(field.name))
    return overrides


def _open_structure_hook(converter: cattrs.Converter, cls: type[Any]) -> Callable[[Any, Any], Any]:
    """Structure ``cls`` liberally, keeping the wire fields it does not know in ``extra``."""
    aliases = ALIASES.get(cls, {})
    known = frozenset(wire_name(f.name) for f in attrs.fields(cls) if f.name != "extra")
    known |= frozenset(aliases)
    structure = make_dict_structure_fn(cls, converter, **_renames(cls, skip=("extra",)))

    def structure_open(value: Any, _: Any) -> Any:
        if not isinstance(value, dict) and not isinstance(value, Mapping):
            raise TypeError(
                f"expected a JSON object for {cls.__name__}, got {type(value).__name__}"
            )
        present = value
        if None in value.values():  # null is absent: the field's default applies
            present = dict(value)
            for name, item in value.items():
                if item is None:
                    del present[name]
        for alias, name in aliases.items():
            if name not in present and alias in present:
                present = {**present, name: present[alias]}
        obj = structure(present, cls)
        if len(value) > len(known) or not known.issuperset(value):
            extra = {k: v for k, v in value.items() if k not in known}
            if extra:
                object.__setattr__(obj, "extra", extra)
        return obj

    return structure_open


def _open_unstructure_hook(converter: cattrs.Converter, cls: type[Any]) -> Callable[[Any], Any]:
    """Unstructure ``cls`` writing ``extra`` back beside the known fields."""
    unstructure = make_dict_unstructure_fn(cls, converter, **_renames(cls, skip=("extra",)))

    def unstructure_open(obj: Any) -> dict[str, Any]:
        wire = unstructure(obj)
        if obj.extra:
            wire.update(obj.extra)
        return wire

    return unstructure_open


def _open_enum_hook(enum_cls: type[enum.Enum]) -> Callable[[Any, Any], Any]:
    members = {member.value: member for member in enum_cls}
    by_folded = {str(value).casefold(): member for value, member in members.items()}

    def structure(value: Any, _: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise TypeError(f"expected a string for {enum_cls.__name__}, got {value!r}")
        return members.get(value) or by_folded.get(value.casefold(), value)

    return structure


def _optional_str(value: Any, _: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    if isinstance(value, (dict, list)):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return str(value)


def _enum_value(value: enum.Enum) -> Any:
    return value.value


_FRACTION = re.compile(r"\.(\d+)")
# From 3.11 fromisoformat reads "Z" and any number of fraction digits itself.
MODERN_ISOFORMAT = sys.version_info >= (3, 11)
_EPOCH_MILLISECONDS = 10**11


def parse_datetime(value: Any) -> datetime:
    """An aware UTC datetime from ISO 8601 (``Z`` or an offset) or epoch seconds/milliseconds.

    Epoch numbers of 10^11 and more are milliseconds (10^11 seconds is the
    year 5138); digit strings count as numbers. The same on every Python.
    """
    parsed = _structure_datetime(value, datetime)
    assert parsed is not None  # refused for the non-optional type
    return parsed


def _structure_datetime(value: Any, target: object) -> datetime | None:
    """``parse_datetime`` as the structure hook of ``datetime`` and ``datetime | None``.

    One hook for both, so that decoding a timestamp is one call: ``None`` is
    kept for the optional type (``target``) and refused for the other.
    """
    if value is None:
        if target is datetime:
            raise TypeError("expected an ISO 8601 string or epoch number, got None")
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) >= _EPOCH_MILLISECONDS else value
        return datetime.fromtimestamp(seconds, timezone.utc)
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 string or epoch number, got {value!r}")
    if value.endswith("z"):  # RFC 3339 allows it; fromisoformat does not
        value = value[:-1] + "Z"
    if MODERN_ISOFORMAT:
        parsed = datetime.fromisoformat(value)
    else:  # Python 3.10: no "Z", and only 3 or 6 fraction digits
        text = value[:-1] + "+00:00" if value.endswith("Z") else value
        text = _FRACTION.sub(lambda found: "." + found.group(1)[:6].ljust(6, "0"), text, count=1)
        parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    if parsed.tzinfo is timezone.utc:
        return parsed
    return parsed.astimezone(timezone.utc)


# detailed_validation=False: generated hooks without per-field error
# bookkeeping, several times faster; a bad answer still fails (as DecodeError).
CONVERTER = cattrs.Converter(detailed_validation=False)
configure_converter(CONVERTER)
