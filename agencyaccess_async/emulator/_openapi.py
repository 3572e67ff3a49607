"""The OpenAPI document of the emulator, built from its own tables.

One source: the paths come from the route table (``_app.ROUTES``), the body
schemas from the validation rules (``_validate.SCHEMAS``, each rule carrying
its JSON Schema), the answers' records from the same rules plus the fields
only the server sets, and the platforms from the catalog. The emulator
serves it at ``/_emulator/openapi.json``; ``agencyaccess-async emulator
--print-openapi`` writes it out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._contract import CATALOG, GRANT_STATUSES, INTAKE_FORM_STATUSES, LINK_STATUSES
from . import _validate as v
from ._app import ROUTES

__all__ = ["openapi_document"]

_TIMESTAMP = {
    "type": "string",
    "format": "date-time",
    "description": "ISO 8601, UTC, with a Z suffix",
}
_ERROR = {"$ref": "#/components/schemas/Error"}
_HEADERS = {
    "X-RateLimit-Limit": {
        "schema": {"type": "integer"},
        "description": "requests allowed per window",
    },
    "X-RateLimit-Remaining": {"schema": {"type": "integer"}},
    "X-RateLimit-Reset": {
        "schema": {"type": "number"},
        "description": "seconds until the window resets",
    },
    "X-Request-ID": {
        "schema": {"type": "string"},
        "description": "echoes the caller's X-Request-ID, or a generated one",
    },
}  # fmt: skip
#: The failures every route may answer, by status.
_FAILURES = {
    "400": "Invalid body, field, service, agency account, intake form or prospect rule",
    "401": "Missing or invalid API key.",
    "403": "Key does not have the required capability.",
    "404": "Unknown route, client or access request",
    "413": "Body over 1 MiB",
    "415": "The body is not sent as application/json",
    "429": "Rate limit exceeded",
}


def _object(schema: v.Schema, *, changes: bool = False) -> dict[str, Any]:
    """A body schema from a validation table: its fields, which are required, nothing else."""
    document: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": [name for name, (required, _) in schema.items() if required],
        "properties": {name: dict(rule.schema) for name, (_, rule) in schema.items()},
    }
    if not document["required"]:
        del document["required"]
    if changes:
        document["minProperties"] = 2  # the id and at least one change
    return document


def _record(schema: v.Schema, extra: Mapping[str, Any]) -> dict[str, Any]:
    """An answer's record: the fields a body sets, as the server returns them, and its own."""
    properties = {name: dict(rule.schema) for name, (_, rule) in schema.items()}
    properties.update(extra)
    return {
        "type": "object",
        "additionalProperties": True,
        "required": list(properties),
        "properties": properties,
    }


def _components() -> dict[str, Any]:
    schemas: dict[str, Any] = {
        name: _object(schema, changes=name.endswith("Changes"))
        for name, schema in v.SCHEMAS.items()
    }
    schemas["ServiceEntry"] = {
        "type": "object",
        "additionalProperties": True,
        "required": ["agencyAccountID"],
        "properties": {
            "accessLevel": {"type": "string"},
            "agencyAccountID": {"type": "string", "minLength": 1},
        },
        "description": "accessLevel is required for services with levels and absent otherwise; "
        "other keys (the dashboard's agencyAccountName) are ignored",
    }
    schemas["RequestedServices"] = {
        "type": "object",
        "minProperties": 1,
        "propertyNames": {"enum": list(CATALOG)},
        "additionalProperties": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {"$ref": "#/components/schemas/ServiceEntry"},
        },
        "description": "platform -> service -> ServiceEntry; see the catalog in API-CONTRACT.md",
    }
    schemas["Client"] = _record(
        v.NEW_CLIENT,
        {"clientID": {"type": "string", "pattern": "^cl_"}, "createdAt": _TIMESTAMP,
         "updatedAt": _TIMESTAMP},
    )  # fmt: skip
    schemas["Grant"] = {
        "type": "object",
        "additionalProperties": True,
        "required": [
            "platform",
            "service",
            "accessLevel",
            "agencyAccountID",
            "status",
            "grantedAt",
        ],
        "properties": {
            "platform": {"type": "string"},
            "service": {"type": "string"},
            "accessLevel": {"type": ["string", "null"]},
            "agencyAccountID": {"type": "string"},
            "status": {"type": "string", "enum": list(GRANT_STATUSES)},
            "grantedAt": {"type": ["string", "null"], "format": "date-time"},
        },
    }
    schemas["AccessPageSource"] = {
        "type": "object",
        "additionalProperties": True,
        "required": ["accessPageID", "name"],
        "properties": {"accessPageID": {"type": "string"}, "name": {"type": "string"}},
    }
    schemas["Link"] = _record(
        v.NEW_LINK,
        {
            "clientID": {"type": "string"},
            "linkID": {"type": "string", "pattern": "^ln_"},
            "inviteUrl": {"type": "string", "format": "uri"},
            "status": {"type": "string", "enum": list(LINK_STATUSES)},
            "grants": {"type": "array", "items": {"$ref": "#/components/schemas/Grant"}},
            "intakeFormStatus": {
                "type": "string", "enum": list(INTAKE_FORM_STATUSES),
            },
            "source": {
                "anyOf": [{"type": "null"}, {"$ref": "#/components/schemas/AccessPageSource"}],
            },
            "createdAt": _TIMESTAMP,
            "updatedAt": _TIMESTAMP,
        },
    )  # fmt: skip
    for name, id_field in (("DeletedClient", "clientID"), ("DeletedLink", "linkID")):
        schemas[name] = {
            "type": "object",
            "required": [id_field, "deleted"],
            "properties": {
                id_field: {"type": "string"},
                "deleted": {"const": True, "type": "boolean"},
            },
        }
    schemas["Error"] = {
        "type": "object",
        "required": ["error", "msg"],
        "properties": {"error": {"type": "boolean", "const": True}, "msg": {"type": "string"}},
    }
    return {
        "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-Auth"}},
        "schemas": schemas,
    }


def _success(answer: str, paged: bool) -> dict[str, Any]:
    record = {"$ref": f"#/components/schemas/{answer}"}
    properties: dict[str, Any] = {"error": {"type": "boolean", "const": False}, "data": record}
    required = ["error", "data"]
    if paged:
        properties["data"] = {"type": "array", "items": record}
        properties["nextCursor"] = {"type": ["string", "null"]}
        required.append("nextCursor")
    schema = {"type": "object", "required": required, "properties": properties}
    return {
        "description": "Success",
        "headers": _HEADERS,
        "content": {"application/json": {"schema": schema}},
    }


def _paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for path, route in ROUTES.items():
        responses = {"200": _success(route.answer, route.paged)}
        for status, description in _FAILURES.items():
            headers = dict(_HEADERS)
            if status == "429":
                headers["Retry-After"] = {"schema": {"type": "number"}, "description": "seconds"}
            responses[status] = {
                "description": description,
                "headers": headers,
                "content": {"application/json": {"schema": _ERROR}},
            }
        verb, noun = route.operation.split(".")[1], route.operation.split(".")[0]
        paths[path] = {
            "post": {
                "operationId": route.operation,
                "summary": f"{verb} {'access requests' if noun == 'links' else noun}",
                "description": f"Needs the capability `{route.capability}`.",
                "x-capability": route.capability,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": f"#/components/schemas/{route.body}"}
                        }
                    },
                },
                "responses": responses,
            }
        }
    return paths


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every public route, as the emulator serves them."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "AgencyAccess API (as served by the agencyaccess-async emulator)",
            "version": "1.0.0",
            "description": "Every call is a POST with a JSON object body; the API key goes in "
            "X-Auth. A client must check `error` on every answer, whatever the status.",
        },
        "servers": [
            {"url": "https://api.agencyaccess.co"},
            {"url": "http://127.0.0.1:8765", "description": "the emulator"},
        ],
        "security": [{"apiKey": []}],
        "paths": _paths(),
        "components": _components(),
    }
