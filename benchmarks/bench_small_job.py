"""A small job on a large account: what finding its existing records costs, swept or looked up.

An in-process emulator holds --others clients, each with its access
request. Then two jobs of --rows rows each (--found of them onboarded before,
their journal lost) are onboarded with no journal: one given as an iterator, with
no ``total`` (the sweep lists every page of clients and links), one as a list,
whose length is its ``total`` (past total/4 pages of either kind, each row is
looked up instead). Printed: the list requests each used (the emulator's own
count) and the outcomes.

    python benchmarks/bench_small_job.py --others 20000 --rows 50 --found 10
"""

from __future__ import annotations

import argparse
import asyncio

import agencyaccess_async as aa
from agencyaccess_async._bulk import OnboardItem
from agencyaccess_async.testing import RunningEmulator, run_emulator


async def lists(emulator: RunningEmulator) -> int:
    """List pages served so far, of clients and links."""
    requests = (await emulator.admin.counters())["requests"]
    return sum(sum(requests.get(op, {}).values()) for op in ("clients.list", "links.list"))


async def main(others: int, rows: int, found: int) -> None:
    services = (
        aa.RequestedServices.build()
        .add("google", "googleAds", access_level="standard", agency_account_id="acct_google_1")
        .build()
    )
    async with run_emulator() as emulator, emulator.session(max_concurrency=64) as session:
        background = [aa.NewClient(name=f"O{i}", email=f"o{i}@x.test") for i in range(others)]
        await session.bulk.onboard(
            background, services=services, find_existing=False, concurrency=64
        ).run()
        print(f"{rows} rows ({found} made before) on an account of about {others} clients")
        for total, label in ((None, "swept (no total)"), (rows, f"total={rows}")):
            tag = "A" if total is None else "B"  # each run its own rows, in the same shape
            job = [
                OnboardItem(
                    aa.NewClient(name=f"{tag}{i}", email=f"{tag}{i}@x.test"), key=f"{tag}-{i}"
                )
                for i in range(rows)
            ]
            await session.bulk.onboard(job[:found], services=services, find_existing=False).run()
            before = await lists(emulator)
            rows_given = iter(job) if total is None else job  # a list's length is its total
            summary = await session.bulk.onboard(rows_given, services=services, total=total).run()
            used = await lists(emulator) - before
            print(f"{label:<18} {used:>6} list requests  {summary.outcomes}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--others", type=int, default=20_000)
    parser.add_argument("--rows", type=int, default=50)
    parser.add_argument("--found", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.others, args.rows, args.found))
