"""Total timeouts through one Watchdog per transport: who is cancelled, and whose cancel wins."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from yarl import URL

from agencyaccess_async import (
    AiohttpTransport,
    Request,
    RequestTimeout,
    Timeout,
    _aiohttp_transport,
)
from agencyaccess_async._watchdog import AVAILABLE, Watchdog

from .helpers import serve_app

needs_watchdog = pytest.mark.skipif(not AVAILABLE, reason="Task.uncancel is Python 3.11+")


async def _sleep(request: web.Request) -> web.Response:
    await asyncio.sleep(float(request.query["s"]))
    return web.json_response({"error": False, "data": {}})


@pytest.fixture
async def server() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/sleep", _sleep)
    async with serve_app(app) as url:
        yield url


def _sleeping(server: str, seconds: float, total: float | None) -> Request:
    url = URL(f"{server}/sleep?s={seconds}")
    return Request("POST", url, {}, b"{}", "sleep", Timeout(total=total))


# ------------------------------------------------------------ the Watchdog alone


async def _wait_forever() -> str:
    await asyncio.Event().wait()
    return "unreachable"


@needs_watchdog
@pytest.mark.unit
async def test_only_the_expired_task_is_cancelled_and_the_timer_moves_on() -> None:
    loop = asyncio.get_running_loop()
    watchdog = Watchdog(loop)
    early, late = asyncio.ensure_future(_wait_forever()), asyncio.ensure_future(_wait_forever())
    watchdog.watch(late, loop.time() + 3600)
    watchdog.watch(early, loop.time() - 1)  # already due: an earlier timer replaces the first
    with pytest.raises(asyncio.CancelledError):
        await early
    assert watchdog.expired(early)
    assert early.cancelling() == 0  # uncancelled: the caller raises its timeout instead
    assert not late.done()
    assert len(watchdog) == 1  # the late one, still watched
    watchdog.forget(late)
    assert len(watchdog) == 0
    watchdog.close()
    late.cancel()


@needs_watchdog
@pytest.mark.unit
async def test_a_cancellation_of_someone_elses_is_never_taken_for_a_timeout() -> None:
    loop = asyncio.get_running_loop()
    watchdog = Watchdog(loop)
    task = asyncio.ensure_future(_wait_forever())
    await asyncio.sleep(0)
    watchdog.watch(task, loop.time() + 3600)
    task.cancel()  # the caller's cancel: not the watchdog's
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not watchdog.expired(task)

    both = asyncio.ensure_future(_wait_forever())
    await asyncio.sleep(0)
    watchdog.watch(both, loop.time() - 1)
    both.cancel()  # the caller cancels in the same turn the deadline passes
    with pytest.raises(asyncio.CancelledError):
        await both
    assert not watchdog.expired(both)  # the caller's cancel propagates
    assert both.cancelling() == 1
    watchdog.close()


@needs_watchdog
@pytest.mark.unit
async def test_a_cancellation_swallowed_below_is_undone_when_forgotten() -> None:
    loop = asyncio.get_running_loop()
    watchdog = Watchdog(loop)
    cancelled = asyncio.Event()

    async def swallows() -> str:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:  # as a library below might
            cancelled.set()
        return "finished anyway"

    task = asyncio.ensure_future(swallows())
    await asyncio.sleep(0)
    watchdog.watch(task, loop.time() - 1)
    await cancelled.wait()
    assert task.cancelling() == 1
    watchdog.forget(task)
    assert task.cancelling() == 0
    assert await task == "finished anyway"
    watchdog.close()


# ------------------------------------------------------------ through the transport


@pytest.mark.socket
@pytest.mark.parametrize("watched", [True, False], ids=["watchdog", "aiohttp-timer"])
async def test_each_request_keeps_its_own_total(
    server: str, watched: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if watched and not AVAILABLE:
        pytest.skip("Task.uncancel is Python 3.11+")
    monkeypatch.setattr(_aiohttp_transport, "watchdog_available", watched)
    async with AiohttpTransport() as transport:
        short = transport.send(_sleeping(server, 1, total=0.1))
        long = transport.send(_sleeping(server, 0.3, total=30))
        none = transport.send(_sleeping(server, 0.3, total=None))
        results = await asyncio.gather(short, long, none, return_exceptions=True)
        assert isinstance(results[0], RequestTimeout) and results[0].kind == "total"
        assert [r.status for r in results[1:]] == [200, 200]  # type: ignore[union-attr]
        if watched:
            assert transport._watchdog is not None and len(transport._watchdog) == 0
        current = asyncio.current_task()
        assert current is not None
        assert sys.version_info < (3, 11) or current.cancelling() == 0


@pytest.mark.socket
async def test_cancelling_a_watched_request_cancels_it(server: str) -> None:
    async with AiohttpTransport() as transport:
        task = asyncio.ensure_future(transport.send(_sleeping(server, 1, total=30)))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        if AVAILABLE:
            assert transport._watchdog is not None and len(transport._watchdog) == 0
