"""The contract's field limits: one source for the models' checks, the CLI's rows and the emulator.

Plain data, like the catalog, so that the emulator may share it without
sharing any of the SDK's code.
"""

from __future__ import annotations

__all__ = [
    "COMPANY_MAX",
    "EMAIL_MAX",
    "LIST_LIMIT_MAX",
    "METADATA_KEYS_MAX",
    "METADATA_KEY_MAX",
    "METADATA_VALUE_MAX",
    "NAME_MAX",
    "THANK_YOU_MAX",
    "URL_MAX",
]

NAME_MAX = 200
EMAIL_MAX = 320
COMPANY_MAX = 200
URL_MAX = 2048
#: A client's metadata: at most this many keys, each key and value this long at most.
METADATA_KEYS_MAX = 50
METADATA_KEY_MAX = 40
METADATA_VALUE_MAX = 500
THANK_YOU_MAX = 1000
LIST_LIMIT_MAX = 100
