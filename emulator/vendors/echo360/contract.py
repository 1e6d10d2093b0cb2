"""Echo360's documented contract: the operations, built from the schemas in schemas.py.

The examples are the document's own (fixtures/echo360 holds them as files). Signed asset downloads
are links the API hands out, not operations of the API, so they are left out.
"""
from __future__ import annotations

from ...core.contract import FORM, Contract, Operation, Reply
from . import schemas

REPORTING = "/public/api/v1/reporting"
RETRY_AFTER = {"Retry-After": "seconds until the rate-limit window ends"}
SECURITY = ("bearer", "access_token")

TOKEN = {"access_token": "1a2b3c4d5e6f", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "6f5e4d3c2b1a"}
ASSET_LISTING = {"name": "asset", "description": "Asset report", "note": "Engagement for all video assets",
                 "parameters": []}
PRESENTATION_LISTING = {"name": "presentation", "description": "Presentation slide views",
                        "note": "Engagement for presentation slide views",
                        "parameters": [{"name": "start", "datatype": "date", "required": True},
                                       {"name": "end", "datatype": "date", "required": True}]}
REQUESTS = {"requests": [
    {"requestId": "00000000-0000-0000-0000-000000000123", "status": "Available",
     "assets": ["00000000-0000-0000-0000-000000000456.csv.gz"], "reportName": "asset", "parameters": {},
     "created": "2020-04-01T20:36:12.000Z"},
    {"requestId": "00000000-0000-0000-0000-000000000abc", "status": "Pending", "reportName": "notes",
     "parameters": {"start": "2020-02-08", "end": "2020-02-15"}, "created": "2020-03-03T17:40:00.000Z"},
]}
DETAIL = {"requestId": "00000000-0000-0000-0000-000000000123", "status": "Available",
          "signedAssets": ["http://some.url/00000000-0000-0000-0000-000000000456.csv.gz?Signature=xxx"],
          "reportName": "asset", "parameters": {}, "created": "2020-04-01T20:36:12.000Z"}
SUBMIT = {"parameters": {"start": "2020-01-01", "end": "2020-01-02"}, "output": {"compression": True, "delimiter": "|"}}
SUBMITTED = {"requestId": "00000000-0000-0000-0000-000000001234", "status": "Pending", "reportName": "presentation",
             "parameters": {"start": "2020-01-01", "end": "2020-01-02"}, "created": "2020-04-01T00:00:00.000Z"}


def _error(description: str, example: str | None = None, **kwargs) -> Reply:
    return Reply(description, schemas.ErrorSchema, example={"error": example} if example else None, **kwargs)


BAD_REQUEST = _error("Malformed input or a broken rule (dates, 7-day range, in-flight limit, delimiter), or a "
                     "contract violation in strict mode",
                     "the range from start to end is limited to 7 days; got 9 days: submit separate requests for "
                     "smaller sub-intervals")
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="echo360"'}
UNAUTHORIZED = _error("Missing, invalid or expired access token", "invalid access token", headers=CHALLENGE)
TOO_MANY = _error("More than 120 calls a minute with this token", headers=RETRY_AFTER)


def _reporting(endpoint: str, method: str, path: str, summary: str, ok: Reply, **kwargs) -> Operation:
    responses = {200: ok, 400: BAD_REQUEST, 401: UNAUTHORIZED, 429: TOO_MANY, **kwargs.pop("responses", {})}
    return Operation(endpoint=endpoint, method=method, path=REPORTING + path, summary=summary, responses=responses,
                     query=schemas.AccessTokenQuerySchema, security=SECURITY, **kwargs)


_DETAIL_REPLY = Reply("The request; signedAssets (download links) while Available",
                      schemas.ReportRequestDetailSchema, example=DETAIL)
_NOT_FOUND_REQUEST = {404: _error("Unknown request id (or another API client's)",
                                  "unknown report request '00000000-0000-0000-0000-000000000123'")}

CONTRACT = Contract(
    vendor="echo360",
    title="Echo360 reporting API (report-emulator)",
    description="Asynchronous reports: take a token, submit a report request, poll it until Available, "
                "download the gzipped CSV from the signed link of the request's detail.",
    server="https://echo360.org",
    security_schemes={
        "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <access_token>, the access_token POST /oauth2/access_token answers (on the emulator, by default, client_id `emulator-client`, client_secret `echo360-emulator-secret`)"},
        "access_token": {"type": "apiKey", "in": "query", "name": "access_token"},
    },
    operations=(
        Operation(
            endpoint="echo360.access_token", method="POST", path="/oauth2/access_token",
            summary="Take an access token",
            description="grant_type=client_credentials with client_id and client_secret, or "
                        "grant_type=refresh_token with client_id and a refresh_token (each usable once), in the "
                        "query string as the vendor's public clients send them, or in a form body "
                        "(application/x-www-form-urlencoded; the body wins). The client may instead "
                        "authenticate with `Authorization: Basic base64(client_id:client_secret)` (RFC 6749 "
                        "section 2.3.1, each part form-urlencoded) and send only grant_type; both methods with "
                        "different values is a 400 invalid_request.",
            query=schemas.TokenParametersSchema,
            body=schemas.TokenParametersSchema, body_content_type=FORM,
            responses={
                200: Reply("A token for one hour", schemas.TokenSchema, example=TOKEN),
                400: _error("A contract violation (strict mode)"),
                401: _error("Wrong client or secret, unknown grant, used refresh token",
                            "invalid client: wrong or missing client_secret", headers=CHALLENGE),
            },
        ),
        _reporting("echo360.reports", "GET", "/reports", "The reports and their parameters",
                   Reply("Every report", schemas.ReportListSchema,
                         example={"reports": [ASSET_LISTING, PRESENTATION_LISTING]})),
        _reporting("echo360.list_requests", "GET", "/requests", "The API client's report requests, newest first",
                   Reply("The requests; assets (file names) while Available", schemas.ReportRequestListSchema,
                         example=REQUESTS)),
        _reporting("echo360.submit", "POST", "/requests/{report_or_request}", "Submit a report request",
                   Reply("The request, Pending", schemas.ReportRequestDetailSchema, example=SUBMITTED),
                   path_params={"report_or_request": "the report's name, as listed by GET /reports"},
                   body=schemas.ReportRequestBodySchema, body_example=SUBMIT,
                   content_type_stated=False,  # the document shows the JSON body, never a Content-Type
                   responses={404: _error("Unknown report", "unknown report 'visit': see GET "
                                                            "/public/api/v1/reporting/reports")}),
        _reporting("echo360.request_detail", "GET", "/requests/{report_or_request}", "A report request",
                   _DETAIL_REPLY, path_params={"report_or_request": "the requestId"}, responses=_NOT_FOUND_REQUEST),
        _reporting("echo360.request_detail_singular", "GET", "/request/{request_id}",
                   "A report request (the document's singular path)", _DETAIL_REPLY,
                   path_params={"request_id": "the requestId"}, responses=_NOT_FOUND_REQUEST),
    ),
)
