"""Strigo's thin views: authenticate, load, call the model, dump or raise.

Every request under /api/v1/ is counted by the rate limiter first (like Express middleware that
runs before authentication) and every answer carries the x-ratelimit-* headers.
"""
from __future__ import annotations

from flask import Blueprint, Response, current_app, g, request
from marshmallow import ValidationError

from ...core.csvout import render_csv
from ...core.limits import LimitExceeded, read_json
from ...core.streaming import Lazy, json_pieces, streamed
from ...core.vendor import vendor_model
from .errors import (
    JSON,
    RequestValidationError,
    StrigoError,
    Unauthorized,
    envelope_body,
    envelope_response,
    render_error,
    too_many_requests,
)
from .schemas import (
    CourseEnrollmentRowSchema,
    CourseUserActivityRowSchema,
    EventUserActivityRowSchema,
    HealthSchema,
    ReportQuerySchema,
    UserActivityRequestSchema,
    course_exercise_row_schema,
    event_exercise_row_schema,
    header,
)

PREFIX = "/api/v1"
blueprint = Blueprint("strigo", __name__, url_prefix=PREFIX)

_query_schema = ReportQuerySchema()
_DEFAULT_OUTPUT = _query_schema.load({})["output"]
_activity_schema = UserActivityRequestSchema()
_enrollment_schema = CourseEnrollmentRowSchema()
_event_activity_schema = EventUserActivityRowSchema()
_course_activity_schema = CourseUserActivityRowSchema()


def model():
    return vendor_model("strigo")


@blueprint.app_errorhandler(StrigoError)
def _strigo_error(exc: StrigoError) -> Response:
    return render_error(exc)


@blueprint.before_app_request
def _rate_limit():
    if not request.path.startswith(PREFIX + "/"):
        return None
    strigo = model()
    try:
        key = strigo.organisation(request.headers.get("Authorization"))
    except Unauthorized:
        key = f"unauthenticated:{request.remote_addr}"
    verdict = strigo.hit(key)
    g.strigo_rate = verdict
    if not verdict.allowed:
        return too_many_requests(verdict.retry_after)
    return None


@blueprint.after_app_request
def _rate_headers(response: Response) -> Response:
    verdict = g.get("strigo_rate")
    if verdict is not None and request.path.startswith(PREFIX + "/"):
        response.headers["x-ratelimit-limit"] = str(verdict.limit)
        response.headers["x-ratelimit-remaining"] = str(verdict.remaining)
        response.headers["x-ratelimit-reset"] = str(verdict.reset_epoch)
    return response


def authenticate() -> str:
    return model().organisation(request.headers.get("Authorization"))


def output() -> str:
    """`?output=json|csv` (json by default); anything else is a 422 naming `output`."""
    if not request.query_string:  # the usual call: the schema's default, without a load
        return _DEFAULT_OUTPUT
    try:
        return _query_schema.load(request.args.to_dict(flat=True))["output"]
    except ValidationError as exc:
        raise RequestValidationError(
            [("query", param, msg) for param, msgs in sorted(exc.messages.items()) for msg in msgs]
        ) from None


def activity_body() -> dict:
    """The optional JSON body {from, to} of the user-activity reports, loaded or refused with a 422."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        payload = {}
    else:
        try:
            payload = read_json(raw)
        except LimitExceeded as exc:  # Strigo refuses every unreadable body with its 422, the limit named
            raise RequestValidationError([("body", "body", f"The body is not valid JSON: {exc.message}")]) from None
        except ValueError as exc:
            raise RequestValidationError([("body", "body", f"The body is not valid JSON: {exc}")]) from None
        if payload is None:
            payload = {}
    if not isinstance(payload, dict):
        raise RequestValidationError([("body", "body", "The body must be a JSON object with optional from and to")])
    try:
        return _activity_schema.load(payload)
    except ValidationError as exc:
        order = {"from": 0, "to": 1}
        raise RequestValidationError(
            [("body", param, msg) for param, msgs in sorted(exc.messages.items(), key=lambda i: order.get(i[0], 2))
             for msg in msgs]
        ) from None


def report(kind: str, entity_id: str, fmt: str, quote_header: bool, envelope: bool = True) -> Response:
    """A GET report as CSV (the dumped rows' values, in the schema's column order) or JSON.

    The body is rendered once per entity, format, options and clock-visible state (see
    StrigoModel.rendered): the same request at the same emulator time gives the same bytes.
    """
    strigo = model()
    quote = strigo.knobs().get("csv_quote_header")
    quote_header = quote if isinstance(quote, bool) else quote_header
    entity, rows_of = {
        "event-exercises": (strigo.event, strigo.event_exercises),
        "course-enrollments": (strigo.course, strigo.course_enrollments),
        "course-exercises": (strigo.course, strigo.course_exercises),
    }[kind]
    target = entity(entity_id)

    def make() -> tuple[str, str]:
        schema = SCHEMAS[kind](target)
        data = schema.dump(rows_of(entity_id), many=True)
        if fmt == "csv":
            body = render_csv(header(schema), (list(row.values()) for row in data), quote_header=quote_header)
            return body, "text/csv; charset=utf-8"
        return envelope_body({"result": "success", "data": data} if envelope else data), JSON

    body, content_type = strigo.rendered((kind, entity_id, fmt, quote_header, envelope), target, make)
    return current_app.response_class(body, status=200, content_type=content_type)


SCHEMAS = {
    "event-exercises": lambda event: event_exercise_row_schema(len(event.exercises)),
    "course-enrollments": lambda course: _enrollment_schema,
    "course-exercises": lambda course: course_exercise_row_schema(len(course.exercises)),
}


@blueprint.get("/health")
def health():
    return envelope_response(HealthSchema().dump({"status": "ok", "message": "Healthy"}), 200)


@blueprint.get("/events/<event_id>/reports/exercises")
def event_exercises(event_id: str):
    authenticate()
    fmt = output()
    envelope = model().knobs().get("event_exercises_envelope", True) is not False
    # The docs' event CSV sample has a bare header row.
    return report("event-exercises", event_id, fmt, quote_header=False, envelope=envelope)


@blueprint.post("/events/<event_id>/reports/user-activity")
def event_user_activity(event_id: str):
    authenticate()
    body = activity_body()
    window = model().activity_window(body["start"], body["end"])
    return streamed_rows(model().event_user_activity_rows(event_id, window), _event_activity_schema, "Strigo event user-activity")


@blueprint.get("/ondemand-courses/<course_id>/reports/enrollments")
def course_enrollments(course_id: str):
    authenticate()
    fmt = output()
    # The docs' course CSV samples quote the header row.
    return report("course-enrollments", course_id, fmt, quote_header=True)


@blueprint.get("/ondemand-courses/<course_id>/reports/exercises")
def course_exercises(course_id: str):
    authenticate()
    fmt = output()
    return report("course-exercises", course_id, fmt, quote_header=True)


@blueprint.post("/ondemand-courses/<course_id>/reports/user-activity")
def course_user_activity(course_id: str):
    authenticate()
    body = activity_body()
    window = model().activity_window(body["start"], body["end"])
    return streamed_rows(model().course_user_activity_rows(course_id, window), _course_activity_schema, "Strigo course user-activity")


def streamed_rows(rows, schema, what: str) -> Response:
    """`{"result":"success","data":[...]}` as Express writes it (`envelope_body`), each row written as it is made."""

    def body():
        data = Lazy((envelope_body(schema.dump(row)) for row in rows()), dumped=True)
        yield from json_pieces({"result": "success", "data": data}, envelope_body)

    return streamed(body, JSON, what=what)
