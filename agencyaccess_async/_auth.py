"""Where the API key comes from, and the type that carries it without ever showing it.

The key is a secret of the caller's (often one of many: a platform holds a
key per agency), so three rules hold here:

- **It is never shown.** It travels as an ``APIKey``, whose ``repr``, ``str``
  and format are redacted, so a traceback rendered with frame locals, a log
  line or a debugger shows ``APIKey('***')``. Only a transport, at the very
  last moment, calls ``reveal()`` to put it on the wire.
- **It is read for each attempt.** A ``KeySource`` holds either a fixed key
  or a callable (sync or async) that returns one, so a secrets manager can
  rotate it; a retry after ``session.api_key = new`` carries the new key.
- **It is never guessed.** An explicit ``None`` or ``""`` is an error, not a
  fall back to the environment: a tenant whose key is not stored yet must
  not run with the platform's own key.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import os
import typing
from collections.abc import Awaitable
from pathlib import Path

from ._errors import SessionError

__all__ = [
    "KEY_ENV",
    "KEY_FILE_ENV",
    "APIKey",
    "KeyProvider",
    "KeySource",
    "clean_key",
    "key_from_environment",
]

#: The environment variable that holds the key, and the one naming a file that does
#: (the Docker and Kubernetes secrets convention).
KEY_ENV = "AGENCYACCESS_API_KEY"
KEY_FILE_ENV = "AGENCYACCESS_API_KEY_FILE"

#: A callable returning the key, sync or async: called for each attempt. (typing's
#: Callable: on Python 3.10 collections.abc's subscripted form passes for a class.)
KeyProvider = typing.Callable[[], str | Awaitable[str]]


class APIKey:
    """An API key that never shows itself: ``repr``, ``str`` and formatting are redacted.

    ``reveal()`` is the one way to the text, for a transport putting it on the
    wire. Two keys compare equal in constant time.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = clean_key(value)

    def reveal(self) -> str:
        """The key's text: for a transport's header, never for a log or a message."""
        return self._value

    @property
    def fingerprint(self) -> str:
        """A short hash that tells keys apart and never reveals one (safe to store)."""
        digest = hashlib.sha256(b"agencyaccess-key\n" + self._value.encode())
        return digest.hexdigest()[:16]

    def __repr__(self) -> str:
        return "APIKey('***')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, APIKey):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("an APIKey is not pickled: pass the key itself, knowingly")


class KeySource:
    """The key of each attempt: a fixed ``APIKey``, or a provider called every time.

    ``fixed`` is the key when it is one; ``refreshable`` is true for a
    provider: after a 401 the call reads the key once more and retries once,
    in case the secret was rotated meanwhile. ``last`` is the key read last
    (the fixed key at once; a provider's after its first call).
    """

    __slots__ = ("_provider", "fixed", "last", "refreshable")

    fixed: APIKey | None
    last: APIKey | None
    refreshable: bool

    def __init__(self, key: str | APIKey | KeyProvider | None) -> None:
        self.set(key)

    def set(self, key: str | APIKey | KeyProvider | None) -> None:
        """Read ``key`` from now on (a rotation): every view sharing this source sees it."""
        provider: KeyProvider | None = None
        fixed: APIKey | None = None
        if key is None:
            pass  # no key anywhere: the first call says so
        elif isinstance(key, APIKey):
            fixed = key
        elif isinstance(key, str):
            if not key.strip():
                raise SessionError(
                    "api_key is empty; pass the key, or omit it to read the environment"
                )
            fixed = APIKey(key)
        elif callable(key):
            provider = key
        else:
            raise SessionError(
                f"api_key must be a str or a callable returning one, not {type(key).__name__}"
            )
        self._provider = provider
        self.fixed = self.last = fixed
        self.refreshable = provider is not None

    def __repr__(self) -> str:
        return "<KeySource provider>" if self._provider else "<KeySource fixed>"

    async def read(self) -> APIKey:
        """The key for the next attempt; a ``SessionError`` if there is none.

        A provider that raises fails the call with its own error (chained by
        the caller); nothing is sent.
        """
        if self._provider is None:
            if self.fixed is None:
                raise SessionError(
                    f"no API key: pass Session(api_key=...), or set ${KEY_ENV} or ${KEY_FILE_ENV}"
                )
            return self.fixed
        value = self._provider()
        if inspect.isawaitable(value):
            value = await value
        if not isinstance(value, str) or not value.strip():
            raise SessionError(
                f"the api_key provider returned {type(value).__name__ if value else 'no key'}, "
                "not a key"
            )
        self.last = APIKey(value)
        return self.last


def clean_key(key: str) -> str:
    """The key without surrounding whitespace; a ``SessionError`` if it cannot be a header.

    A key read from a file or a ``.env`` often ends with a newline: that is
    stripped. A control or non-ASCII character inside it would be refused by
    the HTTP library as header injection; it is refused here, with a message
    that never shows the key.
    """
    key = key.strip()
    for position, char in enumerate(key):
        if not " " <= char <= "~":
            raise SessionError(
                f"the API key has a control or non-ASCII character at position {position}; "
                "check how it was copied"
            )
    return key


def key_from_environment() -> str | None:
    """``$AGENCYACCESS_API_KEY``, else the stripped contents of ``$AGENCYACCESS_API_KEY_FILE``."""
    key = os.environ.get(KEY_ENV)
    if key:
        return key
    path = os.environ.get(KEY_FILE_ENV)
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError) as exc:
        raise SessionError(
            f"${KEY_FILE_ENV} names {path!r}, which cannot be read: {type(exc).__name__}"
        ) from None
