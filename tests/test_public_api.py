"""The public surface: a sorted, complete __all__, and an import that stays light."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import agencyaccess_async

pytestmark = pytest.mark.process


def test_all_is_sorted_and_importable() -> None:
    """__all__ is sorted, has no duplicates, and every name exists."""
    names = agencyaccess_async.__all__
    assert names == sorted(names)
    assert len(names) == len(set(names))
    assert [n for n in names if not hasattr(agencyaccess_async, n)] == []


# Helpers and request bodies the endpoint methods build for the caller.
INTERNAL = {
    "fingerprint_of", "emit", "logger", "advise", "set_testing", "TestingMode", "plan_retry", "checked_base_url", "WIRE_NAME_EXCEPTIONS", "format_datetime", "wire_name", "decide", "Action", "error_for_status",
    "skipped_in_testing", "GUIDE_CAUSES", "header_number", "log_attempt", "with_extra_headers", "default_telemetry", "capture_responses", "record", "CAPTURED", "scrub", "redacted_url", "target_url",
    "KeySource", "clean_key", "key_from_environment", "KEY_ENV", "KEY_FILE_ENV",
    "scrub_text", "scrub_headers", "SCRUBBED", "SHORTEST_SECRET", "http_date", "ServerClock", "Tried",
    "malformed", "MAX_HEADER_LINE", "MAX_HEADERS", "head_refusal", "Budgets", "read_capped",
    "ClientRef", "ClientUpdate", "LinkRef", "LinkUpdate", "ListQuery", "ClosingContext",
}  # fmt: skip


def test_every_public_class_and_function_is_exported() -> None:
    """Each public name defined in the private modules reaches a public module (or is internal)."""
    exported = {
        name
        for public in ("agencyaccess_async", "types", "lowlevel", "testing")
        for name in importlib.import_module(
            public if public == "agencyaccess_async" else f"agencyaccess_async.{public}"
        ).__all__
    }
    for module_name in (
        "_errors",
        "_models",
        "_http",
        "_transport",
        "_session",
        "_bulk",
        "_services",
        "_retry",
        "_hooks",
        "_auth",
        "_stream",
        "_paginator",
        "_clients",
        "_links",
    ):
        module = importlib.import_module(f"agencyaccess_async.{module_name}")
        missing = set(getattr(module, "__all__", [])) - exported - INTERNAL
        assert missing == set(), (module_name, missing)


def test_import_does_not_load_the_emulator_or_cli() -> None:
    """import agencyaccess_async leaves the emulator, CLI and aiohttp.web unloaded."""
    code = "import sys, agencyaccess_async; print(sorted(m for m in sys.modules if m.split('.')[:2] in (['agencyaccess_async', 'emulator'], ['agencyaccess_async', '_cli'], ['agencyaccess_async', '_bulk']) or m in ('sqlite3', 'aiohttp.web')))"
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "[]"


@pytest.mark.parametrize(
    ("blocked", "name", "said"),
    [
        ("httpx", "HttpxTransport", "ImportError: HttpxTransport needs httpx: pip install "
         "'agencyaccess-async[httpx]'"),
        ("aiohttp", "AiohttpTransport", "ModuleNotFoundError: import of aiohttp halted"),
    ],
)  # fmt: skip
def test_a_lazy_name_whose_module_is_missing_says_what_to_install(
    blocked: str, name: str, said: str
) -> None:
    """Only the httpx extra's name suggests installing the extra; anything else names its module."""
    code = (
        f"import sys; sys.modules[{blocked!r}] = None\n"
        "import agencyaccess_async\n"
        "try:\n"
        f"    agencyaccess_async.{name}\n"
        "except ImportError as error:\n"
        "    print(type(error).__name__ + ': ' + str(error))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.startswith(said)
