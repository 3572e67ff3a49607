"""The API key in no rendering of a failed call: tracebacks with frame locals, as users' stacks draw them.

Four failures (a closed port, a 401, a timeout, 5xx after retries), each
rendered by the stdlib's ``TracebackException(capture_locals=True)``, rich's
``Traceback(show_locals=True)``, structlog's dict tracebacks with locals and
sentry-sdk's event (with its default frame variables, kept in memory): the
key appears 0 times in each.
"""

from __future__ import annotations

import io
import json
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

import agencyaccess_async as aa
from agencyaccess_async.testing import RunningEmulator

from .helpers import SECRET_KEY, closed_port, serve_app

pytestmark = pytest.mark.socket


def _stdlib(error: BaseException) -> str:
    rendered = traceback.TracebackException.from_exception(error, capture_locals=True)
    return "".join(rendered.format())


def _rich(error: BaseException) -> str:
    from rich.console import Console
    from rich.traceback import Traceback

    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None)
    console.print(
        Traceback.from_exception(type(error), error, error.__traceback__, show_locals=True)
    )
    return out.getvalue()


def _structlog(error: BaseException) -> str:
    import structlog

    renderer = structlog.processors.ExceptionRenderer(
        structlog.tracebacks.ExceptionDictTransformer(show_locals=True)
    )
    event = renderer(None, "error", {"event": "call failed", "exc_info": error})
    return json.dumps(event, default=repr)


def _sentry(error: BaseException) -> str:
    """The event sentry-sdk would send, with its default frame variables, kept in memory."""
    import sentry_sdk

    kept: list[Any] = []

    def keep(event: Any, hint: Any) -> None:
        kept.append(event)  # and send nothing

    sentry_sdk.init(dsn="http://public@127.0.0.1:9/1", before_send=keep, default_integrations=False)
    try:
        sentry_sdk.capture_exception(error)
    finally:
        sentry_sdk.get_client().close()
    assert kept, "sentry captured no event"
    frames = [f for e in kept for x in e["exception"]["values"] for f in x["stacktrace"]["frames"]]
    assert any(frame.get("vars") for frame in frames), "sentry kept no frame variables"
    return json.dumps(kept, default=repr)


RENDERERS = {"stdlib": _stdlib, "rich": _rich, "structlog": _structlog, "sentry": _sentry}


@pytest.fixture
async def failing_calls(
    agencyaccess_emulator: RunningEmulator,
) -> AsyncIterator[dict[str, Callable[[], Awaitable[Any]]]]:
    """Four calls that fail, each made with SECRET_KEY (a key of the emulator)."""
    await agencyaccess_emulator.admin.create_key(key=SECRET_KEY)

    async def slow(request: web.Request) -> web.Response:
        await request.read()
        await asyncio_sleep(5)
        return web.json_response({"error": False, "data": {}})

    async def down(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"error": True, "msg": "upstream down"}, status=502)

    app = web.Application()
    app.router.add_post("/api/clients/list", slow)
    app.router.add_post("/api/clients/create", down)
    async with serve_app(app) as own_server:

        async def closed() -> Any:
            async with aa.Session(SECRET_KEY, base_url=f"http://127.0.0.1:{closed_port()}") as s:
                return await s.clients.list().page()

        async def unauthorized() -> Any:
            await agencyaccess_emulator.admin.revoke_key(SECRET_KEY)
            try:
                async with aa.Session(SECRET_KEY, base_url=agencyaccess_emulator.base_url) as s:
                    return await s.clients.list().page()
            finally:
                await agencyaccess_emulator.admin.create_key(key=SECRET_KEY)

        async def timeout() -> Any:
            async with aa.Session(
                SECRET_KEY, base_url=own_server, timeout=aa.Timeout(total=0.2),
                retry=aa.RetryPolicy(attempts=2),
            ) as s:  # fmt: skip
                return await s.clients.list().page()

        async def server_errors() -> Any:
            async with aa.Session(SECRET_KEY, base_url=own_server) as s:
                return await s.post("/api/clients/create", {"name": "x"}, idempotent=True)

        yield {
            "closed port": closed,
            "401": unauthorized,
            "timeout": timeout,
            "5xx after retries": server_errors,
        }


async def asyncio_sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


@pytest.mark.parametrize("failure", ["closed port", "401", "timeout", "5xx after retries"])
async def test_no_renderer_shows_the_key_of_a_failed_call(
    failing_calls: dict[str, Callable[[], Awaitable[Any]]], failure: str
) -> None:
    with pytest.raises(aa.AgencyAccessError) as info:
        await failing_calls[failure]()
    error = info.value
    assert error.attempts >= 1
    for name, render in RENDERERS.items():
        text = render(error)
        assert "Traceback" in text or "exception" in text.lower() or name == "sentry"
        assert type(error).__name__ in text, name  # the rendering happened, and shows the error
        assert text.count(SECRET_KEY) == 0, f"{name} shows the key"
