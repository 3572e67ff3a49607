"""The ``__getattr__`` of a public module: names bound on first use, and deprecated aliases.

``import agencyaccess_async`` stays light: the bulk helpers bring sqlite3 and
the default transport brings aiohttp, so their names are imported when first
used. A name that moved (to ``lowlevel``, ``types`` or ``testing``) or was
renamed keeps working until ``REMOVED_IN``, with a ``DeprecationWarning`` that
names its new home (the CHANGELOG's migration table lists them all).
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["REMOVED_IN", "module_getattr"]

#: The release that drops the deprecated aliases (they live for one minor release).
REMOVED_IN = "0.3.0"


def module_getattr(
    module_name: str,
    lazy: Mapping[str, str],
    *,
    moved: Mapping[str, str] | None = None,
    extras: Mapping[str, str] | None = None,
) -> Callable[[str], Any]:
    """Return the ``__getattr__`` of the public module ``module_name``.

    ``lazy`` maps a name to the private module it is imported from on first
    use (relative to the package); the value is then bound in the module, so
    the next access is a plain attribute. ``moved`` maps a deprecated name to
    ``"module:name"``, its replacement, fetched (and warned about) on every
    access. ``extras`` maps a private module to the extra that installs what it
    needs, for an import error that says what to install.
    """
    moved = moved or {}
    extras = extras or {}

    def __getattr__(name: str) -> Any:
        if name in moved:
            where, _, new = moved[name].partition(":")
            warnings.warn(
                f"{module_name}.{name} is deprecated and will be removed in {REMOVED_IN}: "
                f"use {where}.{new}",
                DeprecationWarning,
                stacklevel=2,
            )
            return getattr(importlib.import_module(where), new)
        if name not in lazy:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        private = lazy[name]
        try:
            module = importlib.import_module(private, "agencyaccess_async")
        except ModuleNotFoundError as missing:
            if private not in extras:
                raise  # not an extra: the environment lacks it (sqlite3, aiohttp)
            raise ImportError(
                f"{name} needs {missing.name}: pip install 'agencyaccess-async[{extras[private]}]'"
            ) from missing
        value = getattr(module, name)
        setattr(sys.modules[module_name], name, value)
        return value

    return __getattr__
