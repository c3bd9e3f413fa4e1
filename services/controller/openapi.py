"""The OpenAPI document, with every error response each operation can give, as problem details.

The errors an operation can answer follow from what it is: any request can be refused for its
host (400), its size (413) or a query parameter the operation does not take (422), and any can fail
(500); `/api` ones need a token (401, 403); one with parameters or a body can be invalid (422); one naming an experiment can find none (404); one that
changes something can be sent without JSON (415). What only some operations answer (409, 429,
503) their routes declare. Each error's media type is `application/problem+json`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from seedrl.controller.auth import API_PREFIX, TokenAuth
from seedrl.controller.models import Problem
from seedrl.controller.problems import MEDIA_TYPE
from seedrl.spec.experiment import ExperimentSpec

REFERENCE = "#/components/schemas/{model}"

WHEN = {
    400: "The Host is not served here, or the request is malformed",
    401: "No API token",
    403: "Wrong API token, or a cross-site change without one",
    404: "No such experiment or checkpoint",
    409: "Conflicts with the experiment's state or a bound of the controller",
    413: "The request body is too large",
    415: "A change without a JSON body (when the API has no token)",
    422: "Invalid input, naming the field",
    429: "Too much work queued; see Retry-After",
    500: "An internal error (no details of the server)",
    503: "Not ready",
}


def declared(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route that can answer `statuses` besides the ones every operation of its kind gets."""
    return {status: {"model": Problem, "description": WHEN[status]} for status in statuses}


def _statuses(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    statuses = {400, 413, 422, 500}  # 422: a query parameter it does not take (known_query), or invalid input
    if path.startswith(API_PREFIX):
        statuses |= {401, 403}
    if "{name}" in path:
        statuses.add(404)
    if method in ("post", "put", "patch"):
        statuses.add(415)
    return statuses


def document(app: FastAPI, auth: TokenAuth) -> dict[str, Any]:
    """The app's OpenAPI document with its error responses completed and, where `auth` asks for the token,
    its bearer security (cached on the app)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("Problem", Problem.model_json_schema(ref_template=REFERENCE))
    # The create body's schema as validation reads it (the responses' copies differ in shown defaults only).
    spec = ExperimentSpec.model_json_schema(ref_template=REFERENCE)
    components.update(spec.pop("$defs", {}), ExperimentSpec=spec)
    reference = {"$ref": "#/components/schemas/Problem"}
    if auth.enabled:
        schema["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if auth.needs_token(method, path):
                operation["security"] = [{"bearer": []}]
            responses = operation.setdefault("responses", {})
            wanted = _statuses(path, method, operation) | {int(code) for code in responses if code.isdigit() and int(code) >= 400}
            for status in sorted(wanted):
                responses[str(status)] = {"description": WHEN[status], "content": {MEDIA_TYPE: {"schema": reference}}}
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    app.openapi_schema = schema
    return schema
