"""What a type checker sees of the public API: checked by mypy --strict (and pyright) in CI.

Not a test module (pytest does not collect it): nothing here runs, every
line is a claim about a static type.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from typing_extensions import assert_type

import agencyaccess_async as aa
from agencyaccess_async.types import ItemResult, Onboarded, Page, Paginator


async def clients_and_pages(session: aa.Session) -> None:
    client = await session.clients.create(
        name="Acme", email="ops@acme.example", type="prospect", language="es"
    )
    assert_type(client, aa.Client)
    assert_type(client.client_id, str)
    assert_type(client.created_at, datetime | None)
    paginator = session.clients.list(type="client")
    assert_type(paginator, Paginator[aa.Client])
    page = await paginator.page()
    assert_type(page, Page[aa.Client])
    for item in page:
        assert_type(item, aa.Client)
    async for record in paginator:
        assert_type(record, aa.Client)
    assert_type(client.to_dict(mode="json"), dict[str, Any])


async def links_and_errors(session: aa.Session) -> None:
    link = await session.links.create("cl_1", services={"google": {}}, extra_headers={"X-A": "1"})
    assert_type(link.invite_url, str | None)
    try:
        await session.links.wait_until_granted(link.link_id)
    except aa.WaitTimeoutError as error:
        assert_type(error.last_seen, aa.Link | None)
    view = session.with_options(timeout=aa.Timeout(total=5))
    assert_type(await view.links.retrieve(link.link_id), aa.Link)
    answer = aa.error_response(aa.NotFoundError("gone", status=404))
    assert_type(answer, tuple[int, dict[str, Any], dict[str, str]])


async def bulk_results_narrow_on_ok(session: aa.Session, services: aa.RequestedServices) -> None:
    rows = [aa.NewClient(name="Acme", email="ops@acme.example", type="client")]
    async for result in session.bulk.onboard(rows, services=services):
        if isinstance(result, aa.Succeeded):  # narrows for every checker
            assert_type(result.value, Onboarded)
            assert_type(result.value.invite_url, str | None)
        else:
            assert_type(result.error, BaseException)
        if result.ok:  # mypy narrows on the Literal[True] field; pyright on "is True" only
            assert_type(result.value, Onboarded)  # pyright: ignore[reportAssertTypeFailure]
        if result.ok is True:
            assert_type(result.value, Onboarded)
    created = await session.bulk.create_clients(rows).collect()
    assert_type(created, list[ItemResult[aa.Client]])
