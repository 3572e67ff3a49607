"""Argument errors are typed: InvalidRequestError (also a ValueError) naming the argument.

Refused before anything is sent, with ``suggested_status`` 422, so a web
backend's error handler answers them as the caller's mistake. And a caller's
own aiohttp session with ``raise_for_status=True`` does not change how the
SDK reads an error answer.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

import agencyaccess_async as aa
from agencyaccess_async.testing import RunningEmulator

pytestmark = pytest.mark.socket


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda s: s.clients.retrieve(" "), "client_id"),
        (lambda s: s.clients.retrieve(42), "client_id"),
        (lambda s: s.links.delete(""), "link_id"),
        (lambda s: s.clients.list(limit=0).page(), "limit"),
        (lambda s: s.clients.list(limit=101).page(), "limit"),
        (lambda s: s.links.list(limit=True).page(), "limit"),
        (lambda s: s.clients.create(name="A", email="a@b.test", type="prospekt"), "type"),
        (lambda s: s.clients.update("cl_1", language="de"), "language"),
        (lambda s: s.clients.update("cl_1"), "body"),
        (lambda s: s.post("api/clients/list"), "path"),
    ],
)
async def test_a_bad_argument_is_an_invalid_request_error_naming_it_and_nothing_is_sent(
    agencyaccess_emulator: RunningEmulator, call: Any, argument: str
) -> None:
    async with agencyaccess_emulator.session() as session:
        with pytest.raises(aa.InvalidRequestError) as info:
            await call(session)
        assert session.stats.requests == 0
    error = info.value
    assert isinstance(error, ValueError) and isinstance(error, aa.AgencyAccessError)
    assert error.path == argument and error.status == 0
    assert aa.error_response(error)[0] == 422
    assert aa.error_response(error)[1]["field"] == argument


async def test_known_choices_in_any_case_are_sent_as_given(
    agencyaccess_emulator: RunningEmulator,
) -> None:
    async with agencyaccess_emulator.session() as session:
        client = await session.clients.create(name="A", email="a@b.test", type="prospect")
        assert client.type is aa.ClientType.PROSPECT
        assert (await session.clients.list(type=aa.ClientType.PROSPECT, limit=100).page()).items


async def test_a_callers_session_with_raise_for_status_still_gets_typed_errors_sent_once(
    agencyaccess_emulator: RunningEmulator,
) -> None:
    """A 404 through ``aiohttp.ClientSession(raise_for_status=True)``: NotFoundError, one request."""
    async with aiohttp.ClientSession(raise_for_status=True) as http:
        transport = aa.AiohttpTransport(session=http)
        async with agencyaccess_emulator.session(transport=transport) as session:
            with pytest.raises(aa.NotFoundError):
                await session.clients.retrieve("cl_nobody")
            assert session.stats.requests == 1
        assert not http.closed  # the caller's session is the caller's
