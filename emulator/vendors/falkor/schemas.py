"""Falkor's marshmallow schemas: requests (load) and responses (dump), wire names via data_key."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate


class StringList(fields.List):
    """An array of strings; a lone string or anything else is refused (the document says Array String)."""

    def __init__(self, **kwargs):
        super().__init__(fields.String(), **kwargs)


class Progress(fields.Float):
    """A percentage: a number, written without a fraction when it is whole (100, as in the document)."""

    def _serialize(self, value, attr, obj, **kwargs):
        number = super()._serialize(value, attr, obj, **kwargs)
        return int(number) if number is not None and float(number).is_integer() else number


class PathwayLogsRequestSchema(Schema):
    """Body of POST /v1/logs/pathway-logs. Unknown keys are ignored."""

    class Meta:
        unknown = EXCLUDE

    pathway = fields.String(required=True, validate=validate.Length(min=1, error="pathway must not be empty"),
                            error_messages={"required": "pathway is required",
                                            "null": "pathway must be a string (the ID or name of one pathway)",
                                            "invalid": "pathway must be a single string (the ID or name of one pathway); "
                                                       "query several pathways with several requests"},
                            metadata={"description": "ID or name of one pathway"})
    activities = StringList(metadata={"description": "IDs or names of activities"})
    types = StringList(metadata={"description": "activity types, as in answers (`data`) or by name (`Data Target`, `Stories`)"})
    groups = StringList(metadata={"description": "names of groups"})
    users = StringList(metadata={"description": "e-mails, first names, last names or full names"})
    user = StringList(load_only=True, metadata={"description": "the document's spelling of `users` in one example; merged into `users`"})

    @post_load
    def merge_user(self, data, **kwargs):
        if "user" in data:
            data["users"] = list(data.get("users", [])) + list(data.pop("user"))
        return data


class PathwaySchema(Schema):
    name = fields.String(required=True)
    type = fields.String(required=True, metadata={"description": "always `pathway`"})
    id = fields.String(required=True, data_key="ID", metadata={"description": "ID / SKU of the pathway"})


class StatsSchema(Schema):
    total = fields.Integer(required=True, metadata={"description": "number of users (logs in this answer)"})
    completed = fields.Integer(required=True, metadata={"description": "number of those users who completed the activity"})


class StatusSchema(Schema):
    complete = fields.Boolean(required=True)
    progress = Progress(required=True, metadata={"description": "0 to 100"})
    state = fields.String(required=True, validate=validate.OneOf(["not started", "in progress", "completed"]))
    timestamp = fields.String(required=True, metadata={"description": "last updated / completed time, ISO 8601 with the account's UTC offset"})


class StorySchema(Schema):
    id = fields.String(data_key="ID")
    name = fields.String()
    score = fields.Integer()


class DataSchema(Schema):
    category = fields.String()
    current = fields.Integer()
    target = fields.Integer()


class CheckinSchema(Schema):
    event_id = fields.String(data_key="eventID")
    virtual = fields.Boolean()
    guid = fields.String()
    distance = fields.Integer(metadata={"description": "metres; -1 when unknown or virtual"})


class QrCodeSchema(Schema):
    event_id = fields.String(data_key="eventID")
    code = fields.String()


class HonorSchema(Schema):
    confirmed = fields.Boolean()


class UploadSchema(Schema):
    filename = fields.String()
    size = fields.Integer()
    review = fields.String(metadata={"description": "Upload & Review only: pending or approved"})


class EnrollmentSchema(Schema):
    pathway_id = fields.String(data_key="pathwayID")
    name = fields.String()


class VisitSchema(Schema):
    url = fields.String()
    visits = fields.Integer()


class TrackingSchema(Schema):
    url = fields.String()
    seconds = fields.Integer()
    target = fields.Integer()


class FulfilmentSchema(Schema):
    """Status plus the fulfilment's own data, under a key that depends on the fulfilment type."""

    type = fields.String(required=True)
    state = fields.String(required=True)
    progress = Progress(required=True)
    story = fields.Nested(StorySchema)
    data = fields.Nested(DataSchema)
    checkin = fields.Nested(CheckinSchema)
    qrcode = fields.Nested(QrCodeSchema)
    honor = fields.Nested(HonorSchema)
    upload = fields.Nested(UploadSchema)
    enrollment = fields.Nested(EnrollmentSchema)
    visit = fields.Nested(VisitSchema)
    tracking = fields.Nested(TrackingSchema)
    timestamp = fields.String(required=True)


class Fulfilment(fields.Nested):
    """A fulfilment object, or `[]` (the vendor's empty fulfilment) for a log with nothing fulfilled."""

    def __init__(self, **kwargs):
        super().__init__(FulfilmentSchema, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if not value:
            return []
        return super()._serialize(value, attr, obj, **kwargs)

    def openapi_property(self, prop: dict) -> dict:
        """In the OpenAPI document (core/openapi.py): the fulfilment object, or an empty array."""
        description = prop.pop("description", None)
        wrapped = prop.get("allOf", [])
        ref = wrapped[0] if len(wrapped) == 1 else ({"$ref": prop["$ref"]} if "$ref" in prop else prop)
        found = {"oneOf": [ref, {"type": "array", "maxItems": 0, "items": {}}]}
        return {**found, "description": description} if description else found


class LogSchema(Schema):
    firstname = fields.String(required=True)
    lastname = fields.String(required=True)
    email = fields.String(required=True)
    telephone = fields.String(required=True)
    country = fields.String(required=True)
    city = fields.String(required=True)
    groups = fields.List(fields.String(), required=True)
    status = fields.Nested(StatusSchema, required=True)
    fulfilment = Fulfilment(required=True, metadata={"description": "an empty array while nothing is fulfilled"})


class ActivitySchema(Schema):
    id = fields.String(required=True, data_key="ID", metadata={"description": "ID / SKU of the activity"})
    name = fields.String(required=True)
    type = fields.String(required=True)
    fulfilment_type = fields.String(required=True, data_key="fulfilmentType")
    required = fields.Boolean(required=True, metadata={"description": "if the activity is required"})
    level = fields.Integer(required=True, validate=validate.Range(min=1, max=4))
    stats = fields.Nested(StatsSchema, required=True)
    logs = fields.List(fields.Nested(LogSchema), required=True)


class PathwayItemSchema(Schema):
    pathway = fields.Nested(PathwaySchema, required=True)
    activities = fields.List(fields.Nested(ActivitySchema), required=True)


class PathwayLogsSchema(Schema):
    """200 answer of POST /v1/logs/pathway-logs."""

    status = fields.String(required=True, metadata={"description": "always `success`"})
    data = fields.List(fields.Nested(PathwayItemSchema), required=True)
    hash = fields.String(required=True, metadata={"description": "MD5 of `data`"})
    response_time = fields.Float(required=True, metadata={"description": "seconds spent answering"})


class ErrorSchema(Schema):
    """Every Falkor error: HTTP 400-500."""

    status = fields.String(required=True, metadata={"description": "always `error`"})
    message = fields.String(required=True)


LIST_KEYS = ("activities", "types", "groups", "users", "user")


def describe(error: ValidationError) -> str:
    """marshmallow's messages as one sentence naming each wrong field."""
    parts = []
    for key, messages in sorted(error.messages.items(), key=lambda kv: str(kv[0])):
        if key in LIST_KEYS:
            parts.append(f"{key} must be an array of strings")
        else:
            parts.append(" ".join(str(m) for m in messages))
    return "Invalid request body: " + "; ".join(parts)


def fast_dumper(schema: Schema):
    """`schema.dump` for the model's own dicts, a few times faster: the answer has a log per (user, activity).

    Made from the schema's declared fields, in their order, with their wire names: a key absent from
    the dict is left out, nested schemas recurse, `Progress` and `Fulfilment` keep their rules. Other
    values pass as they are, which holds because the model gives each field its type (tests compare
    the bytes with `schema.dump`'s).
    """
    steps = []
    for name, field in schema.fields.items():
        wire = field.data_key or name
        if isinstance(field, Fulfilment):
            inner = fast_dumper(field.schema)
            convert = lambda value, inner=inner: inner(value) if value else []  # noqa: E731
        elif isinstance(field, fields.Nested):
            inner = fast_dumper(field.schema)
            convert = lambda value, inner=inner: None if value is None else inner(value)  # noqa: E731
        elif isinstance(field, Progress):
            convert = lambda value, field=field: None if value is None else field._serialize(value, None, None)  # noqa: E731
        elif isinstance(field, fields.List):
            convert = lambda value: None if value is None else list(value)  # noqa: E731
        else:
            convert = None
        steps.append((name, wire, convert))

    def dump(obj: dict) -> dict:
        out = {}
        for name, wire, convert in steps:
            if name in obj:
                value = obj[name]
                out[wire] = value if convert is None else convert(value)
        return out

    return dump
