"""The emulator's admin API needs its token, not a loopback peer: a tunnel proves nothing.

Behind a tunnel or a reverse proxy on the same host, every request comes
from 127.0.0.1. A purpose-written proxy stands in for the tunnel: through it,
the admin API refuses anyone without the token the emulator printed, while
the public API and the invite page keep working; the testing kit, which has
the token, works unchanged.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

import agencyaccess_async as aa
from agencyaccess_async.testing import RunningEmulator

from .helpers import serve_app

pytestmark = pytest.mark.socket


@pytest.fixture
async def tunnel(agencyaccess_emulator: RunningEmulator) -> AsyncIterator[str]:
    """A loopback reverse proxy to the emulator, as a tunnel's local end would be."""
    upstream = aiohttp.ClientSession()

    async def forward(request: web.Request) -> web.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        async with upstream.request(
            request.method, agencyaccess_emulator.base_url + request.path_qs,
            data=await request.read(), headers=headers, allow_redirects=False,
        ) as answer:  # fmt: skip
            return web.Response(
                status=answer.status, body=await answer.read(),
                headers={"Content-Type": answer.headers.get("Content-Type", "text/plain")},
            )  # fmt: skip

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    try:
        async with serve_app(app) as url:
            yield url
    finally:
        await upstream.close()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "keys", {}),
        ("GET", "state", None),
        ("GET", "counters", None),
        ("POST", "faults", {"errorRates": {"503": 1.0}}),
        ("POST", "reset", {}),
    ],
)
async def test_through_a_tunnel_the_admin_api_refuses_anyone_without_the_token(
    tunnel: str, agencyaccess_emulator: RunningEmulator, method: str, path: str, body: object
) -> None:
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {"X-Emulator-Admin": "a-guess"}):
            async with http.request(
                method, f"{tunnel}/_emulator/{path}", json=body, headers=headers
            ) as answer:
                assert answer.status == 403
                assert "X-Emulator-Admin" in (await answer.json())["msg"]
    # Nothing changed: no fault switched on, the seeded key still works, through the tunnel too.
    async with aa.Session(agencyaccess_emulator.api_key, base_url=tunnel) as session:
        assert (await session.clients.list().page()).items == ()
    assert (await agencyaccess_emulator.admin.state())["keys"] == 1


async def test_the_kit_and_a_token_holder_are_let_through(
    tunnel: str, agencyaccess_emulator: RunningEmulator
) -> None:
    key = await agencyaccess_emulator.admin.create_key()  # the kit has the token
    token = agencyaccess_emulator.server.admin_token
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{tunnel}/_emulator/state", headers={"X-Emulator-Admin": token}) as answer,
    ):
        assert answer.status == 200
        assert (await answer.json())["data"]["keys"] == 2
    async with aa.Session(key, base_url=tunnel) as session:
        await session.clients.create(name="Acme", email="ops@acme.test")


@pytest.mark.process
async def test_the_emulator_command_prints_its_admin_token_and_accepts_one() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "agencyaccess_async", "emulator", "--port", "0",
        "--admin-token", "chosen-token", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        lines = [(await asyncio.wait_for(process.stdout.readline(), 20)).decode()
                 for _ in range(5)]  # fmt: skip
        assert "export AGENCYACCESS_EMULATOR_ADMIN_TOKEN=chosen-token\n" in lines
        base_url = lines[1].strip().split("=", 1)[1]
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base_url}/_emulator/state") as refused:
                assert refused.status == 403
            headers = {"X-Emulator-Admin": "chosen-token"}
            async with http.get(f"{base_url}/_emulator/state", headers=headers) as allowed:
                assert allowed.status == 200
    finally:
        process.terminate()
        await process.wait()
