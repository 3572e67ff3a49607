"""The endpoint methods: ``session.clients`` and ``session.links``.

Each method builds a request model and names its row of the route table; the
Session does the rest. Ids are positional, everything else keyword-only, and
an empty id is a ``ValueError`` before any I/O. Every method takes
``extra_body={...}``, merged into the JSON body last, for fields the SDK does
not model yet (the guide calls its optional fields "common", not all).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Collection, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

from ._converter import CONVERTER
from ._errors import InvalidRequestError, WaitTimeoutError
from ._http import Timeout
from ._models import (
    UNSET,
    Client,
    ClientRef,
    ClientType,
    ClientUpdate,
    DeletedClient,
    DeletedLink,
    Language,
    Link,
    LinkRef,
    LinkStatus,
    LinkUpdate,
    ListQuery,
    NewClient,
    NewLink,
    Page,
    Unset,
)
from ._reconcile import IDEMPOTENCY_METADATA_KEY, find_client
from ._retry import RetryPolicy
from ._routes import ROUTES, Route
from ._services import RequestedServices, advise

if TYPE_CHECKING:
    from ._session import Session

__all__ = ["Clients", "Links", "Paginator"]

T = TypeVar("T")
_MAX_METADATA_KEYS = 50


def _require_id(value: str, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _as_services(
    services: RequestedServices | Mapping[str, Any], strict: bool
) -> RequestedServices | Mapping[str, Any]:
    """What goes out as ``requestedServices``: a raw mapping unchanged, once advised on."""
    if isinstance(services, RequestedServices):
        return services
    advise(services, strict=strict)
    return services


class Paginator(Generic[T]):
    """The records of a list call, fetched a page at a time as you iterate.

    ``async for record in paginator`` follows ``nextCursor`` lazily;
    ``await paginator.page(cursor)`` fetches one page; ``paginator.pages()``
    iterates pages.
    """

    def __init__(
        self,
        session: Session,
        route: Route,
        query: ListQuery,
        timeout: Timeout | None,
        retry: RetryPolicy | None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        self._session = session
        self._route = route
        self._query = query
        self._timeout = timeout
        self._retry = retry
        self._extra_body = extra_body

    def __repr__(self) -> str:
        return f"<Paginator {self._route.operation} {self._query!r}>"

    async def page(self, cursor: str | None = None) -> Page[T]:
        """Fetch one page: the first, or the one ``cursor`` points at."""
        query = self._query if cursor is None else attrs.evolve(self._query, cursor=cursor)
        page: Page[T] = await self._session._call(
            self._route,
            query,
            timeout=self._timeout,
            retry=self._retry,
            extra_body=self._extra_body,
        )
        return page

    async def pages(self) -> AsyncIterator[Page[T]]:
        """Iterate over pages, following ``nextCursor`` until the last."""
        cursor: str | None = None
        while True:
            page = await self.page(cursor)
            yield page
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.items:
                yield item

    async def collect(self, limit: int | None = None) -> list[T]:
        """Fetch every record (or the first ``limit``) into a list."""
        records: list[T] = []
        async for record in self:
            records.append(record)
            if limit is not None and len(records) >= limit:
                break
        return records


class _Resource:
    def __init__(self, session: Session) -> None:
        self._session = session

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._session!r}>"


class Clients(_Resource):
    """Client records: ``session.clients``."""

    async def create(
        self,
        *,
        name: str,
        email: str,
        company: str | Unset | None = UNSET,
        website: str | Unset | None = UNSET,
        type: ClientType | Unset = UNSET,
        language: Language | Unset = UNSET,
        metadata: Mapping[str, str] | Unset = UNSET,
        idempotency_key: str | None = None,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Client:
        """Create a client record.

        The SDK stores ``idempotency_key`` (a fresh UUID unless given) in the
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
            type=type,
            language=language,
            metadata=metadata,
        )
        return await self._create(
            new,
            idempotency_key,
            lookup_first=idempotency_key is not None,
            timeout=timeout,
            retry=retry,
            extra_body=extra_body,
        )

    async def _create(
        self,
        new: NewClient,
        idempotency_key: str | None,
        *,
        lookup_first: bool = False,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Client:
        """Create ``new`` carrying ``idempotency_key``; with ``lookup_first``, return a match."""
        metadata = dict(new.metadata) if not isinstance(new.metadata, Unset) else {}
        if len(metadata) < _MAX_METADATA_KEYS:
            metadata[IDEMPOTENCY_METADATA_KEY] = idempotency_key or uuid.uuid4().hex
            new = attrs.evolve(new, metadata=metadata)
        elif idempotency_key is not None:
            raise InvalidRequestError(
                f"Invalid field metadata: it has {len(metadata)} entries, the most a client may "
                "have, so the idempotency key has no room; drop one entry or the key",
                status=0,
                operation="clients.create",
            )
        if lookup_first and idempotency_key is not None:
            found = await self.find_by_idempotency_key(idempotency_key)
            if found is not None:
                return found
        client: Client = await self._session._call(
            ROUTES["clients.create"], new, timeout=timeout, retry=retry, extra_body=extra_body
        )
        return client

    async def find_by_idempotency_key(self, idempotency_key: str) -> Client | None:
        """The client created with this idempotency key (see ``create``), or None.

        Useful after an ``OutcomeUnknownError``: its ``idempotency_key`` finds
        the record if the create did happen.
        """
        payload = {"metadata": {IDEMPOTENCY_METADATA_KEY: _require_id(idempotency_key, "key")}}
        found = await find_client(self._session, payload, 0.0, self._session.retry)
        return None if found is None else CONVERTER.structure(found, Client)

    async def retrieve(
        self,
        client_id: str,
        *,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Client:
        """Fetch one client record by id."""
        body = ClientRef(_require_id(client_id, "client_id"))
        client: Client = await self._session._call(
            ROUTES["clients.retrieve"], body, timeout=timeout, retry=retry, extra_body=extra_body
        )
        return client

    async def update(
        self,
        client_id: str,
        *,
        name: str | Unset = UNSET,
        email: str | Unset = UNSET,
        company: str | Unset | None = UNSET,
        website: str | Unset | None = UNSET,
        type: ClientType | Unset = UNSET,
        language: Language | Unset = UNSET,
        metadata: Mapping[str, str] | Unset = UNSET,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Client:
        """Change some fields of a client (``None`` clears an optional field)."""
        body = ClientUpdate(
            client_id=_require_id(client_id, "client_id"),
            name=name,
            email=email,
            company=company,
            website=website,
            type=type,
            language=language,
            metadata=metadata,
        )
        if body == ClientUpdate(client_id=client_id) and not extra_body:
            raise ValueError("clients.update needs at least one field to change")
        client: Client = await self._session._call(
            ROUTES["clients.update"], body, timeout=timeout, retry=retry, extra_body=extra_body
        )
        return client

    async def delete(
        self,
        client_id: str,
        *,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> DeletedClient:
        """Delete a client and, with it, all of its access requests."""
        body = ClientRef(_require_id(client_id, "client_id"))
        deleted: DeletedClient = await self._session._call(
            ROUTES["clients.delete"], body, timeout=timeout, retry=retry, extra_body=extra_body
        )
        return deleted

    def list(
        self,
        *,
        search: str | Unset | None = UNSET,
        type: ClientType | Unset | None = UNSET,
        limit: int | Unset = UNSET,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Paginator[Client]:
        """Client records in creation order: ``async for client in session.clients.list():``.

        ``search`` matches a substring of name, company or email
        (case-insensitive), an exact client id, or an exact metadata value.
        ``limit`` is the page size (1-100).
        """
        query = ListQuery(search=search, type=type, limit=limit)
        return Paginator(self._session, ROUTES["clients.list"], query, timeout, retry, extra_body)


class Links(_Resource):
    """Access requests (invite links): ``session.links``."""

    async def create(
        self,
        client_id: str,
        *,
        services: RequestedServices | Mapping[str, Any],
        intake_form: bool | Unset = UNSET,
        send_email: bool | Unset = UNSET,
        thank_you_message: str | Unset | None = UNSET,
        redirect_url: str | Unset | None = UNSET,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Link:
        """Create an access request for a client; its ``invite_url`` goes to the client.

        ``services`` is a ``RequestedServices`` (see ``RequestedServices.build()``)
        or the dashboard's raw JSON, which is sent exactly as given: what the
        SDK's catalog does not know is logged once as a warning, not refused
        (refused with ``Session(strict_services=True)``).
        """
        body = NewLink(
            client_id=_require_id(client_id, "client_id"),
            requested_services=_as_services(services, self._session.strict_services),
            intake_form=intake_form,
            send_email=send_email,
            thank_you_message=thank_you_message,
            redirect_url=redirect_url,
        )
        link: Link = await self._session._call(
            ROUTES["links.create"], body, timeout=timeout, retry=retry, extra_body=extra_body
        )
        return link

    async def retrieve(
        self,
        link_id: str,
        *,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Link:
        """Fetch one access request, with the current status of each grant."""
        body = LinkRef(_require_id(link_id, "link_id"))
        link: Link = await self._session._call(
            ROUTES["links.retrieve"], body, timeout=timeout, retry=retry, extra_body=extra_body
        )
        return link

    async def update(
        self,
        link_id: str,
        *,
        services: RequestedServices | Mapping[str, Any] | Unset = UNSET,
        intake_form: bool | Unset = UNSET,
        send_email: bool | Unset = UNSET,
        thank_you_message: str | Unset | None = UNSET,
        redirect_url: str | Unset | None = UNSET,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Link:
        """Change an access request; services that stay keep their grant status."""
        body = LinkUpdate(
            link_id=_require_id(link_id, "link_id"),
            requested_services=(
                UNSET
                if isinstance(services, Unset)
                else _as_services(services, self._session.strict_services)
            ),
            intake_form=intake_form,
            send_email=send_email,
            thank_you_message=thank_you_message,
            redirect_url=redirect_url,
        )
        if body == LinkUpdate(link_id=link_id) and not extra_body:
            raise ValueError("links.update needs at least one field to change")
        link: Link = await self._session._call(
            ROUTES["links.update"], body, timeout=timeout, retry=retry, extra_body=extra_body
        )
        return link

    async def delete(
        self,
        link_id: str,
        *,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> DeletedLink:
        """Delete an access request."""
        body = LinkRef(_require_id(link_id, "link_id"))
        deleted: DeletedLink = await self._session._call(
            ROUTES["links.delete"], body, timeout=timeout, retry=retry, extra_body=extra_body
        )
        return deleted

    def list(
        self,
        *,
        client_id: str | Unset = UNSET,
        search: str | Unset | None = UNSET,
        type: ClientType | Unset | None = UNSET,
        limit: int | Unset = UNSET,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Paginator[Link]:
        """Access requests in creation order, optionally of one client only."""
        if not isinstance(client_id, Unset):
            _require_id(client_id, "client_id")
        query = ListQuery(client_id=client_id, search=search, type=type, limit=limit)
        return Paginator(self._session, ROUTES["links.list"], query, timeout, retry, extra_body)

    async def wait_until_granted(
        self,
        link_id: str,
        *,
        timeout: float = 300.0,
        poll_interval: float = 2.0,
        statuses: Collection[LinkStatus | str] = (LinkStatus.GRANTED,),
    ) -> Link:
        """Poll the link until its status is one of ``statuses`` (default: granted).

        Returns the Link in that status; raises ``WaitTimeoutError`` carrying
        the last Link seen when ``timeout`` seconds pass first.
        """
        _require_id(link_id, "link_id")
        wanted = {s.value if isinstance(s, LinkStatus) else s for s in statuses}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            link = await self.retrieve(link_id)
            status = link.status.value if isinstance(link.status, LinkStatus) else link.status
            if status in wanted:
                return link
            left = deadline - loop.time()
            if left <= 0:
                raise WaitTimeoutError(
                    f"link {link_id} still {status!r} after {timeout}s", last_seen=link
                )
            await asyncio.sleep(min(poll_interval, left))
