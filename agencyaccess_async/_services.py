"""RequestedServices: what an access request asks for, and the builder that validates it.

The wire shape (platform -> service -> {accessLevel, agencyAccountID}) is
the part of the API users get wrong most, so the builder, for services
written by hand, validates against the catalog and names the offending path
with a suggestion (``InvalidServiceError``, also a ``ValueError``).

The dashboard's own JSON is another matter: the hosted catalog may have grown
since this SDK was released, and the dashboard adds keys of its own (such as
``agencyAccountName``). A raw mapping given to an endpoint is therefore sent
exactly as given; ``advise`` checks it against the catalog and logs what looks
wrong, once, without refusing it (unless the Session is ``strict_services``).
Decoding a server's answer is lenient too, and keeps every key.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from ._contract import CATALOG, READ_ONLY_LEVELS
from ._errors import InvalidServiceError
from ._hooks import logger

__all__ = ["RequestedServices", "ServiceRequest", "ServicesBuilder", "advise"]

_ENTRY_KEYS = frozenset({"accessLevel", "agencyAccountID"})
#: Names people reach for, and the catalog's or the wire's name for them.
ALIASES = {
    "facebook": "meta",
    "fb": "meta",
    "ga4": "googleAnalytics",
    "ga": "googleAnalytics",
    "gtm": "googleTagManager",
    "adwords": "googleAds",
    "x": "twitter",
    "agencyAccountId": "agencyAccountID",
    "agency_account_id": "agencyAccountID",
    "accountID": "agencyAccountID",
    "access_level": "accessLevel",
    "level": "accessLevel",
}
_advised: set[str] = set()


def _invalid(message: str) -> InvalidServiceError:
    """The error of a requested service that breaks a rule, raised before anything is sent."""
    return InvalidServiceError(f"Requested service is invalid. {message}", status=0)


def advise(raw: Mapping[str, Any], *, strict: bool = False) -> None:
    """Check the dashboard's raw JSON against the catalog: log what looks wrong, once.

    With ``strict``, raise ``InvalidServiceError`` instead. A value that is not
    a mapping at all is always refused: it cannot be requested services.
    Unknown keys inside an entry (the dashboard's ``agencyAccountName``) are
    kept and sent; only a likely typo among them is mentioned.
    """
    if not isinstance(raw, Mapping):
        raise _invalid(f"requestedServices: expected an object, got {type(raw).__name__}")
    problems: list[str] = []
    try:
        RequestedServices.from_json(raw)
    except InvalidServiceError as error:
        if strict:
            raise
        problems.append(error.message)
    for platform, services in raw.items():
        for service, entry in services.items() if isinstance(services, Mapping) else ():
            for key in entry if isinstance(entry, Mapping) else ():
                if key not in _ENTRY_KEYS and key in ALIASES:
                    problems.append(f"{platform}.{service}.{key}: did you mean {ALIASES[key]!r}?")
    for problem in problems:
        if problem not in _advised:
            _advised.add(problem)
            logger.warning("%s (sent anyway: the API decides)", problem)


@attrs.frozen
class ServiceRequest:
    """One requested service: platform, service, receiving agency account, access level.

    ``access_level`` is ``None`` for services without levels. Constructing one
    directly does not validate it; use ``RequestedServices.build()`` or
    ``RequestedServices.from_json()`` for that.
    """

    platform: str
    service: str
    agency_account_id: str | None
    access_level: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def path(self) -> str:
        """The entry's path in the wire object, e.g. ``google.googleAds``."""
        return f"{self.platform}.{self.service}"

    def to_json(self) -> dict[str, Any]:
        """The entry's wire form: ``{"accessLevel"?, "agencyAccountID", ...extra}``."""
        wire: dict[str, Any] = {}
        if self.access_level is not None:
            wire["accessLevel"] = self.access_level
        if self.agency_account_id is not None:
            wire["agencyAccountID"] = self.agency_account_id
        wire.update(self.extra)
        return wire


@attrs.frozen
class RequestedServices:
    """The services an access request asks for, in the order they were given.

    Make one with ``RequestedServices.build().add(...).build()`` or from the
    dashboard's raw JSON with ``RequestedServices.from_json(raw)``; both
    validate against the catalog. ``to_json()`` gives the wire object back
    with the same order and keys.
    """

    entries: tuple[ServiceRequest, ...]

    def __iter__(self) -> Iterator[ServiceRequest]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        inner = ", ".join(
            f"{e.path}={e.access_level}" if e.access_level else e.path for e in self.entries
        )
        return f"RequestedServices({inner})"

    @staticmethod
    def build() -> ServicesBuilder:
        """Start a validating builder."""
        return ServicesBuilder()

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], *, validate: bool = True) -> RequestedServices:
        """Read the wire object (as the dashboard's builder produces it).

        With ``validate=True`` (the default) every platform, service, level and
        account is checked and an ``InvalidServiceError`` (a ``ValueError``)
        names the first bad path. With ``validate=False`` only the shape is
        read, for services this SDK's catalog does not know yet. Keys of an
        entry other than ``accessLevel`` and ``agencyAccountID`` (display
        fields the dashboard adds) are kept in the entry's ``extra`` and
        written back by ``to_json()``.
        """
        if not isinstance(raw, dict) and not isinstance(raw, Mapping):
            raise _invalid(f"requestedServices: expected an object, got {type(raw).__name__}")
        entries = []
        for platform, services in raw.items():
            if not isinstance(services, dict) and not isinstance(services, Mapping):
                raise _invalid(f"{platform}: expected an object of services")
            if validate and not services:
                raise _invalid(f"{platform}: at least one service is required")
            for service, entry in services.items():
                entries.append(_read_entry(platform, service, entry, validate=validate))
        result = cls(tuple(entries))
        if validate:
            result.validate()
        return result

    def to_json(self) -> dict[str, dict[str, dict[str, Any]]]:
        """The wire object, platforms and services in the order given."""
        wire: dict[str, dict[str, dict[str, Any]]] = {}
        for entry in self.entries:
            wire.setdefault(entry.platform, {})[entry.service] = entry.to_json()
        return wire

    def validate(self) -> None:
        """Check every entry against the catalog; raise ``ValueError`` naming the first bad path."""
        if not self.entries:
            raise _invalid("requestedServices: at least one platform is required")
        seen: set[tuple[str, str]] = set()
        for entry in self.entries:
            _check_entry(entry)
            if (entry.platform, entry.service) in seen:
                raise _invalid(f"{entry.path}: requested twice")
            seen.add((entry.platform, entry.service))

    def check_prospect(self) -> None:
        """Raise ``ValueError`` if this would be refused for a client of type ``prospect``.

        Prospects may only be asked for the read-only level of a service that
        has levels (the API answers 400 otherwise); use ``read_only()`` to get
        a copy that complies.
        """
        for entry in self.entries:
            read_only = READ_ONLY_LEVELS.get((entry.platform, entry.service))
            if read_only is not None and entry.access_level != read_only:
                raise _invalid(
                    f"{entry.path}.accessLevel: prospects may only request {read_only!r},"
                    f" not {entry.access_level!r}"
                )

    def read_only(self) -> RequestedServices:
        """A copy with every service that has levels set to its read-only level."""
        return RequestedServices(
            tuple(
                attrs.evolve(e, access_level=READ_ONLY_LEVELS.get((e.platform, e.service)))
                if e.access_level is not None
                else e
                for e in self.entries
            )
        )


class ServicesBuilder:
    """Collects services one call at a time and validates each as it is added.

    >>> services = (
    ...     RequestedServices.build()
    ...     .add("google", "googleAds", access_level="standard", agency_account_id="acct_google_1")
    ...     .add("shopify", "storeCollaborator", agency_account_id="acct_shopify_1")
    ...     .build()
    ... )
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], ServiceRequest] = {}

    def add(
        self,
        platform: str,
        service: str,
        *,
        agency_account_id: str,
        access_level: str | None = None,
    ) -> ServicesBuilder:
        """Add one service; raise ``ValueError`` naming the path if it is not valid."""
        entry = ServiceRequest(platform, service, agency_account_id, access_level)
        _check_entry(entry)
        if (platform, service) in self._entries:
            raise _invalid(f"{entry.path}: already added")
        self._entries[(platform, service)] = entry
        return self

    def build(self) -> RequestedServices:
        """The validated ``RequestedServices``."""
        services = RequestedServices(tuple(self._entries.values()))
        services.validate()
        return services


def _read_entry(platform: str, service: str, entry: Any, *, validate: bool) -> ServiceRequest:
    path = f"{platform}.{service}"
    if not isinstance(entry, dict) and not isinstance(entry, Mapping):
        raise _invalid(f"{path}: expected an object with agencyAccountID")
    account = entry.get("agencyAccountID")
    level = entry.get("accessLevel")
    if not isinstance(account, str) and (validate or account is not None):
        hint = next((f"; did you mean agencyAccountID, not {k}?" for k in entry
                     if ALIASES.get(k) == "agencyAccountID"), "")  # fmt: skip
        raise _invalid(f"{path}.agencyAccountID: required, a string{hint}")
    if level is not None and not isinstance(level, str):
        raise _invalid(f"{path}.accessLevel: expected a string")
    extra = {k: v for k, v in entry.items() if k not in _ENTRY_KEYS}
    return ServiceRequest(platform, service, account, level, extra)


def _check_entry(entry: ServiceRequest) -> None:
    services = CATALOG.get(entry.platform)
    if services is None:
        raise _invalid(f"{entry.platform}: unknown platform{_suggest(entry.platform, CATALOG)}")
    levels = services.get(entry.service)
    if levels is None:
        raise _invalid(f"{entry.path}: unknown service{_suggest(entry.service, services)}")
    if levels and entry.access_level is None:
        raise _invalid(f"{entry.path}.accessLevel: required, one of {', '.join(levels)}")
    if not levels and entry.access_level is not None:
        raise _invalid(f"{entry.path}.accessLevel: this service has no access levels; omit it")
    if levels and entry.access_level not in levels:
        raise _invalid(
            f"{entry.path}.accessLevel: unknown level {entry.access_level!r}"
            f"{_suggest(entry.access_level or '', levels)}"
        )
    if not isinstance(entry.agency_account_id, str) or not entry.agency_account_id.strip():
        raise _invalid(f"{entry.path}.agencyAccountID: required, the agency's connected account")


def _suggest(name: str, choices: Iterable[str]) -> str:
    import difflib  # only on the error path

    options = list(choices)
    by_case = [c for c in options if c.lower() == name.lower()]
    alias = [ALIASES[name]] if ALIASES.get(name) in options else []
    close = by_case or alias or difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f"; expected one of {', '.join(options)}"
