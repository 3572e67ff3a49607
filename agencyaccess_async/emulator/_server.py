"""Building and running the emulator: ``make_app``, ``EmulatorServer`` and the CLI's ``serve``."""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import TextIO

from aiohttp import web

from ._admin import add_admin_routes
from ._app import Emulator, EmulatorConfig
from ._invite import add_invite_routes

EMULATOR_KEY = web.AppKey("agencyaccess_emulator", Emulator)


class _Guard:
    """Bounds on connections: how many are open, and how long a request's headers may take.

    aiohttp's server has no deadline for a request's headers, so a client
    that sends them a byte at a time (slowloris) holds a connection for
    ever. Each connection is wrapped: it is closed when its first request's
    headers have not arrived within ``read_timeout`` (later requests are
    bounded by aiohttp's keep-alive timeout, set to the same), and a
    connection past ``max_connections`` is closed as it arrives.
    """

    def __init__(self, server: web.Server, read_timeout: float, max_connections: int) -> None:
        self.server = server
        self.read_timeout = read_timeout
        self.max_connections = max_connections
        self.open = 0

    def protocol(self) -> asyncio.Protocol:
        return _Guarded(self.server(), self)


class _Guarded(asyncio.Protocol):
    """aiohttp's protocol for one connection, with the guard's bounds around it."""

    def __init__(self, inner: asyncio.Protocol, guard: _Guard) -> None:
        self._inner = inner
        self._guard = guard
        self._transport: asyncio.BaseTransport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        guard = self._guard
        if guard.open >= guard.max_connections:
            transport.close()  # over the cap: closed before aiohttp sees it
            return
        guard.open += 1
        self._transport = transport
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(guard.read_timeout, self._too_slow)
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._timer is not None:  # still waiting for the first request's headers
            window = self._tail + data
            if b"\r\n\r\n" in window:
                self._timer.cancel()
                self._timer = None
            else:
                self._tail = window[-3:]
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is None:
            return  # refused over the cap: aiohttp never had it
        self._guard.open -= 1
        if self._timer is not None:
            self._timer.cancel()
        self._inner.connection_lost(exc)

    def _too_slow(self) -> None:
        self._timer = None
        if self._transport is not None:
            self._transport.close()


_MAX_REQUEST = 8 * 1024 * 1024  # above the API's 1 MiB so that it can answer 413 itself


def make_app(config: EmulatorConfig | None = None) -> web.Application:
    """An aiohttp application serving the contract's routes and the admin API.

    The ``Emulator`` behind it is ``app[EMULATOR_KEY]`` (its ``api_key`` is
    the seeded key with every capability).
    """
    emulator = Emulator(config or EmulatorConfig())
    app = web.Application(client_max_size=_MAX_REQUEST)
    app[EMULATOR_KEY] = emulator
    add_admin_routes(app, emulator)
    # A callable: the store is replaced on reset.
    add_invite_routes(app, emulator.store_with_invite, emulator.config.agency_name)
    app.router.add_route("*", "/{tail:.*}", emulator.handle)
    return app


class EmulatorServer:
    """An emulator listening on a loopback port, for tests, scripts and the CLI.

    >>> async with EmulatorServer() as emulator:  # doctest: +SKIP
    ...     async with Session(emulator.api_key, base_url=emulator.base_url) as s: ...

    ``port=0`` (the default) picks a free port; ``base_url`` says which.
    """

    app: web.Application
    emulator: Emulator
    base_url: str

    def __init__(
        self, config: EmulatorConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.app = make_app(config)
        self.emulator = self.app[EMULATOR_KEY]
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        self.base_url = ""

    def __repr__(self) -> str:
        return f"<EmulatorServer {self.base_url or 'not started'}>"

    @property
    def api_key(self) -> str:
        """The seeded API key with every capability."""
        return self.emulator.api_key

    @property
    def admin_token(self) -> str:
        """The token the admin API requires, in the ``X-Emulator-Admin`` header."""
        return self.emulator.admin_token

    async def start(self) -> None:
        """Bind the port and start serving."""
        config = self.emulator.config
        self._runner = web.AppRunner(
            self.app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=1.0,
            keepalive_timeout=config.read_timeout,
        )
        await self._runner.setup()
        # The low-level server as a protocol factory, each connection guarded.
        server = self._runner.server
        assert server is not None  # made by setup()
        guard = _Guard(server, config.read_timeout, config.max_connections)
        self._listener = await asyncio.get_running_loop().create_server(
            guard.protocol, self._host, self._port, reuse_address=True
        )
        host, port = self._listener.sockets[0].getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        self.base_url = f"http://{shown}:{port}"

    async def stop(self) -> None:
        """Stop serving and close every connection; calling it twice is harmless."""
        if self._listener is not None:
            self._listener.close()  # no new connections
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()  # closes the open ones
        if self._listener is not None:
            listener, self._listener = self._listener, None
            await listener.wait_closed()

    async def __aenter__(self) -> EmulatorServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


async def serve(config: EmulatorConfig, host: str, port: int, out: TextIO = sys.stdout) -> None:
    """Run an emulator until SIGINT/SIGTERM, printing its URL and key first.

    The signal handlers are in place before anything is printed: whoever
    reads "Press Ctrl-C" may press it at once.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(signum: int, frame: object) -> None:
        loop.call_soon_threadsafe(stop.set)

    # signal.signal, not the loop's add_signal_handler: Windows' loops have none.
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    server = EmulatorServer(config, host=host, port=port)
    try:
        await server.start()
        print(f"AgencyAccess emulator listening on {server.base_url}", file=out)
        print(f"export AGENCYACCESS_BASE_URL={server.base_url}", file=out)
        print(f"export AGENCYACCESS_API_KEY={server.api_key}", file=out)
        accounts = sorted(
            server.emulator.store.accounts.values(), key=lambda a: a["agencyAccountID"]
        )
        if accounts:  # the real service lists these in its dashboard's builder only
            names = ", ".join(
                a["agencyAccountID"] + (" (expired)" if a["expired"] else "") for a in accounts
            )
            print(f"connected agency accounts: {names}", file=out)
        print(f"export AGENCYACCESS_EMULATOR_ADMIN_TOKEN={server.admin_token}", file=out)
        print("Press Ctrl-C to stop.", file=out, flush=True)
        await stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        await server.stop()
        print("emulator stopped", file=out, flush=True)
