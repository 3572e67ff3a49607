"""The route table: every operation's path, capability, kind and body/answer types.

This is the one place that knows the API's routes. A correction to the
contract (a renamed route, a new capability) is a one-line change here;
endpoint methods only name a row.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

import attrs

from ._models import (
    Client,
    ClientRef,
    ClientUpdate,
    DeletedClient,
    DeletedLink,
    Link,
    LinkRef,
    LinkUpdate,
    ListQuery,
    NewClient,
    NewLink,
)

__all__ = [
    "CLIENTS_CREATE",
    "CLIENTS_DELETE",
    "CLIENTS_LIST",
    "CLIENTS_RETRIEVE",
    "CLIENTS_UPDATE",
    "LINKS_CREATE",
    "LINKS_DELETE",
    "LINKS_LIST",
    "LINKS_RETRIEVE",
    "LINKS_UPDATE",
    "ROUTES",
    "Kind",
    "PagedRoute",
    "Route",
]

B = TypeVar("B")
R = TypeVar("R")


class Kind(enum.Enum):
    """What an operation does to the server's state; it decides what is safe to resend."""

    CREATE = "create"  # not idempotent: an unknown outcome is reconciled, never blindly resent
    READ = "read"  # safe to resend
    UPDATE = "update"  # idempotent: the same body twice gives the same record
    DELETE = "delete"  # idempotent: "not found" on a resend means it is done


@attrs.frozen
class Route(Generic[B, R]):
    """One operation of the API, typed by its body ``B`` and answer ``R``.

    ``data`` is the model of the answer's ``data`` (of each record, for a
    ``PagedRoute``); ``dict`` means plain JSON.
    ``beside_data`` names fields an answer may put beside ``data`` rather than
    in it (the guide says only that a created link's answer "includes the
    created request data and inviteUrl"); ``requires`` names fields the SDK
    cannot do without, checked after that.
    """

    operation: str
    path: str
    capability: str
    kind: Kind
    body: type[B]
    data: type[R]
    beside_data: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()

    def raw(self) -> Route[Mapping[str, Any], Mapping[str, Any]]:
        """This route with plain JSON for its body and answer (lookups, ``session.post``)."""
        return Route(self.operation, self.path, self.capability, self.kind, dict, dict,
                     self.beside_data, self.requires)  # fmt: skip


@attrs.frozen
class PagedRoute(Route[B, R]):
    """A list operation: its answer is a page of ``data`` records and a ``nextCursor``."""

    def raw(self) -> PagedRoute[Mapping[str, Any], Mapping[str, Any]]:
        """This route with plain JSON for its query and records."""
        return PagedRoute(self.operation, self.path, self.capability, self.kind, dict, dict)


_INVITE_URL = ("inviteUrl",)

CLIENTS_CREATE: Route[NewClient, Client] = Route(
    "clients.create", "/api/clients/create", "clients:create", Kind.CREATE, NewClient, Client
)
CLIENTS_LIST: PagedRoute[ListQuery, Client] = PagedRoute(
    "clients.list", "/api/clients/list", "clients:retrieve", Kind.READ, ListQuery, Client
)
CLIENTS_RETRIEVE: Route[ClientRef, Client] = Route(
    "clients.retrieve", "/api/clients/retrieve", "clients:retrieve", Kind.READ, ClientRef, Client
)
CLIENTS_UPDATE: Route[ClientUpdate, Client] = Route(
    "clients.update", "/api/clients/update", "clients:edit", Kind.UPDATE, ClientUpdate, Client
)
CLIENTS_DELETE: Route[ClientRef, DeletedClient] = Route(
    "clients.delete", "/api/clients/delete", "clients:delete", Kind.DELETE, ClientRef,
    DeletedClient,
)  # fmt: skip
LINKS_CREATE: Route[NewLink, Link] = Route(
    "links.create", "/api/links/create", "links:create", Kind.CREATE, NewLink, Link,
    beside_data=_INVITE_URL, requires=_INVITE_URL,
)  # fmt: skip
LINKS_LIST: PagedRoute[ListQuery, Link] = PagedRoute(
    "links.list", "/api/links/list", "links:retrieve", Kind.READ, ListQuery, Link
)
LINKS_RETRIEVE: Route[LinkRef, Link] = Route(
    "links.retrieve", "/api/links/retrieve", "links:retrieve", Kind.READ, LinkRef, Link,
    beside_data=_INVITE_URL,
)  # fmt: skip
LINKS_UPDATE: Route[LinkUpdate, Link] = Route(
    "links.update", "/api/links/update", "links:edit", Kind.UPDATE, LinkUpdate, Link,
    beside_data=_INVITE_URL,
)  # fmt: skip
LINKS_DELETE: Route[LinkRef, DeletedLink] = Route(
    "links.delete", "/api/links/delete", "links:delete", Kind.DELETE, LinkRef, DeletedLink
)

#: operation name -> Route, for every operation of the contract.
ROUTES: Mapping[str, Route[Any, Any]] = {
    route.operation: route
    for route in (
        CLIENTS_CREATE, CLIENTS_LIST, CLIENTS_RETRIEVE, CLIENTS_UPDATE, CLIENTS_DELETE,
        LINKS_CREATE, LINKS_LIST, LINKS_RETRIEVE, LINKS_UPDATE, LINKS_DELETE,
    )
}  # fmt: skip
