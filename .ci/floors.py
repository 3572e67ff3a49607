"""Print a pip constraints file pinning every declared dependency at its floor.

The one source is pyproject.toml: each ``name>=X`` of the core dependencies
and of the runtime extras becomes ``name==X``. The OpenTelemetry SDK the tests
bring is pinned to the API's floor too (the two are released together).
.ci/run installs the package with these constraints and runs the unit and
in-process tiers, so a floor that does not work fails CI.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import tomllib

#: The extras users install to run the SDK (not the contributors' dev/test/bench).
RUNTIME_EXTRAS = ("speedups", "redis", "progress", "httpx", "otel", "xlsx")
_FLOOR = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*>=\s*([0-9][^,;\s]*)")


def floors(pyproject: Path) -> dict[str, str]:
    """Each declared runtime requirement's lower bound, by distribution name."""
    project = tomllib.loads(pyproject.read_text())["project"]
    specs = list(project["dependencies"])
    for extra in RUNTIME_EXTRAS:
        specs += project["optional-dependencies"][extra]
    found: dict[str, str] = {}
    for spec in specs:
        match = _FLOOR.match(spec)
        if match is None:
            sys.exit(f".ci/floors.py: {spec!r} declares no floor (name>=X)")
        found[match.group(1).lower()] = match.group(2)
    return found


def main() -> None:
    """Print the constraints, one `name==version` a line."""
    pinned = floors(Path(__file__).resolve().parent.parent / "pyproject.toml")
    if "opentelemetry-api" in pinned:
        pinned["opentelemetry-sdk"] = pinned["opentelemetry-api"]
    for name, version in sorted(pinned.items()):
        print(f"{name}=={version}")


if __name__ == "__main__":
    main()
