"""Validation of raw request bodies, written against the contract alone.

The emulator never imports the SDK's models or converter: it checks the raw
JSON itself, so a wire-format mistake in the SDK fails a test instead of
being mirrored here. Every failure is an ``ApiFailure`` with the contract's
status and message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlparse

import attrs

from .._contract import (
    CATALOG,
    CLIENT_TYPES,
    COMPANY_MAX,
    EMAIL_MAX,
    LANGUAGES,
    LIST_LIMIT_MAX,
    METADATA_KEY_MAX,
    METADATA_KEYS_MAX,
    METADATA_VALUE_MAX,
    NAME_MAX,
    READ_ONLY_LEVELS,
    THANK_YOU_MAX,
    URL_MAX,
)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SEARCH_MAX = 200
_SEARCH = (
    "case-insensitive substring of name, company or email; or an exact clientID or metadata value"
)


class ApiFailure(Exception):
    """An error answer: HTTP status and the envelope's message."""

    def __init__(self, status: int, msg: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(msg)
        self.status = status
        self.msg = msg
        self.headers = dict(headers or {})


def invalid(path: str, reason: str) -> ApiFailure:
    return ApiFailure(400, f"Invalid field {path}: {reason}")


def bad_service(path: str, reason: str) -> ApiFailure:
    return ApiFailure(400, f"Requested service is invalid. {path}: {reason}")


# ------------------------------------------------------------ field rules
Check = Callable[[str, Any], Any]


@attrs.frozen
class Rule:
    """A field's check and its JSON Schema.

    The one source of both the emulator's validation and the OpenAPI
    document it serves (``_openapi.py``).
    """

    check: Check
    schema: Mapping[str, Any]

    def __call__(self, path: str, value: Any) -> Any:
        return self.check(path, value)


def text(min_len: int, max_len: int) -> Rule:
    def check(path: str, value: Any) -> Any:
        if not isinstance(value, str):
            raise invalid(path, "must be a string")
        if not min_len <= len(value) <= max_len:
            raise invalid(path, f"must be {min_len}-{max_len} characters")
        return value

    schema: dict[str, Any] = {"type": "string", "maxLength": max_len}
    if min_len:
        schema["minLength"] = min_len
    return Rule(check, schema)


def described(rule: Rule, description: str) -> Rule:
    """``rule`` with a description for the OpenAPI document."""
    return Rule(rule.check, {**rule.schema, "description": description})


def nullable(rule: Rule) -> Rule:
    def nullable_check(path: str, value: Any) -> Any:
        return None if value is None else rule(path, value)

    schema = dict(rule.schema)
    schema["type"] = [schema["type"], "null"]
    if "enum" in schema:
        schema["enum"] = [*schema["enum"], None]
    return Rule(nullable_check, schema)


def _email(path: str, value: Any) -> Any:
    if not isinstance(value, str) or len(value) > EMAIL_MAX or not _EMAIL.match(value):
        raise invalid(path, "must be a valid e-mail address")
    return value


email = Rule(_email, {"type": "string", "format": "email", "maxLength": EMAIL_MAX})


def _http_url(path: str, value: Any) -> Any:
    if not isinstance(value, str) or len(value) > URL_MAX:
        raise invalid(path, "must be an http(s) URL")
    parts = urlparse(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid(path, "must be an http(s) URL")
    return value


http_url = Rule(
    _http_url,
    {"type": "string", "format": "uri", "maxLength": URL_MAX, "description": "an http(s) URL"},
)


def one_of(*choices: str) -> Rule:
    def check(path: str, value: Any) -> Any:
        if value not in choices or not isinstance(value, str):
            raise invalid(path, f"must be one of {', '.join(choices)}")
        return value

    return Rule(check, {"type": "string", "enum": list(choices)})


def _boolean(path: str, value: Any) -> Any:
    if not isinstance(value, bool):
        raise invalid(path, "must be true or false")
    return value


boolean = Rule(_boolean, {"type": "boolean"})


def _identifier(path: str, value: Any) -> Any:
    if not isinstance(value, str) or not value:
        raise invalid(path, "must be a non-empty string")
    return value


identifier = Rule(_identifier, {"type": "string", "minLength": 1})


def _limit(path: str, value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON has one number type: 39.0 is the integer 39
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= LIST_LIMIT_MAX:
        raise invalid(path, f"must be an integer from 1 to {LIST_LIMIT_MAX}")
    return value


limit = Rule(_limit, {"type": "integer", "minimum": 1, "maximum": LIST_LIMIT_MAX, "default": 50})


def check_text(value: Any, path: str = "body") -> None:
    """Refuse a string that cannot be written back as UTF-8 (a lone surrogate), naming its path."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise invalid(path, "not valid Unicode (a lone surrogate)") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, path)
            check_text(item, f"{path}.{key}" if path != "body" else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_text(item, f"{path}[{index}]")


def _metadata(path: str, value: Any) -> Any:
    if not isinstance(value, dict):
        raise invalid(path, "must be an object of strings")
    if len(value) > METADATA_KEYS_MAX:
        raise invalid(path, f"at most {METADATA_KEYS_MAX} keys")
    for key, item in value.items():
        if not 1 <= len(key) <= METADATA_KEY_MAX:
            raise invalid(f"{path}.{key}", f"keys must be 1-{METADATA_KEY_MAX} characters")
        if not isinstance(item, str) or len(item) > METADATA_VALUE_MAX:
            reason = f"must be a string of at most {METADATA_VALUE_MAX} characters"
            raise invalid(f"{path}.{key}", reason)
    return dict(value)


metadata = Rule(
    _metadata,
    {
        "type": "object",
        "maxProperties": METADATA_KEYS_MAX,
        "propertyNames": {"minLength": 1, "maxLength": METADATA_KEY_MAX},
        "additionalProperties": {"type": "string", "maxLength": METADATA_VALUE_MAX},
    },
)


def _requested_services(path: str, value: Any) -> Any:
    """Check the shape only; the catalog and accounts are checked by ``check_services``."""
    if not isinstance(value, dict) or not value:
        raise invalid(path, "at least one platform is required")
    for platform, services in value.items():
        if platform not in CATALOG:
            raise bad_service(f"{path}.{platform}", "unknown platform")
        if not isinstance(services, dict) or not services:
            raise invalid(f"{path}.{platform}", "at least one service is required")
        for service, entry in services.items():
            _check_entry(f"{path}.{platform}.{service}", platform, service, entry)
    return value


requested_services = Rule(_requested_services, {"$ref": "#/components/schemas/RequestedServices"})


def _check_entry(path: str, platform: str, service: str, entry: Any) -> None:
    levels = CATALOG[platform].get(service)
    if levels is None:
        raise bad_service(path, "unknown service")
    if not isinstance(entry, dict):
        raise invalid(path, "must be an object")
    # Other keys of an entry (the dashboard's agencyAccountName) are ignored.
    if not isinstance(entry.get("agencyAccountID"), str) or not entry["agencyAccountID"]:
        raise invalid(f"{path}.agencyAccountID", "required, a string")
    level = entry.get("accessLevel")
    if levels and "accessLevel" not in entry:
        raise invalid(f"{path}.accessLevel", "required")
    if not levels and "accessLevel" in entry:
        raise bad_service(f"{path}.accessLevel", "this service has no access levels")
    if levels and level not in levels:
        raise bad_service(f"{path}.accessLevel", f"unknown access level {level!r}")


def check_services(
    services: dict[str, Any],
    accounts: Mapping[str, Mapping[str, Any]],
    prospect: bool,
) -> None:
    """Accounts must exist on the same platform and not be expired; prospects read-only."""
    for platform, entries in services.items():
        for service, entry in entries.items():
            account = accounts.get(entry["agencyAccountID"])
            if account is None or account["platform"] != platform or account["expired"]:
                raise ApiFailure(
                    400,
                    f"Connected agency account is missing or expired. {entry['agencyAccountID']}",
                )
            read_only = READ_ONLY_LEVELS.get((platform, service))
            if prospect and read_only is not None and entry.get("accessLevel") != read_only:
                raise ApiFailure(
                    400,
                    "Prospect clients may only request read-only access: "
                    f"requestedServices.{platform}.{service}.accessLevel",
                )


# ------------------------------------------------------------ body schemas
Schema = Mapping[str, tuple[bool, Rule]]  # field -> (required, rule)

NEW_CLIENT: Schema = {
    "name": (True, text(1, NAME_MAX)),
    "email": (True, email),
    "company": (False, nullable(text(0, COMPANY_MAX))),
    "website": (False, nullable(http_url)),
    "type": (False, one_of(*CLIENT_TYPES)),
    "language": (False, one_of(*LANGUAGES)),
    "metadata": (False, metadata),
}
CLIENT_CHANGES: Schema = {
    "clientID": (True, identifier),
    **{name: (False, check) for name, (_, check) in NEW_CLIENT.items()},
}
NEW_LINK: Schema = {
    "clientID": (True, identifier),
    "requestedServices": (True, requested_services),
    "intakeForm": (False, boolean),
    "sendEmail": (False, boolean),
    "thankYouMessage": (False, nullable(text(0, THANK_YOU_MAX))),
    "redirectURL": (False, nullable(http_url)),
}
LINK_CHANGES: Schema = {
    "linkID": (True, identifier),
    **{name: (False, check) for name, (_, check) in NEW_LINK.items() if name != "clientID"},
}
CLIENT_REF: Schema = {"clientID": (True, identifier)}
LINK_REF: Schema = {"linkID": (True, identifier)}
LIST_QUERY: Schema = {
    "limit": (False, limit),
    "cursor": (False, nullable(identifier)),
    "search": (False, described(nullable(text(0, SEARCH_MAX)), _SEARCH)),
    "type": (False, nullable(one_of(*CLIENT_TYPES))),
}
LINK_LIST_QUERY: Schema = {**LIST_QUERY, "clientID": (False, identifier)}

#: Every body schema by the name the OpenAPI document gives it.
SCHEMAS: Mapping[str, Schema] = {
    "NewClient": NEW_CLIENT,
    "ClientChanges": CLIENT_CHANGES,
    "ClientRef": CLIENT_REF,
    "NewLink": NEW_LINK,
    "LinkChanges": LINK_CHANGES,
    "LinkRef": LINK_REF,
    "ListQuery": LIST_QUERY,
    "LinkListQuery": LINK_LIST_QUERY,
}


def validate(body: Any, schema: Schema, *, at_least_one_change: bool = False) -> dict[str, Any]:
    """Check ``body`` against ``schema``; return it as a dict or raise ``ApiFailure``."""
    if not isinstance(body, dict):
        raise ApiFailure(400, "Invalid JSON body")
    for name in body:
        if name not in schema:
            raise invalid(name, "unknown field")
    for name, (required, check) in schema.items():
        if name in body:
            body[name] = check(name, body[name])
        elif required:
            raise invalid(name, "required")
    if at_least_one_change and len(body) < 2:
        raise invalid("body", "at least one field to change is required")
    return body
