"""The OpenAPI document says exactly what a service answers: every error status a route can send, as a problem document.

Each route's error statuses follow from what it is made of, so they cannot drift from the code:
- a bearer token (`authenticate`) → 401; a role check (`require`) → 403;
- a path parameter (an object by id) → 404 (another's object answers like an unknown one);
- any parameter or body → 422 (the problem names the field and the rule);
- a JSON body → 415 for another content type, 400 for bytes that cannot be read at all (not UTF-8);
- the service context (the database) → 503 when the database does not answer;
- 409, where a state forbids the action, is declared by the route itself: `responses=problems(409)`;
- a POST takes an `Idempotency-Key` header (shared/idempotency.py) → 409 while its first request runs,
  422 when the key names another request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi

from shared.auth import authenticate
from shared.http import PROBLEM_JSON, ProblemDocument, api_routes
from shared.idempotency import HEADER, KEY_SCHEMA, REPLAYED

MEANINGS: dict[int, str] = {
    400: "The body cannot be read at all (not UTF-8 text).",
    401: "No valid bearer token: the `Authorization` header is missing, expired or not ours.",
    403: "The caller's role may not do this.",
    404: "No such object for this caller: another's object answers exactly like an unknown one.",
    409: "The object's state does not allow this now (the problem says which rule).",
    415: "The body is not JSON: send `Content-Type: application/json`.",
    422: "Invalid input: the problem names each field at fault and the rule it breaks.",
    503: "The database does not answer: retry after the `Retry-After` seconds.",
}
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
IDEMPOTENCY_KEY: dict[str, Any] = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "schema": KEY_SCHEMA,
    "description": "A key of the client's choosing (a UUID, as a quoted string) that makes a retry safe: a request sent again"
    " with the same key and body gets the first answer (with `" + REPLAYED + ": true`) instead of running twice."
    " Kept a day (the service's `idempotency_key_ttl_seconds`), per caller and path.",
}
# What a keyed POST may also answer, beside what the route itself answers with that status.
_KEYED: dict[int, str] = {
    409: f"a request with the same `{HEADER}` is still running (`idempotency_key_in_use`): send it again after `Retry-After` seconds.",
    422: f"the `{HEADER}` was first sent with another request (`idempotency_key_reused`), or is not a key (`idempotency_key_format`).",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a route for the statuses its structure does not show (409)."""
    return {status: {"description": MEANINGS[status]} for status in statuses}


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def route_statuses(route: Any, context_dependency: Callable[..., Any]) -> set[int]:
    """The error statuses a route can answer, from its dependencies, parameters and body."""
    calls = list(_calls(route.dependant))
    dependant = _flat(route.dependant)
    statuses: set[int] = set()
    if any(call is authenticate or hasattr(call, "roles") for call in calls):
        statuses.add(401)
    if any(hasattr(call, "roles") for call in calls):
        statuses.add(403)
    if dependant["path"]:
        statuses.add(404)
    if dependant["path"] or dependant["query"] or dependant["body"]:
        statuses.add(422)
    if route.body_field is not None:
        statuses |= {400, 415}
    if context_dependency in calls:
        statuses.add(503)
    return statuses


def _flat(dependant: Dependant) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {"path": list(dependant.path_params), "query": list(dependant.query_params), "body": list(dependant.body_params)}
    for sub in dependant.dependencies:
        for kind, params in _flat(sub).items():
            found[kind] += params
    return found


def install_openapi(app: FastAPI, context_dependency: Callable[..., Any]) -> None:
    """Make `app.openapi()` document every route's errors as `application/problem+json` problems."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        problem = ProblemDocument.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(problem.pop("$defs", {}))
        schemas["Problem"] = problem
        for route in api_routes(app):
            if not route.include_in_schema:
                continue
            declared = {int(s) for s in route.responses if str(s).isdigit() and int(s) >= 400}
            statuses = route_statuses(route, context_dependency) | declared
            for method in route.methods:
                operation = document["paths"][route.path_format][method.lower()]
                keyed = method == "POST"
                if keyed:
                    operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
                for status in sorted(statuses | (set(_KEYED) if keyed else set())):
                    meaning = (route.responses.get(status, {}).get("description") or MEANINGS.get(status, "Error")) if status in statuses else ""
                    if keyed and status in _KEYED:
                        meaning = f"{meaning} Or {_KEYED[status]}" if meaning else _KEYED[status][0].upper() + _KEYED[status][1:]
                    operation["responses"][str(status)] = {
                        "description": meaning,
                        "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}},
                    }
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
