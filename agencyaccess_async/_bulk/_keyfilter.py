"""Which keys a journal may hold, in a fixed 128 KiB: a Bloom filter.

A journaled row first asks the journal for its key's state, and for nearly
every row of a job (all of a new one) the answer is "none". The filter
answers that without a SQLite query: a key never added is never reported
present, so a "no" is certain; a "maybe" (a key added, or a false positive:
about 3% at 100,000 keys, more beyond) sends the question on to SQLite.
Its memory does not grow with the rows, where a set of the keys would.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["KeyFilter"]

_BITS = 1 << 20  # 128 KiB
_MASK = _BITS - 1


class KeyFilter:
    """A set of strings that may answer "maybe" for one never added, never "no" for one added.

    Two bits a key, both taken from the key's ``hash()`` (which is random per
    process: the filter lives only as long as the journal is open).
    """

    __slots__ = ("_bits",)

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._bits = bytearray(_BITS >> 3)
        for key in keys:
            self.add(key)

    def add(self, key: str) -> None:
        """Remember ``key``."""
        first, first_mask, second, second_mask = _places(key)
        self._bits[first] |= first_mask
        self._bits[second] |= second_mask

    def __contains__(self, key: object) -> bool:
        """False only if ``key`` was never added."""
        first, first_mask, second, second_mask = _places(key)
        return bool(self._bits[first] & first_mask and self._bits[second] & second_mask)


def _places(key: object) -> tuple[int, int, int, int]:
    """The key's two bits, each as its byte's index and its mask in that byte."""
    code = hash(key)
    first, second = code & _MASK, (code >> 32) & _MASK
    return first >> 3, 1 << (first & 7), second >> 3, 1 << (second & 7)
