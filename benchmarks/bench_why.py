"""What each way of calling the API gives its user, against the emulator: the behaviour table.

The SDK, raw aiohttp, raw httpx and the client ``openapi-python-client``
generates from our OpenAPI document (``generated_client.py``), each used as
its user would write it: the raw clients and the generated one resend a
create once when the connection drops (what a hand-written client does), and
none of them handles 429 (none is written by hand).

- **rate limit**: 20 creates at once against a limit of 5 requests a second;
- **lost answers**: 20 creates while 30% of the creates are processed and
  their answers then dropped;
- **bad e-mail**: one create whose e-mail is not an address.

For each: clients made, duplicates on the server, calls that failed, 429s
answered, and what the caller was told. Timings are not the point here (see
``bench_layers.py``); the emulator runs in this process.

    python benchmarks/bench_why.py
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import aiohttp  # noqa: E402
import httpx  # noqa: E402

import agencyaccess_async as aa  # noqa: E402
from agencyaccess_async.emulator import EmulatorConfig  # noqa: E402
from agencyaccess_async.testing import RunningEmulator, run_emulator  # noqa: E402

Create = Callable[[str, str], Awaitable[str]]  # name, e-mail -> what the caller was told
COUNT = 20


async def ways(emulator: RunningEmulator, stack: list[Any]) -> dict[str, Create]:
    """Each way of making one client, returning what its caller sees ("ok" or the error)."""
    url, key = emulator.base_url, emulator.api_key
    headers = {"X-Auth": key, "Content-Type": "application/json"}
    session = aa.Session(key, base_url=url)
    aio = aiohttp.ClientSession()
    plain = httpx.AsyncClient()
    stack.extend([session.aclose, aio.close, plain.aclose])

    async def sdk(name: str, email: str) -> str:
        try:
            await session.clients.create(name=name, email=email)
        except aa.AgencyAccessError as error:
            return f"{type(error).__name__}: {error}"
        return "ok"

    async def once_more(send: Callable[[], Awaitable[tuple[int, dict[str, Any]]]]) -> str:
        for attempt in range(2):  # a dropped connection: send it again, once
            try:
                status, envelope = await send()
            except (aiohttp.ClientError, httpx.TransportError) as error:
                if attempt:
                    return f"{type(error).__name__}"
                continue
            return "ok" if not envelope.get("error") else f"HTTP {status}: {envelope.get('msg')}"
        return "unreachable"

    async def raw_aiohttp(name: str, email: str) -> str:
        async def send() -> tuple[int, dict[str, Any]]:
            body = json.dumps({"name": name, "email": email})
            async with aio.post(f"{url}/api/clients/create", data=body, headers=headers) as r:
                return r.status, json.loads(await r.read())

        return await once_more(send)

    async def raw_httpx(name: str, email: str) -> str:
        async def send() -> tuple[int, dict[str, Any]]:
            r = await plain.post(f"{url}/api/clients/create",
                                 content=json.dumps({"name": name, "email": email}), headers=headers)  # fmt: skip
            return r.status_code, json.loads(r.content)

        return await once_more(send)

    found: dict[str, Create] = {"SDK": sdk, "raw aiohttp": raw_aiohttp, "raw httpx": raw_httpx}
    try:
        from generated_client import generate

        api = generate(Path(tempfile.mkdtemp(prefix="generated-")))
    except (ImportError, OSError) as error:
        print(f"(no generated client: {error})")
        return found
    generated = api.client.AuthenticatedClient(
        base_url=url, token=key, prefix="", auth_header_name="X-Auth"
    )
    stack.append(generated.__aexit__)
    await generated.__aenter__()

    async def through_generated(name: str, email: str) -> str:
        for attempt in range(2):
            try:
                made = await api.clients_create.asyncio(
                    client=generated, body=api.NewClient(name=name, email=email)
                )
            except httpx.TransportError as error:
                if attempt:
                    return type(error).__name__
                continue
            return "ok" if made is not None and not isinstance(made, api.Error) else repr(made)
        return "unreachable"

    found["generated (httpx)"] = through_generated
    return found


async def scenario(kind: str, way: str) -> dict[str, Any]:
    """One scenario for one way, on a fresh emulator."""
    async with run_emulator(EmulatorConfig(random_seed=7)) as emulator:  # the same drops
        stack: list[Any] = []
        try:
            create = (await ways(emulator, stack))[way]
            if kind == "rate limit":
                await emulator.admin.set_rate_limit(5, window=1.0)
            if kind == "lost answers":
                await emulator.admin.set_faults(dropAfter=0.3, routes=["clients.create"])
            started = time.perf_counter()
            if kind == "bad e-mail":
                told = [await create("Acme", "not-an-address")]
            else:
                told = await asyncio.gather(
                    *(create(f"Client {i}", f"c{i}@example.test") for i in range(COUNT))
                )
            elapsed = time.perf_counter() - started
            counters = await emulator.admin.counters()
        finally:
            for close in reversed(stack):
                await close() if close.__name__ != "__aexit__" else await close(None, None, None)
    made = counters["records"]["clients"]
    wanted = 0 if kind == "bad e-mail" else COUNT
    too_many = sum(by.get("429", 0) for by in counters["requests"].values())
    failed = [t for t in told if t != "ok"]
    return {
        "made": made, "duplicates": max(0, made - wanted), "failed": len(failed),
        "429s": too_many, "told": failed[0] if failed else "ok", "elapsed": elapsed,
    }  # fmt: skip


async def main() -> None:
    kinds = ["rate limit", "lost answers", "bad e-mail"]
    async with run_emulator() as probe:
        names = list(await ways(probe, stack := []))
        for close in reversed(stack):
            await close() if close.__name__ != "__aexit__" else await close(None, None, None)
    print("| scenario | client | made | duplicates | failed calls | 429s | the caller was told |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    for kind in kinds:
        for way in names:
            r = await scenario(kind, way)
            told = r["told"].replace("|", "/")[:110]
            print(f"| {kind} | {way} | {r['made']} | {r['duplicates']} | {r['failed']} | "
                  f"{r['429s']} | {told} |")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
