"""A local emulator of the AgencyAccess API, with an admin API for tests and fault injection.

It serves the routes of the wire contract over real HTTP (aiohttp.web), keeps
its records in memory, and under ``/_emulator/`` lets a test create keys and
connected accounts, act as the client on an invite page, set the rate limit,
and inject latency, 5xx answers and dropped connections. It validates raw
JSON itself and shares only plain data (the catalog, the field limits) with
the SDK. Its OpenAPI document is built from its own route and validation
tables (``openapi_document``).
"""

from ._app import Emulator, EmulatorConfig, Faults
from ._openapi import openapi_document
from ._server import EMULATOR_KEY, EmulatorServer, make_app, serve
from ._state import ALL_CAPABILITIES

__all__ = [
    "ALL_CAPABILITIES",
    "EMULATOR_KEY",
    "Emulator",
    "EmulatorConfig",
    "EmulatorServer",
    "Faults",
    "make_app",
    "openapi_document",
    "serve",
]
