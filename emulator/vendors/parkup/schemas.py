"""ParkUp's marshmallow schemas: requests (load) and responses (dump), wire names via data_key."""
from __future__ import annotations

from datetime import timezone

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from ...settings import parse_instant


class CustomerId(fields.Integer):
    """A number; a string of digits ("2847") is taken too. Booleans, fractions and words are refused."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid")
        if isinstance(value, str) and not value.strip().isdigit():
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class UtcInstant(fields.DateTime):
    """ISO 8601 in UTC on the wire, milliseconds and Z ("2025-06-04T20:58:33.000Z").

    Loading takes any ISO 8601 instant (Z, an offset, or none meaning UTC) and makes it UTC.
    """

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE)
        try:
            return parse_instant(value)
        except (ValueError, OverflowError):  # OverflowError: year 1 with an offset east of UTC
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE) from None

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        value = value.astimezone(timezone.utc)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


class UserEventsRequestSchema(Schema):
    """Body of POST /api/v3/business/report/event/user. Unknown keys are ignored."""

    class Meta:
        unknown = EXCLUDE

    customer_id = CustomerId(data_key="customerId", allow_none=True, load_default=None,
                             metadata={"description": "Customer ID for filtering events (optional)"})
    ref_id = fields.String(data_key="refId", required=True, validate=validate.Length(min=1),
                           metadata={"description": "Red User ID for identifying the user"})
    from_ = UtcInstant(data_key="from", required=True,
                       metadata={"description": "Start date and time in ISO 8601 format (UTC)"})
    until = UtcInstant(required=True, metadata={"description": "End date and time in ISO 8601 format (UTC)"})

    @validates_schema
    def range_in_order(self, data, **kwargs):
        if "from_" in data and "until" in data and data["from_"] > data["until"]:
            raise ValidationError("from must not be after until", "from")


class UserEventSchema(Schema):
    """One element of the 200 answer (a JSON array of these)."""

    id = fields.Integer(required=True, metadata={"description": "Unique identifier for the user event record"})
    date_event = UtcInstant(data_key="dateEvent", required=True,
                            metadata={"description": "Timestamp when the user used the application (ISO 8601)"})


class AccessTokenRequestSchema(Schema):
    """Body of POST /api/v3/business/oauth/access_token. Unknown keys are ignored."""

    class Meta:
        unknown = EXCLUDE

    refresh_token = fields.String(required=True, validate=validate.Length(min=1),
                                  metadata={"description": "The business's refresh token"})
    grant_type = fields.String(required=True, validate=validate.OneOf(["refresh_token"]),
                               metadata={"description": "Always refresh_token"})


class AccessTokenSchema(Schema):
    """The answer of POST /api/v3/business/oauth/access_token."""

    access_token = fields.String(required=True, metadata={"description": "Bearer token for the business API"})


class BusinessSchema(Schema):
    """The answer of POST /api/v3/business/validate: the business behind the bearer token."""

    id = fields.Integer(required=True, metadata={"description": "The business's id"})
    name = fields.String(required=True, metadata={"description": "The business's name"})
    brandimagen = fields.String(required=True, metadata={"description": "URL of the business's brand image"})


class ErrorSchema(Schema):
    """Every ParkUp error (400, 401, 404, 500)."""

    error = fields.String(required=True)


def describe(error: ValidationError) -> str:
    """What was wrong, field by field (sent in the X-Emulator-Error header; the body is the vendor's)."""
    parts = []
    for key, messages in sorted(error.messages.items(), key=lambda kv: str(kv[0])):
        parts.append(f"{key}: {' '.join(str(m) for m in messages)}")
    return "; ".join(parts)



