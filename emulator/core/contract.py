"""Each vendor's documented contract, declared once as data and used twice.

A vendor lists its `OPERATIONS` (in its schemas.py) built from the same marshmallow schemas that load
its requests and dump its responses. From them `openapi.py` writes the vendor's OpenAPI 3 document, and
`check_request` tells whether a request keeps to the contract (strict mode refuses it when it does not;
lenient mode only records the violation). One declaration, so the document cannot drift from what is
served or enforced.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marshmallow import RAISE, Schema, ValidationError

JSON = "application/json"


@dataclass(frozen=True)
class Reply:
    """One documented response of an operation."""

    description: str
    schema: type[Schema] | Schema | None = None
    content_type: str = JSON
    example: Any = None
    headers: dict[str, str] = field(default_factory=dict)  # name -> description


@dataclass(frozen=True)
class Operation:
    endpoint: str  # the Flask endpoint ("strigo.event_exercises") that serves it
    method: str
    path: str  # OpenAPI path template, e.g. /api/v1/events/{event_id}/reports/exercises
    summary: str
    responses: dict[int, Reply]
    path_params: dict[str, str] = field(default_factory=dict)  # name -> description
    query: type[Schema] | None = None
    body: type[Schema] | None = None
    body_required: bool = False
    body_content_type: str = JSON
    body_example: Any = None
    accept: tuple[str, ...] = ()  # media types the vendor documents an Accept header for
    security: tuple[str, ...] = ()  # names of security schemes (see Contract.security_schemes)
    description: str = ""


@dataclass(frozen=True)
class Contract:
    vendor: str
    title: str
    description: str
    operations: tuple[Operation, ...]
    security_schemes: dict[str, dict] = field(default_factory=dict)
    server: str = ""  # the vendor's real base URL, for the document's servers list

    def for_endpoint(self, endpoint: str | None) -> Operation | None:
        return next((op for op in self.operations if op.endpoint == endpoint), None)


@dataclass(frozen=True)
class Violation:
    """A request that broke its vendor's contract: where, which parameter, and the rule broken."""

    location: str  # query, body, headers
    param: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"location": self.location, "param": self.param, "rule": self.rule, "message": self.message}


def _wire_names(schema: Schema) -> set[str]:
    return {f.data_key or name for name, f in schema.fields.items() if not f.dump_only}


def _schema_errors(location: str, messages: Any, prefix: str = "") -> list[Violation]:
    found: list[Violation] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix and not isinstance(key, int) else (f"{prefix}[{key}]" if isinstance(key, int) else str(key))
            found.extend(_schema_errors(location, value, path))
        return found
    for text in messages if isinstance(messages, list) else [messages]:
        if isinstance(text, (dict, list)):
            found.extend(_schema_errors(location, text, prefix))
            continue
        unknown = text == "Unknown field."
        rule = f"unknown {location} field" if unknown else f"invalid {location} value"
        if location == "query":
            rule = "unknown query parameter" if unknown else "invalid query parameter"
        found.append(Violation(location, prefix or "_schema", rule, f"{prefix}: {text}" if prefix else str(text)))
    return found


def check_request(op: Operation, args: dict[str, list[str]], headers: dict[str, str], body: bytes) -> list[Violation]:
    """Every way this request departs from the documented operation (empty when it keeps to it)."""
    violations: list[Violation] = []
    if op.query is not None or args:
        schema = op.query() if op.query is not None else None
        known = _wire_names(schema) if schema is not None else set()
        for name in args:
            if name not in known:
                violations.append(Violation("query", name, "unknown query parameter",
                                            f"query parameter {name!r} is not documented for {op.method} {op.path}"))
        if schema is not None:
            flat = {k: v[-1] for k, v in args.items() if k in known}
            errors = schema.validate(flat, partial=False)
            violations.extend(_schema_errors("query", errors))
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if op.body is not None and body.strip():
        if content_type != op.body_content_type:
            shown = content_type or "none"
            violations.append(Violation("headers", "Content-Type", "content type",
                                        f"Content-Type must be {op.body_content_type} for {op.method} {op.path}, not {shown}"))
        elif op.body_content_type == JSON:
            import json

            try:
                payload = json.loads(body)
            except ValueError:
                payload = None
                violations.append(Violation("body", "_body", "malformed body", "the request body is not valid JSON"))
            if payload is not None:
                try:
                    op.body(unknown=RAISE).load(payload) if isinstance(payload, dict) else op.body().load(payload)
                except ValidationError as exc:
                    violations.extend(_schema_errors("body", exc.messages))
    elif op.body is not None and op.body_required:
        violations.append(Violation("body", "_body", "missing body", f"{op.method} {op.path} requires a request body"))
    if op.accept:
        accept = headers.get("accept")
        if not accept:
            violations.append(Violation("headers", "Accept", "missing accept",
                                        f"the vendor documents an Accept header ({' or '.join(op.accept)}) for {op.method} {op.path}"))
        else:
            offered = [part.split(";")[0].strip().lower() for part in accept.split(",")]
            if not any(o in ("*/*", *op.accept) or (o.endswith("/*") and any(a.startswith(o[:-1]) for a in op.accept)) for o in offered):
                violations.append(Violation("headers", "Accept", "unacceptable accept",
                                            f"Accept {accept!r} matches none of {', '.join(op.accept)}"))
    return violations
