"""The emulator stays bounded against junk and slow clients: counters, timeouts, a connection cap.

Raw sockets on loopback play the clients a hostile burst is made of: unknown
paths by the hundred, a body cut short, headers sent and never finished, a
body never finished, more connections than the cap.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest

from agencyaccess_async.emulator import EmulatorConfig
from agencyaccess_async.testing import RunningEmulator, run_emulator

pytestmark = pytest.mark.socket


@pytest.fixture
async def strict_emulator() -> AsyncIterator[RunningEmulator]:
    """An emulator with short read timeouts and a small connection cap."""
    async with run_emulator(EmulatorConfig(read_timeout=0.3, max_connections=8)) as running:
        yield running


async def _connect(base_url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    return await asyncio.open_connection(host, int(port))


async def _closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection (bounded: 10 s)."""
    return await asyncio.wait_for(reader.read(), 10)


async def test_unknown_paths_share_one_counter(agencyaccess_emulator: RunningEmulator) -> None:
    async with aiohttp.ClientSession() as http:
        for n in range(300):
            async with http.post(f"{agencyaccess_emulator.base_url}/junk/{n}", json={}) as answer:
                assert answer.status == 404
    counted = (await agencyaccess_emulator.admin.counters())["requests"]
    assert counted == {"(unknown route)": {"404": 300}}


async def test_a_client_that_leaves_mid_body_is_one_line_at_most(
    agencyaccess_emulator: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        for _ in range(20):
            _, writer = await _connect(agencyaccess_emulator.base_url)
            writer.write(
                b"POST /api/clients/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                b'\r\nContent-Length: 1000\r\n\r\n{"name":'
            )
            await writer.drain()
            writer.close()
            await writer.wait_closed()
        async with agencyaccess_emulator.session() as session:  # and it serves on
            assert (await session.clients.list().page()).items == ()
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.exc_info], "no traceback logged"
    left = [r for r in caplog.records if "mid-body" in r.getMessage()]
    assert 1 <= len(left) <= 20  # one line each, at most
    counted = (await agencyaccess_emulator.admin.counters())["requests"]
    assert counted["clients.create"].get("disconnected", 0) == len(left)


async def test_headers_never_finished_are_cut_off(strict_emulator: RunningEmulator) -> None:
    reader, writer = await _connect(strict_emulator.base_url)
    writer.write(b"POST /api/clients/list HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # and nothing more
    await writer.drain()
    assert await _closed_by_server(reader) == b""
    writer.close()


async def test_a_body_never_finished_is_a_408(strict_emulator: RunningEmulator) -> None:
    reader, writer = await _connect(strict_emulator.base_url)
    writer.write(
        b"POST /api/clients/list HTTP/1.1\r\nHost: x\r\nX-Auth: k\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
    )
    await writer.drain()
    answer = await asyncio.wait_for(reader.readuntil(b"\r\n"), 10)
    assert answer.startswith(b"HTTP/1.1 408")
    writer.close()


async def test_connections_past_the_cap_are_closed_and_the_rest_served(
    strict_emulator: RunningEmulator,
) -> None:
    idle = [await _connect(strict_emulator.base_url) for _ in range(8)]
    reader, writer = await _connect(strict_emulator.base_url)  # the ninth
    assert await _closed_by_server(reader) == b""
    writer.close()
    for _, held in idle:
        held.close()
    await asyncio.sleep(0.05)  # let the server see them go
    async with strict_emulator.session() as session:
        assert (await session.clients.list().page()).items == ()
