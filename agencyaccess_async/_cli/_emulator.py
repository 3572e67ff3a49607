"""``agencyaccess-async emulator``: run the local emulator until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
from typing import Any

from ._common import UsageError, add_command, is_loopback


def add_emulator_command(commands: Any) -> None:
    """Register the ``emulator`` subcommand."""
    parser = add_command(
        commands,
        "emulator",
        "run a local AgencyAccess emulator",
        "Serve the AgencyAccess API locally with a key holding every capability and one\n"
        "connected agency account per platform (acct_<platform>_1, plus an expired\n"
        "acct_google_expired). The admin API is under /_emulator/.\n\n"
        "examples:\n"
        "  agencyaccess-async emulator --port 8765\n"
        "  agencyaccess-async emulator --port 8765 --rate-limit 50 --latency-ms 20",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks one)")
    parser.add_argument("--api-key", help="the API key to seed (default: a random one)")
    parser.add_argument(
        "--admin-token",
        default=os.environ.get("AGENCYACCESS_EMULATOR_ADMIN_TOKEN"),
        help="the token the admin API (/_emulator/) requires in the X-Emulator-Admin header "
        "(default: $AGENCYACCESS_EMULATOR_ADMIN_TOKEN, else a random one, printed)",
    )
    parser.add_argument("--rate-limit", type=int, help="requests per second per key")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every answer")
    parser.add_argument(
        "--invite-base-url",
        metavar="URL",
        help="the emulator's address as your clients' browsers reach it (default: the address "
        "each request came to); invite links are URL/invite/<token>",
    )
    parser.add_argument(
        "--print-openapi",
        action="store_true",
        help="print the OpenAPI document of the routes the emulator serves, and exit",
    )
    parser.add_argument(
        "--allow-non-loopback",
        action="store_true",
        help="allow binding an address other machines can reach (anyone who reaches it can "
        "use the seeded key; the admin API still needs its token)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Start the emulator and serve until SIGINT or SIGTERM (or print its OpenAPI document)."""
    from ..emulator import EmulatorConfig, openapi_document, serve

    if args.print_openapi:
        print(json.dumps(openapi_document(), indent=2))
        return 0
    if not is_loopback(args.host) and not args.allow_non_loopback:
        raise UsageError(
            f"--host {args.host} is reachable from other machines; add --allow-non-loopback"
        )
    if args.rate_limit is not None and args.rate_limit < 1:
        raise UsageError("--rate-limit must be a positive number of requests per second")
    if not 0 <= args.latency_ms < math.inf:
        raise UsageError("--latency-ms must be a number of milliseconds, 0 or more")
    if args.invite_base_url and not args.invite_base_url.startswith(("http://", "https://")):
        raise UsageError("--invite-base-url must be an http(s) URL")
    if not is_loopback(args.host):
        print(
            f"warning: binding {args.host}: anyone who can reach it can use the admin API",
            file=sys.stderr,
        )
    config = EmulatorConfig(
        api_key=args.api_key,
        rate_limit=args.rate_limit,
        latency_ms=args.latency_ms,
        admin_from_anywhere=not is_loopback(args.host),
        admin_token=args.admin_token or None,
        invite_base_url=args.invite_base_url,
    )
    try:
        asyncio.run(serve(config, args.host, args.port))
    except OSError as error:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {error.strerror}") from None
    return 0
