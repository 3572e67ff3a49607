"""Count the package's own Python functions that one warm ``clients.create`` runs.

The simplicity goal of the request path: at most 20 distinct package
functions per warm create. Counted with ``sys.setprofile`` over one create
against a purpose-written loopback server (aiohttp.web, outside the
package), after a few warm-up creates; the emulator is not used, so its
code is not counted. Counted twice: with ``tracing=False`` (the request
path alone, as without opentelemetry-api) and with OpenTelemetry on (its
API's no-op tracer unless an SDK is configured).

    python benchmarks/count_calls.py            # distinct functions and calls
    python benchmarks/count_calls.py --list     # and which ones
    python benchmarks/count_calls.py --stdlib   # with the stdlib json codec
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

import agencyaccess_async as aa

PACKAGE = str(Path(aa.__file__).resolve().parent)

CLIENT = {
    "clientID": "cl_1", "name": "Acme", "email": "ops@acme.example", "company": None,
    "website": None, "type": "client", "language": "en", "metadata": {},
    "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:00:00.000Z",
}  # fmt: skip


async def answer(request: web.Request) -> web.Response:
    body = await request.json()
    return web.json_response({"error": False, "data": {**CLIENT, "metadata": body["metadata"]}})


async def main(show: bool, tracing: bool) -> None:
    app = web.Application()
    app.router.add_post("/api/clients/create", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    calls: collections.Counter[str] = collections.Counter()

    def profile(frame: Any, event: str, arg: Any) -> None:
        code = frame.f_code
        if event == "call" and code.co_filename.startswith(PACKAGE):
            where = code.co_filename[len(PACKAGE) + 1 :]
            calls[f"{where}:{code.co_firstlineno} {code.co_name}"] += 1

    try:
        async with aa.Session(
            "key", base_url=f"http://127.0.0.1:{port}", tracing=tracing
        ) as session:
            for _ in range(5):
                await session.clients.create(name="Acme", email="ops@acme.example")
            sys.setprofile(profile)
            await session.clients.create(name="Acme", email="ops@acme.example")
            sys.setprofile(None)
    finally:
        await runner.cleanup()
    modules = {name.split(":")[0] for name in calls}
    print(
        f"one warm clients.create: {len(calls)} package functions, "
        f"{sum(calls.values())} calls, in {len(modules)} modules (codec: {aa._json.CODEC}, "
        f"tracing {'on' if tracing else 'off'})"
    )
    if show:
        for name, count in sorted(calls.items()):
            print(f"  {count:3d}  {name}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="list the functions")
    parser.add_argument("--stdlib", action="store_true", help="the stdlib json codec")
    args = parser.parse_args()
    if args.stdlib:
        from agencyaccess_async import _json

        _json.use_stdlib()
    for tracing in (False, True):
        asyncio.run(main(args.list, tracing))
