"""OpenAPI: the error answers every operation can give, in the one shape
``web.api_errors`` writes (``{"detail": ...}`` plus field errors).

drf-spectacular documents only the success codes an ``extend_schema`` names;
this post-processing hook adds the 4xx codes each kind of operation answers,
so the schema tells clients (and schemathesis) what a refusal looks like.
"""

from __future__ import annotations

ERROR = {
    "type": "object",
    "properties": {"detail": {}},
    "required": ["detail"],
    "additionalProperties": True,
}
REASONS = {
    "400": "The input is invalid; detail names the field.",
    "401": "No valid credentials.",
    "403": "The caller's role does not allow this.",
    "404": "No such object, or not visible to the caller.",
    "405": "Method not allowed.",
    "415": "Unsupported media type.",
    "429": "Too many requests.",
}


def error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR
    ref = {"$ref": "#/components/schemas/Error"}
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            codes = ["400", "401", "403", "404", "405", "429"]
            if method in ("post", "put", "patch"):
                codes.append("415")
            for code in codes:
                operation["responses"].setdefault(
                    code,
                    {
                        "description": REASONS[code],
                        "content": {"application/json": {"schema": ref}},
                    },
                )
    return result
