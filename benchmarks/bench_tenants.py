"""Many tenants in one process: bytes per tenant view, sockets, and Redis connections.

A platform holds one key per agency. The recipe is one Session per process
and ``session.with_options(api_key=tenant_key)`` per request; this measures
what that costs, against an emulator (its own process) with ``--tenants``
keys, each of its own agency:

- **bytes per tenant view**: ``tracemalloc`` over making ``--tenants`` views
  (each with its own key, and so its own limiter in the Session's registry);
- **sockets**: the client process's open sockets after every tenant made a
  call, all at once (``/proc/self/fd``); bounded by the Session's pool;
- **Redis connections** (with ``--redis``): ``--processes`` processes, each
  one Session with a ``RedisLimiter`` and a view per tenant making a call,
  counted by redis-server's own ``INFO clients``.

Goals: <= 8 KiB per view; sockets <= max_concurrency plus a few, whatever the
number of tenants; Redis connections bounded per process, not per tenant.

    python benchmarks/bench_tenants.py [--tenants 1000] [--processes 4] [--redis]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import tracemalloc
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_shared_limit import ADMIN, ADMIN_TOKEN, start_redis  # noqa: E402

CLI = [sys.executable, "-m", "agencyaccess_async"]
MAX_CONCURRENCY = 32


def sockets() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


def admin(base_url: str, path: str, body: dict[str, object]) -> object:
    request = urllib.request.Request(
        f"{base_url}/_emulator/{path}", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **ADMIN},
    )  # fmt: skip
    with urllib.request.urlopen(request) as answer:
        return json.load(answer)["data"]


async def tenant_calls(base_url: str, keys: list[str], redis_url: str | None) -> dict[str, float]:
    import agencyaccess_async as aa

    limiter = None
    if redis_url:
        limiter = aa.RedisLimiter.from_url(redis_url, max_concurrency=MAX_CONCURRENCY)
    async with aa.Session(
        keys[0], base_url=base_url, max_concurrency=MAX_CONCURRENCY, limiter=limiter,
        max_tenants=len(keys) + 1,
    ) as session:  # fmt: skip
        await session.clients.list().page()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        views = [session.with_options(api_key=key, tenant=f"t{n}") for n, key in enumerate(keys)]
        per_view = (tracemalloc.get_traced_memory()[0] - before) / len(views)
        tracemalloc.stop()
        await asyncio.gather(*(view.clients.list().page() for view in views))
        open_sockets = sockets()
    return {"bytes per view": per_view, "sockets": open_sockets}


def one_process(args: argparse.Namespace) -> None:
    keys = json.loads(Path(args.keys_file).read_text())
    result = asyncio.run(tenant_calls(args.child, keys, args.redis_url))
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--redis", action="store_true", help="also the RedisLimiter case")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--keys-file", help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        one_process(args)
        return
    emulator = subprocess.Popen(
        [*CLI, "emulator", "--port", "0", "--admin-token", ADMIN_TOKEN], stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    assert emulator.stdout is not None
    base_url = emulator.stdout.readline().strip().rsplit(" ", 1)[1]
    redis = None
    try:
        keys = [str(admin(base_url, "keys", {"agency": f"agency-{n}"})["key"])  # type: ignore[index]
                for n in range(args.tenants)]  # fmt: skip
        keys_file = Path(f"/tmp/bench-tenants-{os.getpid()}.json")
        keys_file.write_text(json.dumps(keys))
        command = [sys.executable, __file__, "--child", base_url, "--keys-file", str(keys_file)]
        local = json.loads(subprocess.run(command, capture_output=True, text=True,
                                          check=True).stdout.splitlines()[-1])  # fmt: skip
        print(f"{args.tenants} tenants, one Session (max_concurrency={MAX_CONCURRENCY}):")
        print(f"  bytes per tenant view   {local['bytes per view']:8.0f}   goal <= 8192")
        print(
            f"  open sockets            {local['sockets']:8.0f}   goal <= {MAX_CONCURRENCY} + a few"
        )
        if args.redis and shutil.which("redis-server"):
            redis, url = start_redis("redis-server")
            port = int(url.rsplit(":", 1)[1].split("/")[0])
            jobs = [
                subprocess.Popen([*command, "--redis-url", url], stdout=subprocess.PIPE, text=True)
                for _ in range(args.processes)
            ]
            peak = 0
            while any(job.poll() is None for job in jobs):
                info = subprocess.run(["redis-cli", "-p", str(port), "info", "clients"],
                                      capture_output=True, text=True).stdout  # fmt: skip
                for line in info.splitlines():
                    if line.startswith("connected_clients:"):
                        peak = max(peak, int(line.split(":")[1]) - 1)  # less redis-cli itself
                time.sleep(0.05)
            for job in jobs:
                job.communicate()
            print(f"  Redis connections, {args.processes} processes x {args.tenants} tenants: "
                  f"peak {peak}")  # fmt: skip
        keys_file.unlink()
    finally:
        emulator.terminate()
        emulator.wait(10)
        if redis is not None:
            redis.terminate()
            redis.wait(10)


if __name__ == "__main__":
    main()
