"""OpenAPI 3 documents written by apispec from each vendor's declared contract (see contract.py)."""
from __future__ import annotations

import re
from typing import Any

from .. import __version__
from .contract import Contract, Operation

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
