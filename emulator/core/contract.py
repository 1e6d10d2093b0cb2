"""Each vendor's documented contract, declared once as data and used twice.

A vendor lists its `OPERATIONS` (in its schemas.py) built from the same marshmallow schemas that load
its requests and dump its responses. From them `openapi.py` writes the vendor's OpenAPI 3 document, and
`check_request` tells whether a request keeps to the contract (strict mode refuses it when it does not;
lenient mode only records the violation). One declaration, so the document cannot drift from what is
served or enforced.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import parse_qs

from marshmallow import RAISE, Schema, ValidationError

from .limits import MAX_VIOLATIONS, VIOLATION_TEXT_BYTES, LimitExceeded, read_json

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Reply:
    """One documented response of an operation."""

    description: str
    schema: type[Schema] | Schema | None = None
    content_type: str = JSON
    example: Any = None
    headers: dict[str, str] = field(default_factory=dict)  # name -> description
    # Other media types the same status may answer with (e.g. text/csv), each with its example text.
    alternatives: dict[str, Any] = field(default_factory=dict)


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
    # Whether the vendor's document states the body's Content-Type. When it does not (Falkor's curl
    # examples send JSON with `-d`, so as a form), any Content-Type is taken and the body is read as
    # body_content_type: strict mode enforces what a document states, nothing more.
    content_type_stated: bool = True
    body_example: Any = None
    accept: tuple[str, ...] = ()  # media types the vendor documents an Accept header for
    security: tuple[str, ...] = ()  # names of security schemes (see Contract.security_schemes), any one will do
    description: str = ""
    operation_id: str = ""  # the document's operationId; by default made from the endpoint (set it for an alias path)


@dataclass(frozen=True)
class Contract:
    vendor: str
    title: str
    description: str
    operations: tuple[Operation, ...]
    security_schemes: dict[str, dict] = field(default_factory=dict)
    server: str = ""  # the vendor's real base URL, for the document's servers list
    # What marshmallow cannot say, merged into a component schema of the document by name (e.g. the
    # additionalProperties of rows whose columns vary with the number of exercises).
    schema_extras: dict[str, dict] = field(default_factory=dict)

    @cached_property
    def _by_endpoint(self) -> dict[str, Operation]:
        found: dict[str, Operation] = {}
        for op in self.operations:
            found.setdefault(op.endpoint, op)  # an endpoint with an alias path: its first operation checks both
        return found

    def for_endpoint(self, endpoint: str | None) -> Operation | None:
        return self._by_endpoint.get(endpoint or "")


@dataclass(frozen=True)
class Violation:
    """A request that broke its vendor's contract: where, which parameter, and the rule broken."""

    location: str  # query, body, headers
    param: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"location": self.location, "param": self.param, "rule": self.rule, "message": self.message}


def _wire_names(schema: Schema) -> frozenset[str]:
    return frozenset(f.data_key or name for name, f in schema.fields.items() if not f.dump_only)


@dataclass(frozen=True)
class _Prepared:
    """An operation's schema instances and wire names, made once (check_request runs on every request)."""

    query: Schema | None
    query_names: frozenset[str]
    body: Schema | None  # refuses unknown fields, whatever the vendor's own schema does
    accept: frozenset[str]


_prepared: dict[int, _Prepared] = {}


def _prepare(op: Operation) -> _Prepared:
    found = _prepared.get(id(op))
    if found is None:
        query = op.query() if op.query is not None else None
        found = _Prepared(
            query=query,
            query_names=_wire_names(query) if query is not None else frozenset(),
            body=op.body(unknown=RAISE) if op.body is not None else None,
            accept=frozenset(a.lower() for a in op.accept),
        )
        _prepared[id(op)] = found  # operations are module-level constants: their ids stay valid
    return found


def _schema_errors(location: str, messages: Any, prefix: str = "") -> list[Violation]:
    found: list[Violation] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if isinstance(key, int):
                path = f"{prefix}[{key}]"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            found.extend(_schema_errors(location, value, path))
        return found
    for text in messages if isinstance(messages, list) else [messages]:
        if isinstance(text, (dict, list)):
            found.extend(_schema_errors(location, text, prefix))
            continue
        param = prefix or "_schema"
        if text == "Unknown field.":
            kind = "parameter" if location == "query" else "field"
            rule = f"unknown {location} {kind}"
            message = f"{location} {kind} {param!r} is not documented by the vendor"
        else:
            rule = "invalid query parameter" if location == "query" else f"invalid {location} value"
            message = f"{param}: {text}" if prefix else str(text)
        found.append(Violation(location, param, rule, message))
    return found


def _accepts(accept: str, documented: frozenset[str]) -> bool:
    for part in accept.split(","):
        offered = part.split(";")[0].strip().lower()
        if offered == "*/*" or offered in documented:
            return True
        if offered.endswith("/*") and any(a.startswith(offered[:-1]) for a in documented):
            return True
    return False


def _parse_body(content_type: str, body: bytes, violations: list[Violation]) -> Any:
    """A JSON body, or a form body as {name: last value}; None (and a violation) when it cannot be read."""
    try:
        if content_type == FORM:
            return {name: values[-1] for name, values in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
        return read_json(body)
    except LimitExceeded as exc:
        violations.append(Violation("body", "_body", "body limit", exc.message))
        return None
    except ValueError:  # UnicodeDecodeError is a ValueError
        kind = "form" if content_type == FORM else "JSON"
        violations.append(Violation("body", "_body", "malformed body", f"the request body is not valid {kind}"))
        return None


def check_request(op: Operation, args: dict[str, list[str]], headers: Mapping[str, str], body: bytes) -> list[Violation]:
    """Every way this request departs from the documented operation (empty when it keeps to it).

    `headers` is looked up by lower-case name (a dict with lower-case keys, or werkzeug's headers). The checks: unknown query parameters and their types, the body's
    Content-Type, unknown or wrongly typed body fields, a missing required body, and a missing or
    unacceptable Accept where the vendor documents one.
    """
    prepared = _prepare(op)
    violations: list[Violation] = []
    if args:
        known = prepared.query_names
        for name in args:
            if name not in known:
                violations.append(Violation("query", name, "unknown query parameter",
                                            f"query parameter {name!r} is not documented for {op.method} {op.path}"))
        if prepared.query is not None:
            flat = {k: v[-1] for k, v in args.items() if k in known}
            violations.extend(_schema_errors("query", prepared.query.validate(flat)))
    if op.body is not None and body.strip():
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != op.body_content_type and op.content_type_stated:
            shown = content_type or "none"
            violations.append(Violation("headers", "Content-Type", "content type",
                                        f"Content-Type must be {op.body_content_type} for {op.method} {op.path}, not {shown}"))
        elif op.body_content_type in (JSON, FORM):
            payload = _parse_body(op.body_content_type, body, violations)
            if payload is not None:
                try:
                    prepared.body.load(payload)
                except ValidationError as exc:
                    violations.extend(_schema_errors("body", exc.messages))
                except RecursionError:
                    violations.append(Violation("body", "_body", "malformed body", "the request body is nested too deeply"))
    elif op.body is not None and op.body_required:
        violations.append(Violation("body", "_body", "missing body", f"{op.method} {op.path} requires a request body"))
    if prepared.accept:
        accept = headers.get("accept")
        if not accept:
            violations.append(Violation("headers", "Accept", "missing accept",
                                        f"the vendor documents an Accept header ({' or '.join(op.accept)}) for {op.method} {op.path}"))
        elif not _accepts(accept, prepared.accept):
            violations.append(Violation("headers", "Accept", "unacceptable accept",
                                        f"Accept {accept!r} matches none of {', '.join(op.accept)}"))
    if len(violations) > MAX_VIOLATIONS:  # 10,000 unknown parameters are not worth 10,000 records
        more = len(violations) - MAX_VIOLATIONS
        first = violations[MAX_VIOLATIONS]
        violations = violations[:MAX_VIOLATIONS] + [Violation(
            first.location, "_more", "too many violations",
            f"and {more} more violations, not recorded (at most {MAX_VIOLATIONS} per request)")]
    cut = VIOLATION_TEXT_BYTES  # a parameter's name can be as long as the request line
    return [v if len(v.param) <= cut and len(v.message) <= cut else
            Violation(v.location, v.param[:cut], v.rule, v.message[:cut]) for v in violations]
