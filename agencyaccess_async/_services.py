"""RequestedServices: what an access request asks for, and the builder that validates it.

The wire shape (platform -> service -> {accessLevel, agencyAccountID}) is
the part of the API users get wrong most, so every way of making one that a
user would reach for first validates against the catalog and names the
offending path with a suggestion. Decoding a server's answer is lenient
instead: the hosted catalog may have grown since this SDK was released.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from ._catalog import CATALOG, READ_ONLY_LEVELS

__all__ = ["RequestedServices", "ServiceRequest", "ServicesBuilder"]

_ENTRY_KEYS = frozenset({"accessLevel", "agencyAccountID"})


@attrs.frozen
class ServiceRequest:
    """One requested service: platform, service, receiving agency account, access level.

    ``access_level`` is ``None`` for services without levels. Constructing one
    directly does not validate it; use ``RequestedServices.build()`` or
    ``RequestedServices.from_json()`` for that.
    """

    platform: str
    service: str
    agency_account_id: str
    access_level: str | None = None

    @property
    def path(self) -> str:
        """The entry's path in the wire object, e.g. ``google.googleAds``."""
        return f"{self.platform}.{self.service}"

    def to_json(self) -> dict[str, str]:
        """The entry's wire form: ``{"accessLevel"?, "agencyAccountID"}``."""
        if self.access_level is None:
            return {"agencyAccountID": self.agency_account_id}
        return {"accessLevel": self.access_level, "agencyAccountID": self.agency_account_id}


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
        account is checked and a ``ValueError`` names the first bad path. With
        ``validate=False`` only the shape is read, for services this SDK's
        catalog does not know yet.
        """
        if not isinstance(raw, dict) and not isinstance(raw, Mapping):
            raise ValueError(f"requestedServices: expected an object, got {type(raw).__name__}")
        entries = []
        for platform, services in raw.items():
            if not isinstance(services, dict) and not isinstance(services, Mapping):
                raise ValueError(f"{platform}: expected an object of services")
            if validate and not services:
                raise ValueError(f"{platform}: at least one service is required")
            for service, entry in services.items():
                entries.append(_read_entry(platform, service, entry, validate=validate))
        result = cls(tuple(entries))
        if validate:
            result.validate()
        return result

    def to_json(self) -> dict[str, dict[str, dict[str, str]]]:
        """The wire object, platforms and services in the order given."""
        wire: dict[str, dict[str, dict[str, str]]] = {}
        for entry in self.entries:
            wire.setdefault(entry.platform, {})[entry.service] = entry.to_json()
        return wire

    def validate(self) -> None:
        """Check every entry against the catalog; raise ``ValueError`` naming the first bad path."""
        if not self.entries:
            raise ValueError("requestedServices: at least one platform is required")
        seen: set[tuple[str, str]] = set()
        for entry in self.entries:
            _check_entry(entry)
            if (entry.platform, entry.service) in seen:
                raise ValueError(f"{entry.path}: requested twice")
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
                raise ValueError(
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
            raise ValueError(f"{entry.path}: already added")
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
        raise ValueError(f"{path}: expected an object with agencyAccountID")
    if validate and not _ENTRY_KEYS.issuperset(entry):
        raise ValueError(f"{path}.{sorted(set(entry) - _ENTRY_KEYS)[0]}: unknown field")
    account = entry.get("agencyAccountID")
    level = entry.get("accessLevel")
    if not isinstance(account, str):
        raise ValueError(f"{path}.agencyAccountID: required, a string")
    if level is not None and not isinstance(level, str):
        raise ValueError(f"{path}.accessLevel: expected a string")
    return ServiceRequest(platform, service, account, level)


def _check_entry(entry: ServiceRequest) -> None:
    services = CATALOG.get(entry.platform)
    if services is None:
        raise ValueError(f"{entry.platform}: unknown platform{_suggest(entry.platform, CATALOG)}")
    levels = services.get(entry.service)
    if levels is None:
        raise ValueError(f"{entry.path}: unknown service{_suggest(entry.service, services)}")
    if levels and entry.access_level is None:
        raise ValueError(f"{entry.path}.accessLevel: required, one of {', '.join(levels)}")
    if not levels and entry.access_level is not None:
        raise ValueError(f"{entry.path}.accessLevel: this service has no access levels; omit it")
    if levels and entry.access_level not in levels:
        raise ValueError(
            f"{entry.path}.accessLevel: unknown level {entry.access_level!r}"
            f"{_suggest(entry.access_level or '', levels)}"
        )
    if not isinstance(entry.agency_account_id, str) or not entry.agency_account_id.strip():
        raise ValueError(f"{entry.path}.agencyAccountID: required, the agency's connected account")


def _suggest(name: str, choices: Iterable[str]) -> str:
    import difflib  # only on the error path

    options = list(choices)
    by_case = [c for c in options if c.lower() == name.lower()]
    close = by_case or difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f"; expected one of {', '.join(options)}"
