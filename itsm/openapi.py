"""The error answers every API operation can give, written into the OpenAPI schema.

drf-spectacular documents what a view returns when it succeeds; the errors come
from places it does not see (authentication, permissions, throttling, the
exception handler in itsm/api.py). A client generated from the schema, or a
fuzzer checking it, must find every status code the API can answer.
"""

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}
FIELD_ERRORS = {"$ref": "#/components/schemas/FieldErrors"}

COMPONENTS = {
    "Error": {
        "type": "object",
        "description": "A refusal: `detail` says why; some carry a `code` and more facts (a 409 the allowed transitions).",
        "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
        "required": ["detail"],
        "additionalProperties": True,
    },
    "FieldErrors": {
        "type": "object",
        "description": "Bad input: each field (or `non_field_errors`, or `detail`) with its messages.",
        "additionalProperties": True,
    },
}

WRITES = {"post", "put", "patch", "delete"}


def _answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors_of(method: str, operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    parameters = operation.get("parameters", [])
    in_path = any(p.get("in") == "path" for p in parameters)
    in_query = any(p.get("in") == "query" for p in parameters)
    errors = {
        "401": _answer("No valid credentials.", ERROR),
        "403": _answer("This user may not do this.", ERROR),
        "429": _answer("Too many requests; see Retry-After.", ERROR),
        "503": _answer("The database is not reachable; see Retry-After.", ERROR),
    }
    if method in WRITES or in_query or "requestBody" in operation:
        errors["400"] = _answer("Bad input, field by field.", FIELD_ERRORS)
    if "requestBody" in operation:
        errors["415"] = _answer("A body in a media type this operation does not read.", ERROR)
    if in_path or in_query:
        # An unknown object in the path, or a page cursor that is not one of ours.
        errors["404"] = _answer("Not found.", ERROR)
    if method in WRITES:
        errors["409"] = _answer("Conflicts with the object's state or with another change.", ERROR)
    return errors


def document_error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing hook: add the error answers to every operation."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(COMPONENTS)
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for status, answer in _errors_of(method, operation).items():
                operation["responses"].setdefault(status, answer)
    return result
