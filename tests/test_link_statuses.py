"""``links.statuses``: many links' states in list pages, never much over the cheaper way."""

from __future__ import annotations

import pytest

from agencyaccess_async import NewClient, RequestedServices, Session
from agencyaccess_async.testing import RunningEmulator

pytestmark = pytest.mark.socket


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
