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
        self._runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, reuse_address=True)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        shown = f"[{host}]" if ":" in host else host
        self.base_url = f"http://{shown}:{port}"

    async def stop(self) -> None:
        """Stop serving and close every connection; calling it twice is harmless."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> EmulatorServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


async def serve(config: EmulatorConfig, host: str, port: int, out: TextIO = sys.stdout) -> None:
    """Run an emulator until SIGINT/SIGTERM, printing its URL and key first."""
    server = EmulatorServer(config, host=host, port=port)
    await server.start()
    print(f"AgencyAccess emulator listening on {server.base_url}", file=out)
    print(f"export AGENCYACCESS_BASE_URL={server.base_url}", file=out)
    print(f"export AGENCYACCESS_API_KEY={server.api_key}", file=out)
    accounts = sorted(server.emulator.store.accounts.values(), key=lambda a: a["agencyAccountID"])
    if accounts:  # the real service lists these in its dashboard's builder only
        names = ", ".join(
            a["agencyAccountID"] + (" (expired)" if a["expired"] else "") for a in accounts
        )
        print(f"connected agency accounts: {names}", file=out)
    print(f"export AGENCYACCESS_EMULATOR_ADMIN_TOKEN={server.admin_token}", file=out)
    print("Press Ctrl-C to stop.", file=out, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(signum: int, frame: object) -> None:
        loop.call_soon_threadsafe(stop.set)

    # signal.signal, not the loop's add_signal_handler: Windows' loops have none.
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        await stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        await server.stop()
        print("emulator stopped", file=out, flush=True)
