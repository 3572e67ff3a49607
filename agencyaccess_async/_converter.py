"""The cattrs converter between the SDK's attrs models and the API's JSON.

One function, ``configure_converter``, installs every rule; ``CONVERTER`` is
the configured instance the SDK uses. ``plain_converter`` gives the same
rules with Python names or ``datetime`` values kept: ``Model.to_dict`` and
``Page.to_dicts`` use it, so the wire and every plain view agree by
construction. The models' hooks come from factories: each is generated the
first time its model is converted, then reused, so a call never generates
one and an import pays for none.
"""

from __future__ import annotations

import enum
import functools
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, Optional, Union

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._services import RequestedServices

__all__ = [
    "CONVERTER",
    "MODERN_ISOFORMAT",
    "WIRE_NAME_EXCEPTIONS",
    "WireEnum",
    "configure_converter",
    "format_datetime",
    "parse_datetime",
    "plain_converter",
    "wire_fields",
    "wire_name",
]


#: Wire names that plain camelCase does not produce.
WIRE_NAME_EXCEPTIONS: Mapping[str, str] = {
    "client_id": "clientID",
    "link_id": "linkID",
    "services": "requestedServices",
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


class WireEnum(str, enum.Enum):
    """An enum of wire values that prints as its value: ``str(LinkStatus.PENDING) == "pending"``.

    Open: a value the SDK does not know yet is read as a plain ``str``.
    """

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"


def _role(cls: Any) -> str:
    """A model's ``_wire_role`` (``"request"`` or ``"response"``); ``""`` for anything else."""
    return getattr(cls, "_wire_role", "") if isinstance(cls, type) and attrs.has(cls) else ""


def _open_enum(type_: Any) -> type[enum.Enum] | None:
    """The ``WireEnum`` ``E`` of ``type_``: ``E``, ``E | str`` or ``E | str | None``."""
    if isinstance(type_, type) and issubclass(type_, enum.Enum):
        return type_ if issubclass(type_, WireEnum) else None
    if typing.get_origin(type_) not in (Union, types.UnionType):
        return None
    members = typing.get_args(type_)
    enums = [t for t in members if isinstance(t, type) and issubclass(t, enum.Enum)]
    if len(enums) == 1 and set(members) <= {enums[0], str, type(None)}:
        return _open_enum(enums[0])
    return None


def configure_converter(
    converter: cattrs.Converter, *, wire_names: bool = True, json_dates: bool = True
) -> None:
    """Install every rule of the wire format on ``converter``.

    ``wire_names=False`` keeps the Python field names (and ``extra`` under its
    own name, the idempotency key as ``idempotency_key``); ``json_dates=False``
    keeps datetimes as ``datetime``. Both are for plain views of models
    (``plain_converter``); the wire needs the defaults.

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
      record's id) are required; ``null`` counts as absent; ``_wire_aliases`` gives
      other names for a field (``id`` for ``clientID``/``linkID``). Fields the
      model does not know are kept in ``extra``, and written back out when the
      model is unstructured, so model -> wire -> model is the identity.
    - **The idempotency key** the SDK stores in a client's ``metadata`` is
      ``Client.idempotency_key`` in Python (the model lifts it out) and is
      written back into ``metadata`` on the wire (``_wire_lifted``).

    Models are found by what they declare (``Model``'s ``_wire_*`` class
    attributes; enums by their base, ``WireEnum``), so this module imports none:
    the models' ``to_dict`` is built on it.
    - **RequestedServices** use the nested platform -> service object of the
      wire, read leniently (no catalog check) from responses.
    """
    converter.register_unstructure_hook(datetime, format_datetime if json_dates else _same)
    converter.register_unstructure_hook(tuple, list)  # the JSON shape in every view
    converter.register_structure_hook(datetime, _structure_datetime)
    # The commonest optional types, without cattrs' generic Optional dispatch.
    converter.register_structure_hook(Optional[datetime], _structure_datetime)  # noqa: UP045
    converter.register_structure_hook(Optional[str], _optional_str)  # noqa: UP045
    converter.register_unstructure_hook(RequestedServices, RequestedServices.to_json)
    converter.register_structure_hook(
        RequestedServices,
        lambda value, _: RequestedServices.from_json(value or {}, validate=False),
    )
    # Hooks are generated when a type is first used (factories), not at import.
    converter.register_structure_hook_factory(
        lambda type_: _open_enum(type_) is not None,
        lambda type_: _open_enum_hook(_open_enum(type_)),  # type: ignore[arg-type]
    )
    # By class, not by predicate: a str enum must not fall to str's identity hook.
    converter.register_unstructure_hook(WireEnum, _enum_value)
    converter.register_unstructure_hook_factory(
        lambda cls: _role(cls) == "request",
        lambda cls: make_dict_unstructure_fn(
            cls, converter, _cattrs_omit_if_default=True, **_renames(cls, wire=wire_names)
        ),
    )
    converter.register_structure_hook_factory(
        lambda cls: _role(cls) == "response", lambda cls: _open_structure_hook(converter, cls)
    )
    converter.register_unstructure_hook_factory(
        lambda cls: _role(cls) == "response",
        lambda cls: _open_unstructure_hook(converter, cls, wire_names),
    )


@functools.cache
def plain_converter(wire_names: bool, json_dates: bool) -> cattrs.Converter:
    """The converter of a plain view: wire or Python names, ISO strings or datetimes.

    ``plain_converter(True, True)`` is ``CONVERTER``: the wire form.
    """
    if wire_names and json_dates:
        return CONVERTER
    converter = cattrs.Converter(detailed_validation=False)
    configure_converter(converter, wire_names=wire_names, json_dates=json_dates)
    return converter


def _renames(cls: type, *, wire: bool = True, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for field in attrs.fields(cls):
        if field.name in skip:
            overrides[field.name] = override(omit=True)
        elif wire:
            overrides[field.name] = override(rename=wire_name(field.name))
    return overrides


def _not_on_wire(cls: Any) -> tuple[str, ...]:
    """The fields of a record that are no wire field of their own: ``extra``, a lifted entry."""
    lifted = cls._wire_lifted
    return ("extra", lifted[2]) if lifted else ("extra",)


def wire_fields(cls: type) -> tuple[str, ...]:
    """The wire names of a record's fields, in order (``doctor`` compares answers with them)."""
    skip = _not_on_wire(cls)
    return tuple(wire_name(f.name) for f in attrs.fields(cls) if f.name not in skip)


def _open_structure_hook(converter: cattrs.Converter, cls: type[Any]) -> Callable[[Any, Any], Any]:
    """Structure ``cls`` liberally, keeping the wire fields it does not know in ``extra``."""
    aliases = cls._wire_aliases
    known = frozenset(wire_fields(cls)) | frozenset(aliases)
    structure = make_dict_structure_fn(cls, converter, **_renames(cls, skip=_not_on_wire(cls)))

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


def _open_unstructure_hook(
    converter: cattrs.Converter, cls: type[Any], wire_names: bool
) -> Callable[[Any], Any]:
    """Unstructure ``cls``: on the wire, ``extra`` beside the known fields, ``_wire_lifted`` back.

    With Python names, ``extra`` stays under its own name and a lifted entry in
    its own field.
    """
    lifted = cls._wire_lifted if wire_names else None
    skip = ("extra", lifted[2]) if lifted else ("extra",)
    unstructure = make_dict_unstructure_fn(
        cls, converter, **_renames(cls, wire=wire_names, skip=skip)
    )

    def unstructure_open(obj: Any) -> dict[str, Any]:
        out = unstructure(obj)
        if lifted and (value := getattr(obj, lifted[2])) is not None:
            container = wire_name(lifted[0])
            out[container] = {**out.get(container, {}), lifted[1]: value}
        if obj.extra:
            if wire_names:
                out.update(obj.extra)
            else:
                out["extra"] = dict(obj.extra)
        return out

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


def _same(value: Any) -> Any:
    return value


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
