"""Bulk onboarding throughput and memory: rows/s and peak RSS.

Runs each case in a fresh process so that peak RSS belongs to that case:
100,000 and 10,000 rows through a fast in-memory transport (to see whether
memory stays flat as rows grow), and 20,000 rows against the emulator
running in another process. Goal: peak RSS <= 150 MB at 100,000 rows, and
within 10% between 10,000 and 100,000.

The emulator cases (raw aiohttp doing the same two creates per row by hand,
the SDK without a journal, the SDK with one) run interleaved ``--runs`` times,
in a rotating order, each against an emptied emulator; ratios are medians of
per-run ratios with their min-max. The emulator runs pinned to CPU 0 and each
case to CPU 1, as in bench_layers: a client's CPU then costs its own
throughput, not the server's.

    python benchmarks/bench_bulk.py [--mock-rows 10000 100000] [--emulator-rows 20000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from agencyaccess_async.lowlevel import Request, Response
from agencyaccess_async.testing import MockTransport

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_throughput import pinned

from agencyaccess_async import NewClient, OnboardItem, RequestedServices, Session

STAMP = "2026-11-28T05:00:00.000Z"
SERVICES = (
    RequestedServices.build()
    .add("google", "googleAds", access_level="standard", agency_account_id="acct_google_1")
    .add("meta", "metaAds", access_level="admin", agency_account_id="acct_meta_1")
    .build()
)

#: The emulator here is started with this admin token (its admin API needs it).
ADMIN_TOKEN = "bench-admin-token"


def rows(n: int) -> Iterator[OnboardItem]:
    for i in range(n):
        yield OnboardItem(NewClient(name=f"Client {i}", email=f"c{i}@example.test"), key=f"row-{i}")


def fast_api() -> MockTransport:
    """An in-memory API answering creates instantly with contract-shaped bodies."""
    ids = itertools.count()

    def handler(request: Request) -> Response:
        body = json.loads(request.body)
        n = next(ids)
        if request.url.path.endswith("/list"):  # keyed rows are looked up before they are made
            return Response.json({"error": False, "data": [], "nextCursor": None})
        if request.url.path.endswith("/clients/create"):
            data = {"clientID": f"cl_{n}", "name": body["name"], "email": body["email"], "company": None,
                    "website": None, "type": "client", "language": "en", "metadata": body.get("metadata", {}),
                    "createdAt": STAMP, "updatedAt": STAMP}  # fmt: skip
        else:
            data = {"linkID": f"ln_{n}", "clientID": body["clientID"], "inviteUrl": f"https://app.test/i/{n}",
                    "status": "pending", "requestedServices": body["requestedServices"], "grants": [],
                    "intakeForm": False, "sendEmail": False, "thankYouMessage": None, "redirectURL": None,
                    "intakeFormStatus": "notRequested", "source": None, "createdAt": STAMP, "updatedAt": STAMP}  # fmt: skip
        return Response.json({"error": False, "data": data})

    return MockTransport(handler, record=False)


async def raw_onboard(n: int, base_url: str, key: str) -> float:
    """What a user would write by hand: per row, create the client, then its link; rows/s."""
    import aiohttp

    headers = {"X-Auth": key, "Content-Type": "application/json"}
    services = SERVICES.to_json()
    rows_left = iter(range(n))
    connector = aiohttp.TCPConnector(limit=100)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def create(path: str, body: dict[str, object]) -> dict[str, str]:
            async with http.post(
                base_url + path, data=json.dumps(body).encode(), headers=headers
            ) as r:
                envelope = json.loads(await r.read())
            if envelope["error"]:
                raise RuntimeError(envelope["msg"])
            return envelope["data"]  # type: ignore[no-any-return]

        async def worker() -> None:
            for i in rows_left:
                client = await create(
                    "/api/clients/create", {"name": f"Client {i}", "email": f"c{i}@example.test"}
                )
                link = await create(
                    "/api/links/create",
                    {"clientID": client["clientID"], "requestedServices": services},
                )
                assert link["inviteUrl"]

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(64)))
        return n / (time.perf_counter() - started)


async def child(kind: str, n: int, base_url: str | None, key: str | None) -> dict[str, float]:
    if kind == "raw":
        assert base_url is not None
        assert key is not None
        rate = await raw_onboard(n, base_url, key)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return {"rows": n, "rows_per_s": rate, "peak_rss_mb": peak, "requests": 2 * n}
    if kind == "mock":
        session = Session(
            "bench-key", base_url="https://api.test", transport=fast_api(), max_concurrency=64
        )
    else:
        session = Session(key, base_url=base_url, max_concurrency=64)
    with tempfile.TemporaryDirectory() as folder:
        journal = Path(folder, "bench.journal") if kind == "emulator+journal" else None
        async with session:
            started = time.perf_counter()
            # Without a journal, keyed rows are looked up before each create (a
            # re-run cell must not duplicate): the emulator case is unkeyed.
            items = (item.client for item in rows(n)) if kind == "emulator" else rows(n)
            run = session.bulk.onboard(items, services=SERVICES, concurrency=64, journal=journal)
            summary = await run.run()
            elapsed = time.perf_counter() - started
        assert summary.outcomes.get("created") == n, summary
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "rows": n,
        "rows_per_s": n / elapsed,
        "peak_rss_mb": peak_mb,
        "requests": summary.requests,
    }


def reset(base_url: str) -> None:
    """Empty the emulator, so that every case meets the same one.

    It keeps every record, and a store grown by the earlier cases made the
    later ones slower (its garbage collector had more to walk): runs of the
    same case spread from 0.63 to 0.92 of another.
    """
    request = urllib.request.Request(
        f"{base_url}/_emulator/reset", data=b"{}", method="POST",
        headers={"X-Emulator-Admin": ADMIN_TOKEN},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as answer:
        answer.read()


def run_child(kind: str, n: int, base_url: str = "", key: str = "") -> dict[str, float]:
    command = [*pinned(1), sys.executable, __file__, "--child", kind, str(n), base_url, key]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return dict(json.loads(output.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mock-rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--emulator-rows", type=int, default=20_000)
    parser.add_argument(
        "--runs", type=int, default=3, help="interleaved runs of the emulator cases"
    )
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, n, base_url, key = args.child
        print(json.dumps(asyncio.run(child(kind, int(n), base_url or None, key or None))))
        return
    print(f"{'case':<28} {'rows':>8} {'rows/s':>9} {'peak RSS MB':>12}")
    mock = {}
    for n in args.mock_rows:
        mock[n] = result = run_child("mock", n)
        print(
            f"{'in-memory transport':<28} {n:>8} {result['rows_per_s']:>9.0f} {result['peak_rss_mb']:>12.1f}"
        )
    if len(mock) >= 2:
        small, large = mock[min(mock)], mock[max(mock)]
        growth = large["peak_rss_mb"] / small["peak_rss_mb"] - 1
        print(f"RSS growth {min(mock)} -> {max(mock)} rows: {growth:+.1%} (goal within ±10%)")
    if args.emulator_rows:
        emulator = subprocess.Popen(
            [*pinned(0), sys.executable, "-m", "agencyaccess_async", "emulator", "--port", "0", "--api-key", "bench", "--admin-token", ADMIN_TOKEN],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert emulator.stdout is not None
            base_url = emulator.stdout.readline().split()[-1]
            speed: dict[str, list[float]] = {"raw": [], "emulator": [], "emulator+journal": []}
            kinds = list(speed)
            for run in range(args.runs):  # interleaved, so drift hits every case alike
                shift = run % len(kinds)
                for kind in kinds[shift:] + kinds[:shift]:
                    reset(base_url)
                    result = run_child(kind, args.emulator_rows, base_url, "bench")
                    speed[kind].append(result["rows_per_s"])
                    label = "raw aiohttp by hand" if kind == "raw" else kind
                    print(
                        f"{label + ' (other process)':<28} {args.emulator_rows:>8} {result['rows_per_s']:>9.0f} {result['peak_rss_mb']:>12.1f}"
                    )
            for name, (top, bottom), goal in (
                ("journal / no journal", ("emulator+journal", "emulator"), 0.85),
                ("journal / raw aiohttp", ("emulator+journal", "raw"), 0.60),
            ):
                ratios = [a / b for a, b in zip(speed[top], speed[bottom], strict=True)]
                print(
                    f"{name}: {statistics.median(ratios):.2f} "
                    f"({min(ratios):.2f}-{max(ratios):.2f} over {len(ratios)} runs; goal >= {goal})"
                )
        finally:
            emulator.terminate()
            emulator.wait()


if __name__ == "__main__":
    main()
