"""OpenAPI 3 documents written by apispec from each vendor's declared contract (see contract.py)."""
from __future__ import annotations

import re
from typing import Any

from .. import __version__
from .contract import Contract, Operation
from .limits import WORLD_PAGE, WORLD_PAGE_MAX

OPENAPI_VERSION = "3.0.3"


def _schema_name(resolver_schema) -> str:
    cls = resolver_schema if isinstance(resolver_schema, type) else type(resolver_schema)
    name = cls.__name__
    return name[:-6] if name.endswith("Schema") and len(name) > 6 else name


def build_document(contract: Contract) -> dict[str, Any]:
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    plugin = MarshmallowPlugin(schema_name_resolver=_schema_name)
    spec = APISpec(
        title=contract.title,
        version=__version__,
        openapi_version=OPENAPI_VERSION,
        plugins=[plugin],
        info={"description": contract.description},
        servers=[{"url": "/", "description": "report-emulator"}]
        + ([{"url": contract.server, "description": "the real vendor"}] if contract.server else []),
    )
    plugin.converter.add_attribute_function(_field_hook)
    for name, scheme in contract.security_schemes.items():
        spec.components.security_scheme(name, scheme)
    paths: dict[str, dict[str, Any]] = {}
    for op in contract.operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    document = spec.to_dict()
    components = document.get("components", {}).get("schemas", {})
    for op in contract.operations:
        # A vendor may ignore unknown body fields, but the contract does not allow them (strict mode refuses them).
        if op.body is not None and _schema_name(op.body) in components:
            components[_schema_name(op.body)]["additionalProperties"] = False
    for name, extra in contract.schema_extras.items():
        if name not in components:
            raise KeyError(f"schema_extras names {name!r}, which is not a component of the {contract.vendor} document")
        components[name].update(extra)
    return document


def _field_hook(self, field, ret, **kwargs) -> dict:
    """A field class may say what marshmallow cannot (e.g. "this object, or []"): its
    `openapi_property(prop)` receives apispec's property and returns the one to publish."""
    hook = getattr(field, "openapi_property", None)
    if hook is None:
        return {}
    replacement = hook(dict(ret))
    ret.clear()
    return replacement


def _operation(op: Operation) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"in": "path", "name": name, "required": True, "description": text, "schema": {"type": "string"}}
        for name, text in op.path_params.items()
    ]
    if op.query is not None:
        parameters.append({"in": "query", "schema": op.query})
    if op.accept:
        parameters.append({"in": "header", "name": "Accept", "required": False,
                           "schema": {"type": "string", "enum": list(op.accept)},
                           "description": "documented by the vendor; strict mode requires it"})
    operation: dict[str, Any] = {
        "operationId": op.operation_id or op.endpoint.replace(".", "_"),
        "summary": op.summary,
        "parameters": parameters,
        "responses": {},
    }
    if op.description:
        operation["description"] = op.description
    if op.security:
        operation["security"] = [{name: []} for name in op.security]
    if op.body is not None:
        media: dict[str, Any] = {"schema": op.body}
        if op.body_example is not None:
            media["example"] = op.body_example
        operation["requestBody"] = {"required": op.body_required, "content": {op.body_content_type: media}}
    for status, reply in sorted(op.responses.items()):
        answer: dict[str, Any] = {"description": reply.description}
        if reply.schema is not None:
            media = {"schema": reply.schema}
            if reply.example is not None:
                media["example"] = reply.example
            answer["content"] = {reply.content_type: media}
        elif reply.content_type and reply.example is not None:
            answer["content"] = {reply.content_type: {"schema": {"type": "string"}, "example": reply.example}}
        for media_type, example in reply.alternatives.items():
            media = {"schema": {"type": "string"}}
            if example is not None:
                media["example"] = example
            answer.setdefault("content", {})[media_type] = media
        if reply.headers:
            answer["headers"] = {name: {"description": text, "schema": {"type": "string"}} for name, text in reply.headers.items()}
        operation["responses"][str(status)] = answer
    return operation


def flask_path(openapi_path: str) -> str:
    """/a/{id} -> /a/<id> (for tests and docs)."""
    return re.sub(r"\{(\w+)\}", r"<\1>", openapi_path)


def _admin_schemas() -> dict[str, Any]:
    string = {"type": "string"}
    instant = {"type": "string", "format": "date-time", "example": "2026-01-15T00:00:00Z"}
    return {
        "Error": {"type": "object", "required": ["error", "errors"], "properties": {
            "error": string, "errors": {"type": "object", "additionalProperties": {"type": "array", "items": string},
                                        "description": "each wrong field's path and its messages"}}},
        "Status": {"type": "object", "properties": {"status": {"type": "string", "enum": ["ok"]}}},
        "Clock": {"type": "object", "properties": {"now": instant, "mode": {"type": "string", "enum": ["real", "manual"]}}},
        "Reset": {"type": "object", "additionalProperties": False, "properties": {
            "seed": {"type": "integer", "nullable": True}, "now": {**instant, "nullable": True}}},
        "ClockSet": {"type": "object", "additionalProperties": False, "minProperties": 1,
                     "description": "now, mode or both; a mode change alone keeps the current time",
                     "properties": {"now": instant, "mode": {"type": "string", "enum": ["real", "manual"]}}},
        "Advance": {"type": "object", "additionalProperties": False, "required": ["seconds"], "properties": {
            "seconds": {"type": "number", "minimum": 0, "maximum": 10 * 366 * 86400}}},
        "Match": {"type": "object", "additionalProperties": False,
                  "description": "a scenario rule's match; every key given must hold (headers are not recorded)",
                  "properties": {"method": string, "path": string,
                                 "path_regex": {"type": "string", "description": "a regular expression in RE2 syntax (linear time: no backreferences or lookaround), searched in the path"},
                                 "query": {"type": "object", "additionalProperties": string},
                                 "json": {"description": "a subset of the recorded JSON body"}},
                  "example": {"method": "GET", "path": "/api/v1/health"}},
        "Entry": {"type": "object", "properties": {
            "method": string, "path": string, "query": string, "status": {"type": "integer", "nullable": True},
            "vendor": {"type": "string", "nullable": True}, "at": instant, "wall_at": string,
            "duration_ms": {"type": "number"}, "rule": {"type": "string", "nullable": True},
            "fault": {"type": "string", "nullable": True}, "delay_ms": {"type": "number"},
            "transfer": {"type": "array", "items": {"type": "string", "enum": ["chunked_dribble", "bandwidth"]}},
            "body": {"type": "string", "nullable": True}, "violations": {"type": "array", "items": {"type": "object"}},
            "headers": {"type": "object", "additionalProperties": string,
                        "description": "the request's first 32 headers; credentials read ***"},
            "response": {"type": "object", "nullable": True, "description": "the answer; null after a connection reset",
                         "properties": {"headers": {"type": "object", "additionalProperties": string},
                                        "body": {"type": "string", "nullable": True,
                                                 "description": "its first 1024 characters; null when streamed"}}}}},
        "Journal": {"type": "object", "properties": {"requests": {"type": "array", "items": {"$ref": "#/components/schemas/Entry"}}}},
        "Count": {"type": "object", "properties": {"count": {"type": "integer", "minimum": 0}}},
        "NearMisses": {"type": "object", "properties": {
            "near_misses": {"type": "array", "maxItems": 10, "items": {"$ref": "#/components/schemas/Entry"}}}},
        "ScenarioStatus": {"type": "object", "properties": {
            "scenario": {"type": "object", "nullable": True}, "rules": {"type": "array", "items": {"type": "object"}}}},
        "Violations": {"type": "object", "properties": {"strict": {"type": "boolean"},
                                                        "violations": {"type": "array", "items": {"type": "object"}}}},
        "Any": {"type": "object"},
    }


def build_admin_document() -> dict[str, Any]:
    """The /_emulator API itself as OpenAPI 3 (written out by hand: its views are not declared as contracts)."""

    def ref(name: str) -> dict:
        return {"$ref": f"#/components/schemas/{name}"}

    def op(summary: str, answer: str, body: str | None = None, params: list | None = None, bad: bool = False,
           media: str = "application/json", missing: str | None = None) -> dict:
        operation: dict[str, Any] = {"summary": summary, "responses": {
            "200": {"description": "OK", "content": {media: {"schema": ref(answer)} if media == "application/json"
                                                     else {"schema": {"type": "string"}}}}}}
        if body:
            operation["requestBody"] = {"required": False, "content": {"application/json": {"schema": ref(body)}}}
        if params:
            operation["parameters"] = params
        if body or bad:
            operation["responses"]["400"] = {"description": "Bad input, naming each wrong field",
                                              "content": {"application/json": {"schema": ref("Error")}}}
        if missing:
            operation["responses"]["404"] = {"description": missing,
                                              "content": {"application/json": {"schema": ref("Error")}}}
        return operation

    query = [{"in": "query", "name": name, "required": False, "schema": {"type": "string"}}
             for name in ("vendor", "method", "path", "path_prefix", "rule")]
    world_query = [
        {"in": "query", "name": "vendor", "required": False, "schema": {"type": "string"},
         "description": "only these vendors (comma-separated names; default: all)"},
        {"in": "query", "name": "offset", "required": False,
         "schema": {"type": "integer", "minimum": 0, "default": 0}, "description": "first item of each list"},
        {"in": "query", "name": "limit", "required": False,
         "schema": {"type": "integer", "minimum": 1, "maximum": WORLD_PAGE_MAX, "default": WORLD_PAGE},
         "description": "items of each list at most"},
    ]
    scenario_body = {"required": True, "content": {"application/yaml": {"schema": {"type": "string"}},
                                                   "application/json": {"schema": ref("Any")}}}
    vendor_param = [{"in": "path", "name": "vendor", "required": True,
                     "schema": {"type": "string", "enum": ["strigo", "echo360", "falkor", "parkup", "admin"]}}]
    paths = {
        "/_emulator/health": {"get": op("Is it up", "Status")},
        "/_emulator/reset": {"post": op("Clear every mutable thing; the clock back to its start (or now)", "Any", "Reset")},
        "/_emulator/clock": {"get": op("The emulator's time and clock mode", "Clock"),
                             "post": op("Set the time, the mode, or both", "Clock", "ClockSet")},
        "/_emulator/clock/advance": {"post": op("Move the time forward; due transitions complete first", "Clock", "Advance")},
        "/_emulator/credentials": {"get": op("Each vendor's credentials", "Any")},
        "/_emulator/world": {"get": op("The ids a test needs, per vendor: every list cut to one page ([offset, "
                                       "offset + limit)); `page.totals` gives each list's whole length; a bad "
                                       "parameter is a 400 naming it", "Any", params=world_query, bad=True)},
        "/_emulator/journal": {"get": op("Vendor calls, oldest first; an unknown filter or vendor is a 400 naming it",
                                         "Journal", params=query, bad=True),
                               "delete": op("Forget the recorded calls", "Journal")},
        "/_emulator/journal/count": {"post": op("How many recorded calls a rule's match matches", "Count", "Match")},
        "/_emulator/journal/near-misses": {"post": op("The recorded calls closest to a match that it does not match",
                                                      "NearMisses", "Match")},
        "/_emulator/scenario": {"get": op("The active scenario and each rule's counters", "ScenarioStatus"),
                                "put": {**op("Load a scenario (YAML or JSON)", "ScenarioStatus", bad=True),
                                        "requestBody": scenario_body},
                                "delete": op("Clear the active scenario", "ScenarioStatus")},
        "/_emulator/violations": {"get": op("Requests that broke their vendor's documented contract", "Violations",
                                            params=query[:1], bad=True),
                                  "delete": op("Forget the violations", "Violations")},
        "/_emulator/openapi/{vendor}.json": {"get": {**op("An OpenAPI 3 document (a vendor's, or this one)", "Any"),
                                                     "parameters": vendor_param}},
        "/_emulator/docs": {"get": op("Swagger UI over the documents", "Any", media="text/html")},
        # The dashboard and the JSON it reads (core/ui.py).
        "/_emulator/ui": {"get": op("The dashboard for people", "Any", media="text/html")},
        "/_emulator/ui/state": {"get": op("Everything the dashboard shows (ETag; 304 when unchanged)", "Any", bad=True,
                                          params=[{"in": "query", "name": n, "required": False, "schema": {"type": "string"}}
                                                  for n in ("vendor", "status", "q", "limit")])},
        "/_emulator/echo360/requests": {"get": op("Every Echo360 report request with its lifecycle, newest first", "Any")},
        "/_emulator/scenarios": {"get": op("The shipped scenarios, by name with a description", "Any")},
        "/_emulator/scenarios/{name}": {"get": {**op("A shipped scenario's YAML text", "Any", media="application/yaml",
                                                     missing="No shipped scenario of that name"),
                                                "parameters": [{"in": "path", "name": "name", "required": True,
                                                                "schema": {"type": "string"}}]}},
        # Tenants (core/tenants.py): every path is also served under /tenants/<tenant>/.
        "/_emulator/tenants": {"get": op("Every tenant, with when it was made and last used", "Any")},
        "/_emulator/tenants/{tenant}": {"delete": {**op("Remove a tenant and everything it holds", "Any", bad=True,
                                                        missing="No such tenant, or a name outside the rule"),
                                                   "parameters": [{"in": "path", "name": "tenant", "required": True,
                                                                   "schema": {"type": "string",
                                                                              "pattern": "^[a-z0-9-]{1,64}$"}}]}},
        # Snapshots (core/snapshots.py).
        "/_emulator/snapshot": {"get": {**op("The tenant's whole state as one JSON document (gzip if accepted)", "Any"),
                                        "parameters": [{"in": "query", "name": "journal", "required": False,
                                                        "schema": {"type": "string", "enum": ["0", "1"]}}]},
                                "put": {**op("Make the tenant exactly a snapshot's state", "Any", bad=True),
                                        "requestBody": {"required": True, "content": {
                                            "application/json": {"schema": ref("Any")}}}}},
    }
    _add_access_refusals(paths, ref("Error"))
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "report-emulator admin API", "version": __version__,
                 "description": "Reset, clock, credentials, world, journal, scenarios, violations, tenants and "
                                "snapshots. JSON in and out; bad input is 400 {\"error\", \"errors\"}. Every "
                                "path is also served under /tenants/<tenant>/."},
        "servers": [{"url": "/", "description": "report-emulator"}],
        "paths": paths,
        # Optional: only a server started with --admin-auth asks for it (core/access.py).
        "security": [{}, {"adminBasic": []}],
        "components": {"schemas": _admin_schemas(), "securitySchemes": {"adminBasic": {
            "type": "http", "scheme": "basic",
            "description": "only when the server runs with --admin-auth USER:PASSWORD (EMULATOR_ADMIN_AUTH)"}}},
    }


def _add_access_refusals(paths: dict[str, Any], error: dict) -> None:
    """The admin API's gate (core/access.py) answers on every path but health: 401, 403 and, for
    state-changing calls, 415."""
    refusals = {"401": "--admin-auth is set and the request has no or wrong HTTP Basic credentials",
                "403": "a Host the admin API does not answer to (--allowed-host), or a state-changing call "
                       "from a web page on another origin"}
    for path, operations in paths.items():
        if path == "/_emulator/health":
            operations["get"]["security"] = []  # open to health checks, with or without --admin-auth
            continue
        for method, operation in operations.items():
            answers = dict(refusals)
            if method in ("post", "put", "patch", "delete"):
                answers["415"] = "a text/plain, form or multipart body, which any web page can send to any site"
            for status, text in answers.items():
                operation["responses"].setdefault(status, {"description": text, "content": {"application/json": {"schema": error}}})
