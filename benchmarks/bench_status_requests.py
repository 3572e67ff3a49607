"""How many requests ``links.statuses`` makes for N links that fill an account's pages.

A MockTransport account of N links, listed in pages of 100 oldest first, and
a statuses call for all N: printed, the requests by operation against the
minimum of ceil(N/100) pages. (The rule that once gave up near the end made
9,863 requests for 499,715 links: 4,948 pages and 4,915 retrieves.)

    python benchmarks/bench_status_requests.py --links 499715
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
from collections import Counter

import agencyaccess_async as aa
from agencyaccess_async.lowlevel import Request, Response
from agencyaccess_async.testing import MockTransport


def account(ids: list[str], served: Counter[str]) -> MockTransport:
    def handler(request: Request) -> Response:
        served[request.operation] += 1
        body = json.loads(request.body)
        start = int(body.get("cursor") or 0)
        end = start + body["limit"]
        page = [{"linkID": link_id, "clientID": "cl_1"} for link_id in ids[start:end]]
        cursor = str(end) if end < len(ids) else None
        return Response.json({"error": False, "data": page, "nextCursor": cursor})

    return MockTransport(handler, record=False)


async def main(links: int) -> None:
    ids = [f"ln_{i}" for i in range(links)]
    served: Counter[str] = Counter()
    async with aa.Session("k", base_url="http://api.test", transport=account(ids, served)) as s:
        seen = sum([len(page) async for page in s.links.statuses(ids)])
    print(f"{links} links: {seen} read, {dict(served)}; minimum {math.ceil(links / 100)} pages")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--links", type=int, default=499_715)
    asyncio.run(main(parser.parse_args().links))
