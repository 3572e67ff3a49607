"""A notebook session, as a script: reprs, the services builder, a bulk run with progress.

In Jupyter or IPython, paste the body of ``main`` into cells: top-level
``await`` works there as written. As a script, ``asyncio.run`` runs it.

    python examples/notebook.py      # starts its own emulator: no account needed
"""

from __future__ import annotations

import asyncio

import agencyaccess_async as aa
from agencyaccess_async.testing import run_emulator
from agencyaccess_async.types import BulkProgress


async def main() -> None:
    """Explore the API against a local emulator."""
    async with run_emulator() as emulator, emulator.session() as session:
        client = await session.clients.create(name="Acme Bakery", email="ops@acme.example")
        print(
            client
        )  # Client(client_id='cl_…', name='Acme Bakery', email='ops@acme.example', type='client')

        services = (
            aa.RequestedServices.build()
            .add(
                "google",
                "googleAnalytics",
                access_level="viewer",
                agency_account_id="acct_google_1",
            )
            .add("shopify", "storeCollaborator", agency_account_id="acct_shopify_1")
            .build()
        )
        print(
            services
        )  # RequestedServices(google.googleAnalytics=viewer, shopify.storeCollaborator)

        link = await session.links.create(client.client_id, services=services)
        print(link)  # Link(link_id='ln_…', client_id='cl_…', status='pending', granted=0/2, …)

        # Act as the client on the invite page, then watch the status change.
        await emulator.admin.grant(link.link_id, "google", "googleAnalytics")
        print((await session.links.retrieve(link.link_id)).status)  # LinkStatus.PARTIAL

        # A bulk run: 200 clients, each with an access request, with a progress line.
        rows = [
            aa.NewClient(name=f"Client {i}", email=f"client{i}@example.test") for i in range(200)
        ]

        def progress(p: BulkProgress) -> None:
            if p.done % 50 == 0:
                print(f"  {p.done}/{p.total} onboarded, {p.rate:.0f} rows/s")

        run = session.bulk.onboard(rows, services=services, total=len(rows), progress=progress)
        results = await run.collect()
        print(run.summary)
        print(results[0].value.invite_url if results[0].value else results[0].error)


if __name__ == "__main__":
    asyncio.run(main())
