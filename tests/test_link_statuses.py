"""``links.statuses``: many links' states in list pages, never much over the cheaper way."""

from __future__ import annotations

from collections import Counter

import pytest

from agencyaccess_async import NewClient, RequestedServices, Session
from agencyaccess_async.lowlevel import Request, Response
from agencyaccess_async.testing import MockTransport, RunningEmulator

from .helpers import body_of, link_json, ok


async def make_links(session: Session, services: RequestedServices, n: int, tag: str) -> list[str]:
    rows = [NewClient(name=f"{tag}{i}", email=f"{tag}{i}@x.test") for i in range(n)]
    run = session.bulk.onboard(rows, services=services, find_existing=False)
    return [r.value.link_id for r in await run.collect() if r.ok and r.value.link_id]


async def read_statuses(
    emulator: RunningEmulator, session: Session, ids: list[str]
) -> tuple[dict[str, str], int]:
    """(link id -> overall status, requests used)."""
    before = (await emulator.admin.counters())["total"]
    seen: dict[str, str] = {}
    async for links in session.links.statuses(ids):
        seen.update((link.link_id, link.overall_status) for link in links)
    return seen, (await emulator.admin.counters())["total"] - before


@pytest.mark.socket
async def test_statuses_reads_pages_and_derives_rejected(
    agencyaccess_emulator: RunningEmulator,
    agencyaccess_session: Session,
    services: RequestedServices,
) -> None:
    ids = await make_links(agencyaccess_session, services, 250, "a")
    first = next(iter(services))
    await agencyaccess_emulator.admin.grant(ids[0], first.platform, first.service)
    await agencyaccess_emulator.admin.grant(ids[1], first.platform, first.service, "rejected")
    seen, used = await read_statuses(agencyaccess_emulator, agencyaccess_session, ids)
    assert set(seen) == set(ids)
    assert used == 3  # 250 links in pages of 100
    assert seen[ids[0]] in ("partial", "granted")
    assert seen[ids[1]] == "rejected"
    assert seen[ids[2]] == "pending"


@pytest.mark.socket
async def test_a_few_links_among_many_switch_to_retrieve(
    agencyaccess_emulator: RunningEmulator,
    agencyaccess_session: Session,
    services: RequestedServices,
) -> None:
    """Two links made after 500 others: listing stops once two retrieves cost less."""
    await make_links(agencyaccess_session, services, 500, "other")
    wanted = await make_links(agencyaccess_session, services, 2, "wanted")
    seen, used = await read_statuses(
        agencyaccess_emulator, agencyaccess_session, [*wanted, "ln_gone"]
    )
    assert set(seen) == set(wanted)  # the unknown id is left out
    assert used <= 3 + 3  # three pages listed, then three retrieves (one a 404)


class _Account:
    """A MockTransport handler: an account's links, listed oldest first in pages, and retrieved.

    ``links`` is every link id in list order; ``served`` counts each operation.
    """

    def __init__(self, links: list[str]) -> None:
        self.links = links
        self.served: Counter[str] = Counter()

    def __call__(self, request: Request) -> Response:
        self.served[request.operation] += 1
        body = body_of(request)
        if request.operation == "links.retrieve":
            return ok(link_json(body["linkID"]))
        start = int(body.get("cursor") or 0)
        end = start + body["limit"]
        page = [link_json(link_id) for link_id in self.links[start:end]]
        return ok(page, nextCursor=str(end) if end < len(self.links) else None)


async def _statuses_over(account: _Account, wanted: list[str]) -> set[str]:
    async with Session("k", base_url="http://api.test", transport=MockTransport(account)) as s:
        return {link.link_id async for links in s.links.statuses(wanted) for link in links}


async def test_links_filling_every_page_are_read_in_pages_only() -> None:
    """20,000 links, the whole account: ceil(N/100) pages and not one retrieve.

    The earlier rule (switch once the pages read outnumber the links still
    missing) gave up at page 199 for 100 retrieves: 299 requests, not 200.
    """
    ids = [f"ln_{i}" for i in range(20_000)]
    account = _Account(ids)
    assert await _statuses_over(account, ids) == set(ids)
    assert account.served == {"links.list": 200}


@pytest.mark.parametrize(("empty_pages", "expected"), [
    (2, {"links.list": 3}),  # two pages without them: fewer than the three missing, go on
    (3, {"links.list": 3, "links.retrieve": 3}),  # three: as many as missing, retrieve them
])  # fmt: skip
async def test_the_switch_to_retrieves_comes_when_empty_pages_match_the_links_missing(
    empty_pages: int, expected: dict[str, int]
) -> None:
    """Three links after ``empty_pages`` pages of others: the boundary of the switch."""
    others = [f"ln_other_{i}" for i in range(100 * empty_pages)]
    wanted = ["ln_a", "ln_b", "ln_c"]
    account = _Account([*others, *wanted, *(f"ln_more_{i}" for i in range(500))])
    assert await _statuses_over(account, wanted) == set(wanted)
    assert account.served == expected
