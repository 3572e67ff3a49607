"""Access requests (invite links): ``session.links``."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator, Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from ._contract import LIST_LIMIT_MAX
from ._converter import CONVERTER
from ._errors import AgencyAccessError, NotFoundError, RateLimitError, RequestTimeoutError
from ._models import (
    UNSET,
    ClientType,
    ClientTypeName,
    DeletedLink,
    Link,
    LinkRef,
    LinkStatus,
    LinkUpdate,
    ListQuery,
    NewLink,
    Unset,
)
from ._paginator import Paginator
from ._resource import (
    CallOptions,
    Resource,
    check_choice,
    check_limit,
    require_id,
    services_body,
)
from ._routes import (
    LINKS_CREATE,
    LINKS_DELETE,
    LINKS_LIST,
    LINKS_RETRIEVE,
    LINKS_UPDATE,
)
from ._scratch import IdSet, batched
from ._services import RequestedServices
from ._stream import Batches

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["Links", "WaitTimeoutError"]

#: How early an event loop may fire a timer: a poll ended this close to the deadline
#: was ended by the deadline.
_TIMER_SLACK = 0.05
#: The contract's largest list page.


class WaitTimeoutError(AgencyAccessError, TimeoutError):
    """``wait_until_granted`` ran out of time; ``last_seen`` is the last Link retrieved (or None).

    Defined here, beside the method that raises it, so that ``last_seen`` can be typed.
    """

    suggested_status: int = 504

    def __init__(self, message: str, *, last_seen: Link | None) -> None:
        super().__init__(message)
        self.last_seen = last_seen


class Links(Resource):
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
        **options: Unpack[CallOptions],
    ) -> Link:
        """Create an access request for a client; its ``invite_url`` goes to the client.

        ``services`` is a ``RequestedServices`` (see ``RequestedServices.build()``)
        or the dashboard's raw JSON, which is sent exactly as given: what the
        SDK's catalog does not know is logged once as a warning, not refused
        (refused with ``Session(strict_services=True)``).
        """
        body = NewLink(
            client_id=require_id(client_id, "client_id"),
            services=services_body(services, self._requester.strict_services),
            intake_form=intake_form,
            send_email=send_email,
            thank_you_message=thank_you_message,
            redirect_url=redirect_url,
        )
        return await self.create_from(body, **options)

    async def create_from(self, new: NewLink, **options: Unpack[CallOptions]) -> Link:
        """Create the access request ``new`` describes; ``create`` with a model."""
        return await self._requester.request(LINKS_CREATE, new, options, self._scope)

    async def find_like(self, new: NewLink, **options: Unpack[CallOptions]) -> Link | None:
        """The newest access request of ``new``'s client with the same services and options.

        What a create of ``new`` would have made: bulk runs ask this before
        creating again a row whose earlier create may have happened.
        """
        return await self._find_created("links.create", CONVERTER.unstructure(new), Link, options)

    async def retrieve(self, link_id: str, **options: Unpack[CallOptions]) -> Link:
        """Fetch one access request, with the current status of each grant."""
        body = LinkRef(require_id(link_id, "link_id"))
        return await self._requester.request(LINKS_RETRIEVE, body, options, self._scope)

    async def update(
        self,
        link_id: str,
        *,
        services: RequestedServices | Mapping[str, Any] | Unset = UNSET,
        intake_form: bool | Unset = UNSET,
        send_email: bool | Unset = UNSET,
        thank_you_message: str | Unset | None = UNSET,
        redirect_url: str | Unset | None = UNSET,
        **options: Unpack[CallOptions],
    ) -> Link:
        """Change an access request; services that stay keep their grant status."""
        body = LinkUpdate(
            link_id=require_id(link_id, "link_id"),
            services=(
                UNSET
                if isinstance(services, Unset)
                else services_body(services, self._requester.strict_services)
            ),
            intake_form=intake_form,
            send_email=send_email,
            thank_you_message=thank_you_message,
            redirect_url=redirect_url,
        )
        return await self._update(LINKS_UPDATE, body, LinkUpdate(link_id=link_id), options)

    async def delete(self, link_id: str, **options: Unpack[CallOptions]) -> DeletedLink:
        """Delete an access request."""
        body = LinkRef(require_id(link_id, "link_id"))
        return await self._requester.request(LINKS_DELETE, body, options, self._scope)

    def list(
        self,
        *,
        client_id: str | Unset = UNSET,
        search: str | Unset | None = UNSET,
        type: ClientType | ClientTypeName | Unset | None = UNSET,
        limit: int | Unset = UNSET,
        **options: Unpack[CallOptions],
    ) -> Paginator[Link]:
        """Access requests in creation order, optionally of one client only."""
        if not isinstance(client_id, Unset):
            require_id(client_id, "client_id")
        query = ListQuery(
            client_id=client_id,
            search=search,
            type=check_choice(type, ClientType, "type"),
            limit=check_limit(limit),
        )
        return Paginator(self._requester, LINKS_LIST, query, options, self._scope)

    def statuses(self, link_ids: Iterable[str], **options: Unpack[CallOptions]) -> Batches[Link]:
        """The current state of these access requests, as tuples of links, a page at a time.

        ``async for links in session.links.statuses(ids)`` reads a tuple at a
        time; ``await session.links.statuses(ids).collect()`` gives one list.

        Reads list pages of 100 (``links/list``), not one call per link: N
        links of an account that has little else cost ceil(N/100) requests.
        Where the account has many other links, it stops listing once the
        pages that held none of them (each a request that found nothing)
        are as many as the links still missing, and fetches those one by
        one (``links/retrieve``): the cost is then at most about twice the
        smaller of the two ways, and pages that keep finding links are never
        given up for retrieves that would cost more. A link that no longer
        exists is left out: compare the ids you get with those you asked
        for. The order is the server's, not ``link_ids``'.
        """
        wanted = IdSet(require_id(link_id, "link_ids") for link_id in link_ids)
        return Batches(self._statuses(wanted, options))

    async def _statuses(
        self, wanted: IdSet, options: CallOptions
    ) -> AsyncIterator[tuple[Link, ...]]:
        """The pages, then the retrieves; ``wanted`` (on disk past 10,000 ids) is closed after."""
        try:
            async for links in self._read_statuses(wanted, options):
                yield links
        finally:
            wanted.close()

    async def _read_statuses(
        self, wanted: IdSet, options: CallOptions
    ) -> AsyncIterator[tuple[Link, ...]]:
        wasted = 0  # pages that held none of the links still wanted
        listed_all = True
        async for page in self.list(limit=LIST_LIMIT_MAX, **options).pages():
            found = tuple(link for link in page.items if link.link_id in wanted)
            wanted.discard_all(link.link_id for link in found)
            if found:
                yield found
            else:
                wasted += 1
            if not wanted:
                return
            if wasted >= len(wanted):  # the rest, one call each, costs no more than that
                listed_all = False
                break
        if listed_all:
            return  # every page was read: the links not seen are gone
        for chunk in batched(wanted.sorted(), LIST_LIMIT_MAX):
            links: tuple[Link, ...] = ()
            for link_id in chunk:
                try:
                    links += (await self.retrieve(link_id, **options),)
                except NotFoundError:
                    continue
            if links:
                yield links

    async def wait_until_granted(
        self,
        link_id: str,
        *,
        deadline: float = 300.0,
        poll_interval: float = 2.0,
        statuses: Collection[LinkStatus | str] = (LinkStatus.GRANTED,),
        timeout: float | None = None,
    ) -> Link:
        """Poll the link until its status is one of ``statuses`` (default: granted).

        Returns the Link in that status; raises ``WaitTimeoutError`` carrying
        the last Link seen (``None`` if none came back) when ``deadline``
        seconds pass first (as ``RetryPolicy.deadline``, the seconds the whole
        call may take). It bounds the whole wait, each poll included: a poll
        still running when it passes ends the wait too. ``timeout`` is its
        deprecated name (a ``Timeout`` everywhere else).
        """
        require_id(link_id, "link_id")
        if timeout is not None:
            warnings.warn(
                "wait_until_granted(timeout=...) is deprecated: use deadline=",
                DeprecationWarning,
                stacklevel=2,
            )
            deadline = timeout
        seconds = deadline
        wanted = {s.value if isinstance(s, LinkStatus) else s for s in statuses}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        last: Link | None = None
        while (left := deadline - loop.time()) > 0:
            try:
                last = await self.retrieve(
                    link_id, retry=attrs.evolve(self._retry({}), deadline=left)
                )
            except (RequestTimeoutError, RateLimitError):
                if deadline - loop.time() > _TIMER_SLACK:
                    raise  # a failure of its own, not the wait running out
                break
            status = last.status.value if isinstance(last.status, LinkStatus) else last.status
            if status in wanted:
                return last
            await asyncio.sleep(max(min(poll_interval, deadline - loop.time()), 0.0))
        seen = "never read"
        if last is not None:
            status = last.status.value if isinstance(last.status, LinkStatus) else last.status
            seen = f"still {status!r}"
        raise WaitTimeoutError(f"link {link_id} {seen} after {seconds}s", last_seen=last)
