"""ParkUp's documented contract: the operations, built from the schemas in schemas.py."""
from __future__ import annotations

from ...core.contract import Contract, Operation, Reply
from .errors import BAD_REQUEST, UNAUTHORIZED, USER_NOT_FOUND
from .schemas import ErrorSchema, UserEventSchema, UserEventsRequestSchema

EXAMPLE_REQUEST = {"customerId": 2847, "refId": "CB6150", "from": "2025-06-01T00:00:00.000Z",
                   "until": "2025-06-23T23:59:00.000Z"}
EXAMPLE_EVENTS = [{"id": 625317, "dateEvent": "2025-06-04T20:58:33.000Z"},
                  {"id": 625930, "dateEvent": "2025-06-04T21:39:46.000Z"}]

CONTRACT = Contract(
    vendor="parkup",
    title="ParkUp business API (report-emulator)",
    description="The User Events report: every time a user used the application within a period.",
    server="https://api.parkup.cl",
    security_schemes={"bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <token>"}},
    operations=(
        Operation(
            endpoint="parkup.user_events",
            method="POST",
            path="/api/v3/business/report/event/user",
            summary="User Events report",
            description="Events of one user (refId, optionally of one customerId) with dateEvent in [from, until].",
            body=UserEventsRequestSchema,
            body_required=True,
            body_example=EXAMPLE_REQUEST,
            security=("bearer",),
            responses={
                200: Reply("The user's events", UserEventSchema(many=True), example=EXAMPLE_EVENTS),
                400: Reply("Invalid date range or missing required parameters", ErrorSchema, example={"error": BAD_REQUEST}),
                401: Reply("Invalid or missing authentication token", ErrorSchema, example={"error": UNAUTHORIZED}),
                404: Reply("User not found", ErrorSchema, example={"error": USER_NOT_FOUND}),
                429: Reply("Past a scenario's rate_limit (not documented by the vendor)", ErrorSchema,
                           headers={"Retry-After": "seconds until the window ends"}),
                500: Reply("Internal server error", ErrorSchema, example={"error": "Internal server error"}),
            },
        ),
    ),
)
