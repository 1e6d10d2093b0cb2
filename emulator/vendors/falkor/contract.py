"""Falkor's documented contract: the operation, built from the schemas in schemas.py.

The examples are the document's own (fixtures/falkor holds them as files; tests check they agree).
"""
from __future__ import annotations

from ...core.contract import Contract, Operation, Reply
from .schemas import ErrorSchema, PathwayLogsRequestSchema, PathwayLogsSchema

# The document's example names "Pathway A", which the default world lacks; this one is a pathway of the
# default world (seed 1), so that "Try it out" answers 200 (GET /_emulator/world lists them).
EXAMPLE_REQUEST = {"pathway": "Health & Safety Induction", "types": ["Data Target"]}


def _log(timestamp: str, fulfilment: dict) -> dict:
    return {
        "firstname": "User", "lastname": "One", "email": "user.one@example.com", "telephone": "",
        "country": "South Africa", "city": "Cape Town", "groups": ["Group A", "Group B"],
        "status": {"complete": True, "progress": 100, "state": "completed", "timestamp": timestamp},
        "fulfilment": {**fulfilment, "timestamp": timestamp},
    }


# The document's success example (its "...etc" elisions left out).
EXAMPLE_ANSWER = {
    "status": "success",
    "data": [{
        "pathway": {"name": "Become A Store Owner", "type": "pathway", "ID": "EV67-ZCNS-56AD"},
        "activities": [
            {"ID": "EVPA-WVZF-56QJ", "name": "Data Tracking", "type": "data", "fulfilmentType": "tracking",
             "required": True, "level": 1, "stats": {"total": 2, "completed": 2},
             "logs": [_log("2022-02-24T15:09:57+02:00", {
                 "type": "data", "state": "completed", "progress": 100,
                 "data": {"category": "Current Score", "current": 500, "target": 159}})]},
            {"ID": "EVPA-KWOI-80AI", "name": "Story A", "type": "story", "fulfilmentType": "complete",
             "required": True, "level": 1, "stats": {"total": 2, "completed": 1},
             "logs": [_log("2022-02-24T14:56:56+02:00", {
                 "type": "story", "state": "completed", "progress": 100,
                 "story": {"ID": "EV72-RQZY-80AH", "name": "Story A", "score": 100}})]},
        ],
    }],
    "hash": "bcce5ca8f5ea870a16f43c411136be31",
    "response_time": 0.22242403030395508,
}


def _error(description: str, message: str | None = None) -> Reply:
    return Reply(description, ErrorSchema, example={"status": "error", "message": message} if message else None)


CONTRACT = Contract(
    vendor="falkor",
    title="Falkor pathway logs API (report-emulator)",
    description="Activities and user logs of one pathway, filtered by activities, types, groups and users.",
    security_schemes={"basic": {"type": "http", "scheme": "basic",
                                "description": "Authorization: Basic <your Base64 encoded token>. The emulator's default token is Base64 of `emulator:falkor-token`: in Authorize, user `emulator`, password `falkor-token`"}},
    operations=(
        Operation(
            endpoint="falkor.pathway_logs",
            method="POST",
            path="/v1/logs/pathway-logs",
            summary="Activity & user logs of one pathway",
            description="Limited to one pathway per request; types, activities, groups and users filter it.",
            body=PathwayLogsRequestSchema,
            body_required=True,
            content_type_stated=False,  # the document's curl lines send the JSON with -d and no Content-Type
            body_example=EXAMPLE_REQUEST,
            security=("basic",),
            responses={
                200: Reply("The pathway and its activities, each with its user logs", PathwayLogsSchema,
                           example=EXAMPLE_ANSWER),
                400: _error("The body is missing, not JSON, or a parameter has the wrong type (also strict mode's "
                            "answer to a contract violation)",
                            "Invalid request body: pathway is required"),
                401: _error("Missing or invalid `Authorization: Basic <token>`", "Invalid API token"),
                404: _error("No pathway with that ID or name", "Pathway not found"),
                429: Reply("Past a scenario's rate_limit (not documented by the vendor)", ErrorSchema,
                           headers={"Retry-After": "seconds until the window ends"}),
                500: _error("Internal server error (e.g. a scenario's utc_offset that is not an offset)"),
            },
        ),
    ),
)
