"""Client records: ``session.clients``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs

from . import _idempotency
from ._contract import METADATA_KEYS_MAX
from ._errors import InvalidRequestError
from ._idempotency import IDEMPOTENCY_METADATA_KEY
from ._models import (
    UNSET,
    Client,
    ClientRef,
    ClientType,
    ClientTypeName,
    ClientUpdate,
    DeletedClient,
    Language,
    LanguageName,
    ListQuery,
    NewClient,
    Unset,
)
from ._paginator import Paginator
from ._resource import (
    CallOptions,
    Resource,
    check_choice,
    check_limit,
    require_id,
)
from ._routes import (
    CLIENTS_CREATE,
    CLIENTS_DELETE,
    CLIENTS_LIST,
    CLIENTS_RETRIEVE,
    CLIENTS_UPDATE,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["Clients"]


def _keyed(
    metadata: Mapping[str, str] | Unset, idempotency_key: str | None
) -> Mapping[str, str] | Unset:
    """The metadata with the idempotency key added (a fresh one unless given).

    The key takes one of the 50 entries: with all 50 used, a given key is
    refused, and a generated one is left out (reconciliation is then
    impossible: a lost answer becomes an ``OutcomeUnknownError``).
    """
    entries = dict(metadata) if not isinstance(metadata, Unset) else {}
    if len(entries) < METADATA_KEYS_MAX:
        entries[IDEMPOTENCY_METADATA_KEY] = idempotency_key or _idempotency.generated_key()
        return entries
    if idempotency_key is not None:
        raise InvalidRequestError(
            f"Invalid field metadata: it has {len(entries)} entries, the most a client may "
            "have, so the idempotency key has no room; drop one entry or the key",
            status=0,
            operation="clients.create",
        )
    return metadata


class Clients(Resource):
    """Client records: ``session.clients``."""

    async def create(
        self,
        *,
        name: str,
        email: str,
        company: str | Unset | None = UNSET,
        website: str | Unset | None = UNSET,
        type: ClientType | ClientTypeName | Unset = UNSET,
        language: Language | LanguageName | Unset = UNSET,
        metadata: Mapping[str, str] | Unset = UNSET,
        idempotency_key: str | None = None,
        **options: Unpack[CallOptions],
    ) -> Client:
        """Create a client record.

        The SDK stores ``idempotency_key`` (a fresh one unless given) in the
        record's metadata, so that a create whose answer was lost is found
        again instead of being made twice.

        Pass a stable key (e.g. your own customer id) to make a re-run of the
        same creation idempotent too: the SDK then first looks the key up (one
        ``clients/list`` call) and returns the client already made with it,
        if any, without creating another. The key takes one of the 50
        metadata entries; with all 50 used by ``metadata``, a given key is
        refused, and a generated one is left out (reconciliation is then
        impossible, so a lost answer is an ``OutcomeUnknownError``).

        Raises:
            InvalidRequestError: a field was refused (``path`` names it).
            OutcomeUnknownError: the answer was lost and the lookup failed.

        """
        new = NewClient(
            name=name,
            email=email,
            company=company,
            website=website,
            type=check_choice(type, ClientType, "type"),
            language=check_choice(language, Language, "language"),
            metadata=metadata if idempotency_key is not None else _keyed(metadata, None),
        )
        if idempotency_key is not None:  # looked up first, then created: create_from's path
            return await self.create_from(new, idempotency_key=idempotency_key, **options)
        return await self._requester.request(CLIENTS_CREATE, new, options, self._scope)

    async def create_from(
        self,
        new: NewClient,
        *,
        idempotency_key: str | None = None,
        lookup_first: bool | None = None,
        **options: Unpack[CallOptions],
    ) -> Client:
        """Create the client ``new`` describes; ``create`` with a model instead of keywords.

        ``lookup_first`` (default: whether a key is given) looks the key up
        before creating, and returns the client already made with it.
        """
        if lookup_first is None:
            lookup_first = idempotency_key is not None
        new = attrs.evolve(new, metadata=_keyed(new.metadata, idempotency_key))
        if lookup_first and idempotency_key is not None:
            found = await self.find_by_idempotency_key(idempotency_key, **options)
            if found is not None:
                return found
        return await self._requester.request(CLIENTS_CREATE, new, options, self._scope)

    async def find_by_idempotency_key(
        self, idempotency_key: str, **options: Unpack[CallOptions]
    ) -> Client | None:
        """The client created with this idempotency key (see ``create``), or None.

        Useful after an ``OutcomeUnknownError``: its ``idempotency_key`` finds
        the record if the create did happen.
        """
        payload = {"metadata": {IDEMPOTENCY_METADATA_KEY: require_id(idempotency_key, "key")}}
        return await self._find_created("clients.create", payload, Client, options)

    async def retrieve(self, client_id: str, **options: Unpack[CallOptions]) -> Client:
        """Fetch one client record by id."""
        body = ClientRef(require_id(client_id, "client_id"))
        return await self._requester.request(CLIENTS_RETRIEVE, body, options, self._scope)

    async def update(
        self,
        client_id: str,
        *,
        name: str | Unset = UNSET,
        email: str | Unset = UNSET,
        company: str | Unset | None = UNSET,
        website: str | Unset | None = UNSET,
        type: ClientType | ClientTypeName | Unset = UNSET,
        language: Language | LanguageName | Unset = UNSET,
        metadata: Mapping[str, str] | Unset = UNSET,
        keep_idempotency_key: bool = True,
        **options: Unpack[CallOptions],
    ) -> Client:
        """Change some fields of a client (``None`` clears an optional field).

        ``metadata`` replaces the client's metadata; the SDK's own entry (the
        idempotency key it stored at creation, by which a re-run finds the
        client) is kept unless ``metadata`` names it or ``keep_idempotency_key``
        is false. Keeping it reads the client first: one more request, and
        only for a metadata change.
        """
        if not isinstance(metadata, Unset) and keep_idempotency_key:
            metadata = await self._with_stored_key(client_id, metadata, options)
        body = ClientUpdate(
            client_id=require_id(client_id, "client_id"),
            name=name,
            email=email,
            company=company,
            website=website,
            type=check_choice(type, ClientType, "type"),
            language=check_choice(language, Language, "language"),
            metadata=metadata,
        )
        return await self._update(CLIENTS_UPDATE, body, ClientUpdate(client_id=client_id), options)

    async def _with_stored_key(
        self, client_id: str, metadata: Mapping[str, str], options: CallOptions
    ) -> Mapping[str, str]:
        """``metadata`` plus the client's stored idempotency key, when it has one."""
        if IDEMPOTENCY_METADATA_KEY in metadata:
            return metadata
        reading: CallOptions = {k: v for k, v in options.items() if k != "extra_body"}  # type: ignore[assignment]
        current = await self.retrieve(client_id, **reading)
        stored = current.idempotency_key
        return {**metadata, IDEMPOTENCY_METADATA_KEY: stored} if stored else metadata

    async def delete(self, client_id: str, **options: Unpack[CallOptions]) -> DeletedClient:
        """Delete a client and, with it, all of its access requests."""
        body = ClientRef(require_id(client_id, "client_id"))
        return await self._requester.request(CLIENTS_DELETE, body, options, self._scope)

    def list(
        self,
        *,
        search: str | Unset | None = UNSET,
        type: ClientType | ClientTypeName | Unset | None = UNSET,
        limit: int | Unset = UNSET,
        **options: Unpack[CallOptions],
    ) -> Paginator[Client]:
        """Client records in creation order: ``async for client in session.clients.list():``.

        ``search`` matches a substring of name, company or email
        (case-insensitive), an exact client id, or an exact metadata value.
        ``limit`` is the page size (1-100).
        """
        query = ListQuery(
            search=search, type=check_choice(type, ClientType, "type"), limit=check_limit(limit)
        )
        return Paginator(self._requester, CLIENTS_LIST, query, options, self._scope)
