"""Strigo's documented contract: the operations, built from the schemas in schemas.py.

The examples are the documents' own (fixtures/strigo holds them as files; tests check they agree).
Every documented request carries `Accept: application/json` (or `text/csv`) and a `Content-Type`, so
the report operations declare an Accept header that strict mode requires.
"""
from __future__ import annotations

from ...core.contract import Contract, Operation, Reply
from .errors import TOO_MANY_REQUESTS
from .schemas import (
    CourseEnrollmentsResponseSchema,
    CourseExercisesResponseSchema,
    CourseUserActivityResponseSchema,
    EventExercisesResponseSchema,
    EventUserActivityResponseSchema,
    FailureSchema,
    HealthSchema,
    ReportQuerySchema,
    UserActivityRequestSchema,
)

ACCEPT = ("application/json", "text/csv")
RATE_HEADERS = {
    "x-ratelimit-limit": "requests allowed per window",
    "x-ratelimit-remaining": "requests left in the current window",
    "x-ratelimit-reset": "when the window ends, in epoch seconds",
}

_EXERCISE_1 = {"title": "First question", "type": "question", "result": "success", "finished_at": "2023-11-21T09:43:59.285Z"}
_EXERCISE_2 = {"title": "Second exercise", "type": "exercise", "result": "success", "finished_at": "2023-11-21T09:59:59.285Z"}


def _columns(prefix: str) -> dict:
    return {f"{prefix}{n}_{key}": value for n, exercise in ((1, _EXERCISE_1), (2, _EXERCISE_2)) for key, value in exercise.items()}


# The event exercises example of the document shows only the content of `data` (vendor notes).
EVENT_EXERCISES = [{
    "event_id": "45f2305650328ac7afd34a61", "event_name": "Erlich Bachman's new event", "email": "erlich@strigo.io",
    "name": "Erlich Bachman", "workspace_id": "J5SEv6sXeJQcSFwAG", "exercises_finished": 2, "exercises_count": 2,
    "all_exercises_completed": True, **_columns("exercise_"),
}]
EVENT_EXERCISES_CSV = (
    "event_id,event_name,email,name,workspace_id,exercises_finished,exercises_count,all_exercises_completed,"
    "exercise_1_title,exercise_1_type,exercise_1_result,exercise_1_finished_at,"
    "exercise_2_title,exercise_2_type,exercise_2_result,exercise_2_finished_at\n"
    '"45f2305650328ac7afd34a61","Erlich Bachman\'s new event","erlich@strigo.io","Erlich Bachman","J5SEv6sXeJQcSFwAG",'
    '2,2,true,"First question","question","success","2023-11-21T09:43:59.285Z","Second exercise","exercise","failure",'
    '"2023-11-21T09:59:59.285Z"\n'
)
COURSE_ENROLLMENTS = {"result": "success", "data": [{
    "course_id": "6363d3d399533fd52834c620", "course_name": "My on demand course", "enrollment_id": "65ae4e111113937279ef",
    "email": "monica@raviga.com", "name": "Monica Hall", "workspace_id": "9kxwQn3BvkGsFFT4Y",
    "enrolled_at": "2024-01-22T11:18:07.161Z", "started_at": "2024-01-22T12:24:53.411Z", "status": "finished",
    "exercises_finished": 0, "exercises_count": 2, "all_exercises_completed": False,
}]}
COURSE_ENROLLMENTS_CSV = (
    '"course_id","course_name","enrollment_id","email","name","workspace_id","enrolled_at","started_at","status",'
    '"exercises_finished","exercises_count","all_exercises_completed"\n'
    '"6363d3d399533fd52834c620","My on demand course","65ae4e111113937279ef","monica@raviga.com","Monica Hall",'
    '"9kxwQn3BvkGsFFT4Y","2024-01-22T11:18:07.161Z","2024-01-22T12:24:53.411Z","finished",0,2,false\n'
)  # the document's header lacks "status" although its row has it (a slip); shown here with it
COURSE_EXERCISES = {"result": "success", "data": [{
    "course_id": "eb917a943d6d0365784e8779", "course_name": "My course", "enrollment_id": "6578571c59421c82c1f5a44f",
    "email": "erlich@strigo.io", "name": "Erlich Bachman", "workspace_id": "J5SEv6sXeJQcSFwAG",
    "exercises_finished": 2, "exercises_count": 2, "all_exercises_completed": True, **_columns("exercise"),
}]}
COURSE_EXERCISES_CSV = (
    '"course_id","course_name","enrollment_id","email","name","workspace_id","exercises_finished","exercises_count",'
    '"all_exercises_completed","exercise1_title","exercise1_type","exercise1_result","exercise1_finished_at",'
    '"exercise2_title","exercise2_type","exercise2_result","exercise2_finished_at"\n'
    '"eb917a943d6d0365784e8779","My course","6578571c59421c82c1f5a44f","erlich@strigo.io","Erlich Bachman",'
    '"J5SEv6sXeJQcSFwAG",2,2,true,"First question","question","success","2023-11-21T09:43:59.285Z",'
    '"Second exercise","exercise","failure","2023-11-21T09:59:59.285Z"\n'
)


def _session(start: str, end: str, seconds: float) -> dict:
    return {"sessionStartTime": start, "sessionEndTime": end, "sessionDurationInSeconds": seconds}


EVENT_ACTIVITY_REQUEST = {"from": "2022-10-07T15:10:52.934Z", "to": "2022-11-06T15:10:52.934Z"}
EVENT_USER_ACTIVITY = {"result": "success", "data": [
    {"eventId": "635xxxxx0273addadxxxxxxx", "workspaceId": "roxxxxnphJohxxxxx", "name": "Bertram Gilfoyle",
     "email": "gilfoyle@pp.io", "role": "host", "status": "done", "startedAt": "2022-10-31T13:37:21.150Z",
     "sessions": [_session("2022-10-31T13:37:22.784Z", "2022-10-31T13:41:45.386Z", 262.602),
                  _session("2022-10-31T14:31:01.863Z", "2022-10-31T14:33:22.659Z", 140.796)],
     "totalSessionTime": 403.39799999999997, **EVENT_ACTIVITY_REQUEST},
    {"eventId": "635xxxxx0273addadxxxxxxx", "workspaceId": "yyyYqh65taB3yyyy", "name": "Dinesh Chugtai",
     "email": "dinesh@pp.io", "role": "student", "status": "done", "startedAt": "2022-10-31T13:37:50.280Z",
     "sessions": [_session("2022-10-31T13:37:50.753Z", "2022-10-31T13:46:22.528Z", 511.775),
                  _session("2022-10-31T14:31:07.156Z", "2022-10-31T14:32:07.156Z", 60),
                  _session("2022-10-31T15:21:15.918Z", "2022-10-31T15:22:15.918Z", 60)],
     "totalSessionTime": 631.775, **EVENT_ACTIVITY_REQUEST},
]}
COURSE_ACTIVITY_REQUEST = {"from": "2018-10-28T08:14:55.743Z", "to": "2022-11-07T08:14:55.743Z"}
COURSE_USER_ACTIVITY = {"result": "success", "data": [
    {"courseId": "6363d3d399533fd52834c620", "workspaceId": "gF29ttALksgieTfYh", "enrollmentId": "63677b1f41cb30b50754d28e",
     "name": "Monica Hall", "email": "monica@raviga.com", "status": "started", "enrolledAt": "2022-11-06T09:15:11.572Z",
     "startedAt": "2022-11-06T09:15:32.425Z",
     "sessions": [_session("2022-11-06T09:15:32.468Z", "2022-11-06T09:28:52.239Z", 799.771)],
     "totalSessionTime": 799.771, **COURSE_ACTIVITY_REQUEST},
]}


def _failure(kind: str, message: str) -> dict:
    return {"result": "failure", "error": {"type": kind, "message": message}}


UNAUTHORIZED = Reply("Missing, malformed or wrong `Authorization: Bearer <ORG_ID>:<API_KEY>`", FailureSchema,
                     example=_failure("Unauthorized", "Invalid organization id or API key."), headers=RATE_HEADERS)
INVALID = Reply("RequestValidationError: the request is not valid (also strict mode's answer to a contract violation)",
                FailureSchema, headers=RATE_HEADERS, example={"result": "failure", "error": {
                    "type": "RequestValidationError", "message": "The request is not valid",
                    "errors": [{"location": "query", "param": "output", "msg": "output must be one of: json, csv"}]}})
TOO_MANY = Reply("Past the rate limit (Express rate-limit's answer)", content_type="text/html", example=TOO_MANY_REQUESTS,
                 headers={"Retry-After": "seconds until the window ends", **RATE_HEADERS})


def _not_found(kind: str, what: str, example_id: str) -> Reply:
    return Reply(f"No such {what}", FailureSchema, headers=RATE_HEADERS,
                 example=_failure(kind, f"{what.capitalize()} {example_id} could not be found."))


EVENT_ID = {"event_id": "The event's unique identifier."}
COURSE_ID = {"course_id": "The course's unique identifier."}
EVENT_NOT_FOUND = _not_found("EventNotFound", "event", "45f2305650328ac7afd34a61")
COURSE_NOT_FOUND = _not_found("CourseNotFound", "course", "6363d3d399533fd52834c620")
BEARER = ("bearer",)

_ROW_EXTRA = ("Plus four columns per exercise of the {what} ({pattern}_title, _type, _result, _finished_at for n = 1..."
              " exercises_count); OpenAPI 3.0 cannot name them by pattern, so they are additional properties.")

CONTRACT = Contract(
    vendor="strigo",
    title="Strigo reports API (report-emulator)",
    description="Strigo's event and on-demand course reports (JSON or CSV) and user activity, under /api/v1. "
                "Every JSON answer is an envelope {result, data} or {result: failure, error}.",
    server="https://app.strigo.io",  # the paths carry /api/v1
    security_schemes={"bearer": {"type": "http", "scheme": "bearer",
                                 "description": "Authorization: Bearer <ORG_ID>:<API_KEY>; on the emulator, by default, `emulator-org:strigo-emulator-key` (GET /_emulator/credentials)"}},
    schema_extras={
        "EventExerciseRow": {
            "description": _ROW_EXTRA.format(what="event", pattern="exercise_<n>"),
            "additionalProperties": {"type": "string", "nullable": True},
        },
        "CourseExerciseRow": {
            "description": _ROW_EXTRA.format(what="course", pattern="exercise<n>"),
            "additionalProperties": {"type": "string", "nullable": True},
        },
    },
    operations=(
        Operation(
            endpoint="strigo.health",
            method="GET",
            path="/api/v1/health",
            summary="Health check",
            description="Answers without the envelope and without authentication.",
            responses={
                200: Reply("Healthy", HealthSchema, example={"status": "ok", "message": "Healthy"}, headers=RATE_HEADERS),
                429: TOO_MANY,
            },
        ),
        Operation(
            endpoint="strigo.event_exercises",
            method="GET",
            path="/api/v1/events/{event_id}/reports/exercises",
            summary="Event exercises report",
            description="All workspaces' exercise results of the event, as JSON or (output=csv) CSV.",
            path_params=EVENT_ID,
            query=ReportQuerySchema,
            accept=ACCEPT,
            security=BEARER,
            responses={
                200: Reply("One row per participant", EventExercisesResponseSchema, headers=RATE_HEADERS,
                           example={"result": "success", "data": EVENT_EXERCISES},
                           alternatives={"text/csv": EVENT_EXERCISES_CSV}),
                401: UNAUTHORIZED,
                404: EVENT_NOT_FOUND,
                422: INVALID,
                429: TOO_MANY,
            },
        ),
        Operation(
            endpoint="strigo.event_user_activity",
            method="POST",
            path="/api/v1/events/{event_id}/reports/user-activity",
            summary="Event user activity report",
            description="Attendees' sessions within [from, to] (from defaults to one month ago, to to now).",
            path_params=EVENT_ID,
            body=UserActivityRequestSchema,
            body_example=EVENT_ACTIVITY_REQUEST,
            accept=ACCEPT[:1],
            security=BEARER,
            responses={
                200: Reply("One row per attendee", EventUserActivityResponseSchema, example=EVENT_USER_ACTIVITY,
                           headers=RATE_HEADERS),
                401: UNAUTHORIZED,
                404: EVENT_NOT_FOUND,
                422: INVALID,
                429: TOO_MANY,
            },
        ),
        Operation(
            endpoint="strigo.course_enrollments",
            method="GET",
            path="/api/v1/ondemand-courses/{course_id}/reports/enrollments",
            summary="On-demand course enrollments report",
            description="All enrollments of the on-demand course, as JSON or (output=csv) CSV.",
            path_params=COURSE_ID,
            query=ReportQuerySchema,
            accept=ACCEPT,
            security=BEARER,
            responses={
                200: Reply("One row per enrollment", CourseEnrollmentsResponseSchema, example=COURSE_ENROLLMENTS,
                           headers=RATE_HEADERS, alternatives={"text/csv": COURSE_ENROLLMENTS_CSV}),
                401: UNAUTHORIZED,
                404: COURSE_NOT_FOUND,
                422: INVALID,
                429: TOO_MANY,
            },
        ),
        Operation(
            endpoint="strigo.course_exercises",
            method="GET",
            path="/api/v1/ondemand-courses/{course_id}/reports/exercises",
            summary="On-demand course exercises report",
            description="All workspaces' exercise results of the on-demand course, as JSON or (output=csv) CSV.",
            path_params=COURSE_ID,
            query=ReportQuerySchema,
            accept=ACCEPT,
            security=BEARER,
            responses={
                200: Reply("One row per enrollment", CourseExercisesResponseSchema, example=COURSE_EXERCISES,
                           headers=RATE_HEADERS, alternatives={"text/csv": COURSE_EXERCISES_CSV}),
                401: UNAUTHORIZED,
                404: COURSE_NOT_FOUND,
                422: INVALID,
                429: TOO_MANY,
            },
        ),
        Operation(
            endpoint="strigo.course_user_activity",
            method="POST",
            path="/api/v1/ondemand-courses/{course_id}/reports/user-activity",
            summary="On-demand course user activity report",
            description="Enrollments' sessions within [from, to] (from defaults to one month ago, to to now).",
            path_params=COURSE_ID,
            body=UserActivityRequestSchema,
            body_example=COURSE_ACTIVITY_REQUEST,
            accept=ACCEPT[:1],
            security=BEARER,
            responses={
                200: Reply("One row per enrollment", CourseUserActivityResponseSchema, example=COURSE_USER_ACTIVITY,
                           headers=RATE_HEADERS),
                401: UNAUTHORIZED,
                404: COURSE_NOT_FOUND,
                422: INVALID,
                429: TOO_MANY,
            },
        ),
    ),
)
