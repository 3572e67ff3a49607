"""The package's shape: layers import one way, modules stay small, nobody reaches into another's privates.

The layer of every module comes from the module map of ``docs/architecture.md``
(one source): the test fails when the map misses a module, names one that is
gone, or an import goes up a layer.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from typing import Any

import attrs
import pytest

from agencyaccess_async import NewClient, NewLink
from agencyaccess_async._models import ClientUpdate, LinkUpdate
from agencyaccess_async._routes import ROUTES
from agencyaccess_async.emulator._app import ROUTES as EMULATOR_ROUTES
from agencyaccess_async.types import Clients, Links

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parent.parent / "agencyaccess_async"
ARCHITECTURE = PACKAGE.parent / "docs" / "architecture.md"
MAX_LINES = 600
#: The layers, top to bottom: a module imports its own layer and those below it.
LAYERS = [
    "cli", "testing", "facade", "session", "bulk", "resources", "request loop",
    "transports and limiters", "policy", "sans-I/O core", "emulator", "data",
]  # fmt: skip
_MAP_ROW = re.compile(r"^\| `([\w/]+\.py)` \| ([^|]+?) \|", re.MULTILINE)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every agencyaccess_async module ``path`` imports: top level, TYPE_CHECKING and in functions."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("agencyaccess_async"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if not base.startswith("agencyaccess_async"):
                continue
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if _exists(candidate) else base)
    return {name for name in found if name != module}


def _exists(module: str) -> bool:
    relative = Path(*module.split("."))
    root = PACKAGE.parent
    return (root / relative.with_suffix(".py")).exists() or (
        root / relative / "__init__.py"
    ).exists()


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    # The package's __init__ re-exports everything; importing it from inside would be a cycle too.
    return {name: {m for m in _imports(path) if m in modules} for name, path in modules.items()}


def test_no_import_cycle_counting_type_checking_and_function_level_imports() -> None:
    """Layers import one way only: no module reaches, by any path, back to itself."""
    graph = _graph()
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str], done: set[str]) -> None:
        for target in sorted(graph[node]):
            if target == "agencyaccess_async":
                continue  # the package facade: importing it for a lazy name is a leaf use
            if target in stack:
                cycles.append([*stack[stack.index(target) :], target])
            elif target not in done:
                visit(target, [*stack, target], done)
        done.add(node)

    done: set[str] = set()
    for start in sorted(graph):
        if start not in done:
            visit(start, [start], done)
    assert cycles == [], "\n".join(" -> ".join(c) for c in cycles)


def _layers() -> dict[str, str]:
    """Module name -> layer, from the module map of docs/architecture.md."""
    found = {}
    for path, layer in _MAP_ROW.findall(ARCHITECTURE.read_text()):
        found[_module_name(PACKAGE / path)] = layer
    return found


def test_the_module_map_names_every_module_and_only_modules_that_exist() -> None:
    """docs/architecture.md is complete and right: one row a module, a known layer each."""
    mapped = _layers()
    modules = set(_graph())
    assert sorted(modules - set(mapped)) == [], "modules missing from docs/architecture.md"
    assert sorted(set(mapped) - modules) == [], "modules in docs/architecture.md that are gone"
    assert {layer for layer in mapped.values()} <= set(LAYERS)


def test_imports_go_to_the_same_layer_or_below() -> None:
    """No module imports a layer above its own, by any import (TYPE_CHECKING and in functions)."""
    layer_of = _layers()
    rank = {layer: index for index, layer in enumerate(LAYERS)}
    upward = [
        f"{module} ({layer_of[module]}) imports {target} ({layer_of[target]})"
        for module, targets in _graph().items()
        for target in targets
        if rank[layer_of[target]] < rank[layer_of[module]]
    ]
    assert upward == []


def test_only_the_cli_and_testing_import_the_emulator_and_it_imports_only_data() -> None:
    """The emulator is a separate program: it shares plain data with the SDK, nothing more."""
    layer_of = _layers()
    for module, targets in _graph().items():
        emulator_targets = {t for t in targets if layer_of[t] == "emulator"}
        if layer_of[module] not in ("cli", "testing", "emulator"):
            assert emulator_targets == set(), module
        if layer_of[module] == "emulator":
            assert {layer_of[t] for t in targets} <= {"emulator", "data"}, module


def test_no_module_is_over_600_lines() -> None:
    """Small modules: each does one thing."""
    sizes = {
        str(p.relative_to(PACKAGE)): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")
    }
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


_REACH_IN = re.compile(r"\b(?:session|_session)\._[a-z]\w*")


def test_nothing_outside_the_session_module_touches_a_sessions_private_names() -> None:
    """No ``session._x`` outside ``_session.py``: collaborators get what they need, narrowly."""
    offenders = [
        f"{p.relative_to(PACKAGE)}: {match}"
        for p in PACKAGE.rglob("*.py")
        if p.name != "_session.py"
        for match in _REACH_IN.findall(p.read_text())
    ]
    assert offenders == []


def _private_names(tree: ast.AST) -> tuple[set[str], list[tuple[int, str]]]:
    """The ``_names`` a module defines (functions, classes, attributes it sets), and those it reads."""
    defined: set[str] = set()
    read: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
        elif isinstance(node, ast.Attribute):
            if isinstance(node.ctx, ast.Store):
                defined.add(node.attr)
            elif node.attr.startswith("_") and not node.attr.startswith("__"):
                read.append((node.lineno, node.attr))
    return defined, read


def test_nothing_reads_a_dependencys_private_attributes() -> None:
    """Every ``x._name`` the package reads is a name the package defines itself.

    A private attribute of aiohttp, asyncio, enum or any other dependency can
    change in any release; the package uses their public API only.
    """
    trees = {p: ast.parse(p.read_text()) for p in PACKAGE.rglob("*.py")}
    found = [_private_names(tree) for tree in trees.values()]
    ours = set().union(*(defined for defined, _ in found))
    offenders = [
        f"{path.relative_to(PACKAGE)}:{line}: .{name}"
        for path, (_, read) in zip(trees, found, strict=True)
        for line, name in read
        if name not in ours
    ]
    assert offenders == []


def _package_classes() -> set[type]:
    """Every class the SDK's modules define (the CLI and the emulator aside)."""
    import importlib
    import pkgutil

    import agencyaccess_async

    names = [
        module.name
        for module in pkgutil.walk_packages(agencyaccess_async.__path__, "agencyaccess_async.")
        if not any(part in module.name for part in (".emulator", "._cli", "__main__"))
    ]
    return {
        value
        for name in names
        for value in vars(importlib.import_module(name)).values()
        if inspect.isclass(value) and value.__module__ == name
    }


_WRITES = re.compile(r"self\.(_[a-z]\w*)(?:: [^=]+)? = ")


def test_no_subclass_in_the_package_overrides_or_writes_its_bases_private_names() -> None:
    """A subclass composes through its base's seams, never by replacing its internals.

    ``RedisLimiter`` once overrode ``Limiter``'s ``_admit``, ``_hold`` and
    ``_observe`` and wrote its ``_interval``: any change inside ``Limiter`` could
    break it unseen. A private name a subclass may set is declared for it on the
    base as a class attribute (``Limiter._shared``), which this allows. Enum's own
    ``_sunder_`` names are enum's.
    """
    offenders = []
    for cls in _package_classes():
        bases = [base for base in cls.__mro__[1:] if base.__module__.startswith(PACKAGE.name)]
        if not bases:
            continue
        private = {
            name
            for base in bases
            for name, value in vars(base).items()
            if name.startswith("_") and not name.startswith("__") and not name.endswith("_")
        }
        methods = {name for base in bases for name in private if callable(vars(base).get(name))}
        written = {name for base in bases for name in _WRITES.findall(inspect.getsource(base))}
        offenders += [
            f"{cls.__qualname__}.{name} overrides" for name in vars(cls) if name in methods
        ]
        offenders += [
            f"{cls.__qualname__} writes .{name}"
            for name in set(_WRITES.findall(inspect.getsource(cls))) & (written - private)
        ]
    assert offenders == []


def test_the_sdk_route_table_and_the_emulators_agree() -> None:
    """Every operation has the same path and capability in the SDK and in the emulator."""
    sdk = {route.path: (route.operation, route.capability) for route in ROUTES.values()}
    emulator = {path: (row.operation, row.capability) for path, row in EMULATOR_ROUTES.items()}
    assert sdk == emulator


@pytest.mark.parametrize(
    ("method", "model"),
    [
        (Clients.create, NewClient),
        (Clients.update, ClientUpdate),
        (Links.create, NewLink),
        (Links.update, LinkUpdate),
    ],
)
def test_endpoint_keywords_are_the_request_models_fields(method: Any, model: type) -> None:
    """Adding a field to a request model without exposing it (or the reverse) fails here."""
    # **options: the per-call CallOptions; the idempotency keywords steer the SDK's own entry.
    options = {"options", "idempotency_key", "keep_idempotency_key", "self"}
    parameters = set(inspect.signature(method).parameters) - options
    assert parameters == {field.name for field in attrs.fields(model)}
