"""A proxy that closes every connection after answering, without ``Connection: close``.

Each resend would go out on the connection the proxy had just closed; the
SDK resends on a new connection at once (reads, updates, deletes) or
reconciles (creates), so every call succeeds and nothing is made twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

import agencyaccess_async as aa
from agencyaccess_async.testing import MockTransport, RunningEmulator

pytestmark = pytest.mark.socket


@pytest.fixture
async def closing_proxy(agencyaccess_emulator: RunningEmulator) -> AsyncIterator[str]:
    """A loopback HTTP proxy to the emulator that closes each connection after one answer."""
    upstream = aiohttp.ClientSession()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
            body = await reader.readexactly(int(headers.get("Content-Length", "0")))
            headers.pop("Host", None)
            async with upstream.request(
                method, agencyaccess_emulator.base_url + path, data=body, headers=headers
            ) as answer:
                content = await answer.read()
                reply = [f"HTTP/1.1 {answer.status} {answer.reason}"]
                reply += [f"{k}: {v}" for k, v in answer.headers.items()
                          if k.lower() not in ("content-length", "connection",
                                               "transfer-encoding")]  # fmt: skip
                reply.append(f"Content-Length: {len(content)}")
            writer.write(("\r\n".join(reply) + "\r\n\r\n").encode("latin-1") + content)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()  # after every answer, and it says nothing about it

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()
        await upstream.close()


async def test_every_call_succeeds_and_nothing_is_made_twice(
    closing_proxy: str, agencyaccess_emulator: RunningEmulator, services: aa.RequestedServices
) -> None:
    key = agencyaccess_emulator.api_key
    async with aa.Session(key, base_url=closing_proxy, retry=aa.RetryPolicy(attempts=2)) as s:
        made = []
        for n in range(10):
            client = await s.clients.create(name=f"Client {n}", email=f"c{n}@example.test")
            link = await s.links.create(client.client_id, services=services)
            assert (await s.links.retrieve(link.link_id)).link_id == link.link_id
            updated = await s.clients.update(client.client_id, company=f"Company {n}")
            assert updated.company == f"Company {n}"
            made.append(client.client_id)
        assert len(await s.clients.list().collect()) == 10
        assert await s.clients.find_by_idempotency_key("no-such-key") is None
    records = (await agencyaccess_emulator.admin.counters())["records"]
    assert records == {"clients": 10, "links": 10}  # not one duplicate
    assert s.stats.retries <= 20  # creates reconcile; reads and updates resend, uncounted


@pytest.mark.unit
async def test_a_delete_resent_after_a_drop_and_answered_404_is_done() -> None:
    """The first delete may have arrived before the connection dropped: its resend's 404 is done."""

    from .helpers import SECRET_KEY

    dropped = aa.RemoteDisconnectedError("connection dropped", before_answer=True)
    transport = MockTransport().respond(
        "clients.delete",
        side_effect=[dropped, aa.NotFoundError("Client does not exist.", status=404)],
    )
    async with aa.Session(SECRET_KEY, base_url="https://api.test", transport=transport) as s:
        deleted = await s.clients.delete("cl_1")
    assert deleted.deleted is True and len(transport.calls) == 2
