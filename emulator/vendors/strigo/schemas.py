"""Strigo's marshmallow schemas: requests (load) and responses (dump), wire names via data_key.

Field order is the documents' column order (marshmallow keeps declaration order), and it is the
CSV header too. Exercise reports have four columns per exercise of the event or course
(`exercise_1_title` ... on events, `exercise1_title` ... on courses), so their row schemas are made
per exercise count by `event_exercise_row_schema(n)` / `course_exercise_row_schema(n)`; the static
part is `EventExerciseRowSchema` / `CourseExerciseRowSchema`.
"""
from __future__ import annotations

from functools import lru_cache

from marshmallow import EXCLUDE, Schema, fields, validate

from ...settings import parse_instant
from .models import iso_ms

OUTPUTS = ("json", "csv")


class JsDate(fields.DateTime):
    """A JavaScript Date on the wire: `Date.toISOString()` (UTC, milliseconds, Z). Loads any ISO 8601."""

    default_error_messages = {"invalid": "{name} must be a valid ISO 8601 date, e.g. 2022-10-07T15:10:52.934Z"}

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else iso_ms(value)

    def _deserialize(self, value, attr, data, **kwargs):
        name = self.data_key or attr
        if not isinstance(value, str):
            raise self.make_error("invalid", name=name)
        try:
            return parse_instant(value)
        except (ValueError, OverflowError):
            raise self.make_error("invalid", name=name) from None


class JsNumber(fields.Number):
    """A JavaScript number: 60 stays 60 and 262.602 stays 262.602 (no cast to float)."""

    num_type = float

    def _serialize(self, value, attr, obj, **kwargs):
        return value


# -- requests --------------------------------------------------------------------------------------


class ReportQuerySchema(Schema):
    """Query string of the GET reports."""

    class Meta:
        unknown = EXCLUDE

    output = fields.String(
        load_default="json",
        validate=validate.OneOf(OUTPUTS, error="output must be one of: json, csv"),
        metadata={"description": "The desired output type (json, csv). Default is json."},
    )


class UserActivityRequestSchema(Schema):
    """Body of the user-activity reports; both dates optional (null is the same as absent)."""

    class Meta:
        unknown = EXCLUDE

    start = JsDate(data_key="from", load_default=None, allow_none=True,
                   metadata={"description": "Start date to filter activity by. Defaults to one month ago."})
    end = JsDate(data_key="to", load_default=None, allow_none=True,
                 metadata={"description": "End date to filter activity by. Defaults to the request's time."})


# -- responses -------------------------------------------------------------------------------------


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"example": "ok"})
    message = fields.String(required=True, metadata={"example": "Healthy"})


class ValidationErrorItemSchema(Schema):
    location = fields.String(required=True, validate=validate.OneOf(("body", "query", "params", "headers")))
    param = fields.String(required=True)
    msg = fields.String(required=True)


class ErrorSchema(Schema):
    type = fields.String(required=True, metadata={"example": "EventNotFound"})
    message = fields.String(required=True)
    errors = fields.List(fields.Nested(ValidationErrorItemSchema),
                         metadata={"description": "Only on RequestValidationError (HTTP 422)."})


class FailureSchema(Schema):
    result = fields.String(required=True, validate=validate.Equal("failure"))
    error = fields.Nested(ErrorSchema, required=True)


class EventExerciseRowSchema(Schema):
    event_id = fields.String(required=True)
    event_name = fields.String(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    workspace_id = fields.String(required=True)
    exercises_finished = fields.Integer(required=True)
    exercises_count = fields.Integer(required=True)
    all_exercises_completed = fields.Boolean(required=True)


class CourseEnrollmentRowSchema(Schema):
    course_id = fields.String(required=True)
    course_name = fields.String(required=True)
    enrollment_id = fields.String(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    workspace_id = fields.String(required=True)
    enrolled_at = JsDate(required=True)
    started_at = JsDate(required=True, allow_none=True, metadata={"description": "null until the learner starts."})
    status = fields.String(required=True, validate=validate.OneOf(
        ("enrolled", "started", "inactive", "paused", "expired", "finished")))
    exercises_finished = fields.Integer(required=True)
    exercises_count = fields.Integer(required=True)
    all_exercises_completed = fields.Boolean(required=True)


class CourseExerciseRowSchema(Schema):
    course_id = fields.String(required=True)
    course_name = fields.String(required=True)
    enrollment_id = fields.String(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    workspace_id = fields.String(required=True)
    exercises_finished = fields.Integer(required=True)
    exercises_count = fields.Integer(required=True)
    all_exercises_completed = fields.Boolean(required=True)


def _exercise_fields(prefix: str, count: int) -> dict[str, fields.Field]:
    columns: dict[str, fields.Field] = {}
    for n in range(1, count + 1):
        columns[f"{prefix}{n}_title"] = fields.String(required=True)
        columns[f"{prefix}{n}_type"] = fields.String(required=True, validate=validate.OneOf(("question", "exercise")))
        columns[f"{prefix}{n}_result"] = fields.String(
            required=True, allow_none=True, validate=validate.OneOf(("success", "failure")),
            metadata={"description": "null while the exercise is not finished."})
        columns[f"{prefix}{n}_finished_at"] = JsDate(required=True, allow_none=True)
    return columns


@lru_cache(maxsize=None)
def event_exercise_row_schema(count: int) -> Schema:
    """An event exercises row with `exercise_1_title` ... `exercise_<count>_finished_at`."""
    cls = type(f"EventExerciseRow{count}Schema", (EventExerciseRowSchema,), _exercise_fields("exercise_", count))
    return cls()


@lru_cache(maxsize=None)
def course_exercise_row_schema(count: int) -> Schema:
    """An on-demand course exercises row with `exercise1_title` ... `exercise<count>_finished_at`."""
    cls = type(f"CourseExerciseRow{count}Schema", (CourseExerciseRowSchema,), _exercise_fields("exercise", count))
    return cls()


class SessionSchema(Schema):
    session_start_time = JsDate(required=True, data_key="sessionStartTime")
    session_end_time = JsDate(required=True, data_key="sessionEndTime")
    session_duration_in_seconds = JsNumber(required=True, data_key="sessionDurationInSeconds",
                                           metadata={"description": "Seconds, with millisecond precision."})


class EventUserActivityRowSchema(Schema):
    event_id = fields.String(required=True, data_key="eventId")
    workspace_id = fields.String(required=True, data_key="workspaceId")
    name = fields.String(required=True)
    email = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf(("host", "student")))
    status = fields.String(required=True, metadata={"example": "done"})
    started_at = JsDate(required=True, allow_none=True, data_key="startedAt")
    sessions = fields.List(fields.Nested(SessionSchema), required=True)
    total_session_time = JsNumber(required=True, data_key="totalSessionTime",
                                  metadata={"description": "The sum of the listed sessions' durations, in seconds."})
    window_from = JsDate(required=True, attribute="from", data_key="from")
    window_to = JsDate(required=True, attribute="to", data_key="to")


class CourseUserActivityRowSchema(Schema):
    course_id = fields.String(required=True, data_key="courseId")
    workspace_id = fields.String(required=True, data_key="workspaceId")
    enrollment_id = fields.String(required=True, data_key="enrollmentId")
    name = fields.String(required=True)
    email = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(
        ("enrolled", "started", "inactive", "paused", "expired", "finished")))
    enrolled_at = JsDate(required=True, data_key="enrolledAt")
    started_at = JsDate(required=True, allow_none=True, data_key="startedAt")
    sessions = fields.List(fields.Nested(SessionSchema), required=True)
    total_session_time = JsNumber(required=True, data_key="totalSessionTime")
    window_from = JsDate(required=True, attribute="from", data_key="from")
    window_to = JsDate(required=True, attribute="to", data_key="to")


class _Success(Schema):
    result = fields.String(required=True, validate=validate.Equal("success"))


class EventExercisesResponseSchema(_Success):
    data = fields.List(fields.Nested(EventExerciseRowSchema), required=True,
                       metadata={"description": "Plus exercise_<n>_title/_type/_result/_finished_at per exercise."})


class CourseEnrollmentsResponseSchema(_Success):
    data = fields.List(fields.Nested(CourseEnrollmentRowSchema), required=True)


class CourseExercisesResponseSchema(_Success):
    data = fields.List(fields.Nested(CourseExerciseRowSchema), required=True,
                       metadata={"description": "Plus exercise<n>_title/_type/_result/_finished_at per exercise."})


class EventUserActivityResponseSchema(_Success):
    data = fields.List(fields.Nested(EventUserActivityRowSchema), required=True)


class CourseUserActivityResponseSchema(_Success):
    data = fields.List(fields.Nested(CourseUserActivityRowSchema), required=True)


def header(schema: Schema) -> list[str]:
    """The wire names of a row schema, in order: the CSV header."""
    return [f.data_key or name for name, f in schema.dump_fields.items()]
