"""The public surface, pinned: every public module's ``__all__`` and each name's signature.

``tests/public_surface.txt`` is the snapshot. A change to the public API shows
up here as a diff to review (and, when meant, to note in the CHANGELOG); write
the new snapshot with ``python tests/test_public_surface.py``.

Also checked: the top level stays at most 60 names, every exception class ends
in ``Error``, each deprecated alias of 0.1 still answers (with a
``DeprecationWarning`` naming its new home), and the CHANGELOG's migration
table is the one ``MOVED`` makes.
"""

from __future__ import annotations

import enum
import importlib
import inspect
import re
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

import agencyaccess_async

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "tests" / "public_surface.txt"
CHANGELOG = ROOT / "CHANGELOG.md"
PUBLIC_MODULES = (
    "agencyaccess_async",
    "agencyaccess_async.types",
    "agencyaccess_async.lowlevel",
    "agencyaccess_async.testing",
)
#: Renamed attributes, beside the names of ``MOVED``: (old, new, how to migrate).
RENAMED_ATTRIBUTES = [
    ("APIError.msg", "APIError.message", "the name every error uses"),
    *(
        (f"{model}.requested_services", f"{model}.services", "as in `links.create(services=...)`")
        for model in ("Link", "NewLink", "LinkUpdate")
    ),
    (
        "Client.metadata[IDEMPOTENCY_METADATA_KEY]",
        "Client.idempotency_key",
        "`metadata` is what you stored",
    ),
]


def _signature(obj: Any) -> str:
    try:
        shown = str(inspect.signature(obj))
    except (TypeError, ValueError):  # a builtin without a signature
        return "(...)"
    return re.sub(r" at 0x[0-9a-f]+>", ">", shown)  # a default function's address


def _members(cls: type) -> list[str]:
    """The public methods and properties a class defines itself, one line each."""
    lines = []
    for name, value in sorted(vars(cls).items()):
        if name.startswith("_") and name != "__init__":
            continue
        if isinstance(value, property):
            lines.append(f"    .{name} (property)")
        elif isinstance(value, (classmethod, staticmethod)):
            lines.append(f"    .{name}{_signature(value.__func__)} ({type(value).__name__})")
        elif inspect.isfunction(value) and name != "__init__":
            kind = "async " if inspect.iscoroutinefunction(value) else ""
            lines.append(f"    {kind}.{name}{_signature(value)}")
    return lines


def _describe(name: str, obj: Any) -> list[str]:
    if isinstance(obj, type) and issubclass(obj, enum.Enum):
        return [f"  enum {name}: {', '.join(f'{m.name}={m.value!r}' for m in obj)}"]
    if isinstance(obj, type):
        bases = ", ".join(b.__name__ for b in obj.__bases__ if b is not object)
        return [f"  class {name}({bases}){_signature(obj)}", *_members(obj)]
    if inspect.isfunction(obj):
        kind = "async def" if inspect.iscoroutinefunction(obj) else "def"
        return [f"  {kind} {name}{_signature(obj)}"]
    shown = repr(obj) if isinstance(obj, (str, int, float)) else type(obj).__name__
    return [f"  {name} = {shown}"]


def render_surface() -> str:
    """The public surface as text: module by module, name by name."""
    lines = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        lines.append(f"{module_name} ({len(module.__all__)} names)")
        for name in module.__all__:
            lines.extend(_describe(name, getattr(module, name)))
    return "\n".join(lines) + "\n"


def render_migration_table() -> str:
    """The CHANGELOG's migration table, made from ``MOVED`` and ``RENAMED_ATTRIBUTES``."""
    rows = ["| 0.1 | now |", "| --- | --- |"]
    for old, target in sorted(agencyaccess_async.MOVED.items()):
        module, _, new = target.partition(":")
        rows.append(f"| `agencyaccess_async.{old}` | `{module}.{new}` |")
    rows.extend(f"| `{old}` | `{new}` ({why}) |" for old, new, why in RENAMED_ATTRIBUTES)
    return "\n".join(rows) + "\n"


def test_the_public_surface_matches_its_snapshot() -> None:
    """A change to a public name or signature is a reviewed change to tests/public_surface.txt."""
    assert render_surface() == SNAPSHOT.read_text(), (
        "the public surface changed: review, then run python tests/test_public_surface.py"
    )


def test_the_top_level_holds_at_most_60_names_and_every_exception_ends_in_error() -> None:
    public = [
        getattr(importlib.import_module(m), n)
        for m in PUBLIC_MODULES
        for n in importlib.import_module(m).__all__
    ]
    assert len(agencyaccess_async.__all__) <= 60
    readme = (ROOT / "README.md").read_text()
    assert f"`agencyaccess_async` ({len(agencyaccess_async.__all__)} names)" in readme
    exceptions = [o.__name__ for o in public if isinstance(o, type) and issubclass(o, Exception)]
    assert exceptions and [n for n in exceptions if not n.endswith("Error")] == []


@pytest.mark.parametrize("old", sorted(agencyaccess_async.MOVED))
def test_each_name_of_0_1_still_answers_with_a_warning_naming_its_new_home(old: str) -> None:
    module_name, _, new = agencyaccess_async.MOVED[old].partition(":")
    with pytest.warns(DeprecationWarning, match=rf"agencyaccess_async\.{old} is deprecated .*"
                      rf"use {re.escape(module_name)}\.{new}$"):  # fmt: skip
        value = getattr(agencyaccess_async, old)
    assert value is getattr(importlib.import_module(module_name), new)
    assert old not in agencyaccess_async.__all__


def test_api_error_msg_still_answers_with_a_warning() -> None:
    error = agencyaccess_async.NotFoundError("Client does not exist.", status=404)
    with pytest.warns(DeprecationWarning, match="use APIError.message"):
        assert error.msg == error.message == "Client does not exist."


def test_the_changelog_has_the_migration_table_moved_makes() -> None:
    assert render_migration_table() in CHANGELOG.read_text()


def test_an_unknown_name_is_an_attribute_error_without_a_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
            agencyaccess_async.Nope  # noqa: B018


if __name__ == "__main__":
    SNAPSHOT.write_text(render_surface())
    print(f"wrote {SNAPSHOT.relative_to(ROOT)}", file=sys.stderr)
