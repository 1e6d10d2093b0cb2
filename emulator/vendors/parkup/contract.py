"""ParkUp's documented contract: the operations, built from the schemas in schemas.py."""
from __future__ import annotations

from ...core.contract import Contract, Operation, Reply
from .errors import BAD_REQUEST, UNAUTHORIZED, USER_NOT_FOUND
from .schemas import (AccessTokenRequestSchema, AccessTokenSchema, BusinessSchema, ErrorSchema, UserEventSchema,
                      UserEventsRequestSchema)

# The document's example names refId CB6150 of customer 2847, which the default world lacks: this one is a
# user of the default world (seed 1; GET /_emulator/world lists them) over a window that covers the world's
# year of history whenever it runs, so that "Try it out" answers 200.
EXAMPLE_REQUEST = {"customerId": 7606, "refId": "TL6254", "from": "2000-01-01T00:00:00.000Z",
                   "until": "2099-12-31T23:59:59.000Z"}
EXAMPLE_EVENTS = [{"id": 625317, "dateEvent": "2025-06-04T20:58:33.000Z"},
                  {"id": 625930, "dateEvent": "2025-06-04T21:39:46.000Z"}]
# Shapes from vendor-notes; the values are the emulator's (its default credentials and a seeded business).
EXAMPLE_TOKEN_REQUEST = {"refresh_token": "parkup-emulator-refresh-token", "grant_type": "refresh_token"}
EXAMPLE_TOKEN = {"access_token": "9f2c4e0b7a1d3f5e8c6b2a4d0e9f7c1b3a5d8e2f4c6b0a9d7e1f3c5b8a2d4e6f"}
EXAMPLE_BUSINESS = {"id": 412, "name": "Acme Parking SpA", "brandimagen": "https://api.parkup.cl/images/business/412/brand.png"}
UNAUTHORIZED_REPLY = Reply("Invalid or missing authentication token", ErrorSchema, example={"error": UNAUTHORIZED})

CONTRACT = Contract(
    vendor="parkup",
    title="ParkUp business API (report-emulator)",
    description="The User Events report (every time a user used the application within a period), and the token "
                "exchange and validation a client does first.",
    server="https://api.parkup.cl",
    security_schemes={"bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <token>; on the emulator, by default, `parkup-emulator-token` (or an access token from POST /api/v3/business/oauth/access_token)"}},
    operations=(
        Operation(
            endpoint="parkup.access_token",
            method="POST",
            path="/api/v3/business/oauth/access_token",
            summary="Swap the refresh token for an access token",
            description="The refresh token stays usable. An access token lasts an hour on the emulator clock "
                        "(a scenario's parkup: {access_token_seconds: N}).",
            body=AccessTokenRequestSchema,
            body_required=True,
            body_example=EXAMPLE_TOKEN_REQUEST,
            responses={
                200: Reply("An access token", AccessTokenSchema, example=EXAMPLE_TOKEN),
                400: Reply("The body is not a JSON object", ErrorSchema, example={"error": BAD_REQUEST}),
                401: Reply("Unknown or missing refresh token, or another grant_type", ErrorSchema,
                           example={"error": UNAUTHORIZED}),
                429: Reply("Past a scenario's rate_limit (not documented by the vendor)", ErrorSchema,
                           headers={"Retry-After": "seconds until the window ends"}),
            },
        ),
        Operation(
            endpoint="parkup.validate",
            method="POST",
            path="/api/v3/business/validate",
            summary="The business behind the bearer token",
            security=("bearer",),
            responses={
                200: Reply("The business", BusinessSchema, example=EXAMPLE_BUSINESS),
                401: UNAUTHORIZED_REPLY,
                429: Reply("Past a scenario's rate_limit (not documented by the vendor)", ErrorSchema,
                           headers={"Retry-After": "seconds until the window ends"}),
            },
        ),
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
                401: UNAUTHORIZED_REPLY,
                404: Reply("User not found", ErrorSchema, example={"error": USER_NOT_FOUND}),
                429: Reply("Past a scenario's rate_limit (not documented by the vendor)", ErrorSchema,
                           headers={"Retry-After": "seconds until the window ends"}),
                500: Reply("Internal server error", ErrorSchema, example={"error": "Internal server error"}),
            },
        ),
    ),
)
