"""Query parameters a route does not declare are refused (422 naming each), not ignored.

A misspelt option (`DELETE /api/v1/experiments/x?forse=true`) would otherwise do what the request
did not ask for, and answer as if it had.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute


def declared_query(dependant: Dependant) -> set[str]:
    """The query parameter names `dependant` and its sub-dependencies read (their aliases)."""
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= declared_query(sub)
    return names


async def known_query_only(request: Request) -> None:
    """Raise RequestValidationError for each query parameter the matched route does not declare."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    declared = declared_query(route.dependant)
    unknown = sorted(set(request.query_params) - declared)
    if unknown:
        takes = ", ".join(sorted(declared)) or "none"
        raise RequestValidationError([
            {"type": "extra_forbidden", "loc": ("query", name), "msg": f"Unknown query parameter: this route takes {takes}",
             "input": request.query_params[name]}
            for name in unknown
        ])
