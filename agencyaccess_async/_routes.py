"""The route table: every operation's path, capability, kind and body/answer types.

This is the one place that knows the API's routes. A correction to the
contract (a renamed route, a new capability) is a one-line change here;
endpoint methods only name a row.
"""

from __future__ import annotations

import enum

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

__all__ = ["ROUTES", "Kind", "Route"]


class Kind(enum.Enum):
    """What an operation does to the server's state; it decides what is safe to resend."""

    CREATE = "create"  # not idempotent: an unknown outcome is reconciled, never blindly resent
    READ = "read"  # safe to resend
    UPDATE = "update"  # idempotent: the same body twice gives the same record
    DELETE = "delete"  # idempotent: "not found" on a resend means it is done


@attrs.frozen
class Route:
    """One operation of the API.

    ``data`` is the model of the answer's ``data`` (of each item, when ``paged``).
    ``beside_data`` names fields an answer may put beside ``data`` rather than
    in it (the guide says only that a created link's answer "includes the
    created request data and inviteUrl"); ``requires`` names fields the SDK
    cannot do without, checked after that.
    """

    operation: str
    path: str
    capability: str
    kind: Kind
    body: type
    data: type
    paged: bool = False
    beside_data: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()


_INVITE_URL = ("inviteUrl",)

_ROWS = (
    Route(
        "clients.create", "/api/clients/create", "clients:create", Kind.CREATE, NewClient, Client
    ),
    Route(
        "clients.list", "/api/clients/list", "clients:retrieve", Kind.READ, ListQuery, Client, True
    ),
    Route(
        "clients.retrieve",
        "/api/clients/retrieve",
        "clients:retrieve",
        Kind.READ,
        ClientRef,
        Client,
    ),
    Route(
        "clients.update", "/api/clients/update", "clients:edit", Kind.UPDATE, ClientUpdate, Client
    ),
    Route(
        "clients.delete",
        "/api/clients/delete",
        "clients:delete",
        Kind.DELETE,
        ClientRef,
        DeletedClient,
    ),
    Route(
        "links.create",
        "/api/links/create",
        "links:create",
        Kind.CREATE,
        NewLink,
        Link,
        beside_data=_INVITE_URL,
        requires=_INVITE_URL,
    ),
    Route("links.list", "/api/links/list", "links:retrieve", Kind.READ, ListQuery, Link, True),
    Route(
        "links.retrieve",
        "/api/links/retrieve",
        "links:retrieve",
        Kind.READ,
        LinkRef,
        Link,
        beside_data=_INVITE_URL,
    ),
    Route(
        "links.update",
        "/api/links/update",
        "links:edit",
        Kind.UPDATE,
        LinkUpdate,
        Link,
        beside_data=_INVITE_URL,
    ),
    Route("links.delete", "/api/links/delete", "links:delete", Kind.DELETE, LinkRef, DeletedLink),
)

#: operation name -> Route, for every operation of the contract.
ROUTES = {route.operation: route for route in _ROWS}
