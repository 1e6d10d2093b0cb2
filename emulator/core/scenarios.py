"""Scenario files: load them (YAML or JSON), validate them (marshmallow), match their rules to requests.

A scenario is validated whole before anything is applied: a refused one names every wrong field by
its path (`rules[0].respond.status`) and leaves the active scenario untouched. The validated form is
a plain, JSON-able dict that validates again to itself, so files can be merged and re-checked.

This module never imports Flask: rules are matched against any object with `method`, `path`,
`args`, `headers` and `get_data(cache=True)` (a Flask request is one).
"""
from __future__ import annotations

import json
import random
import re
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..settings import format_instant, parse_instant
from .limits import LimitExceeded, read_json, read_yaml, yaml
from .regex import compile_regex, search
from .world import stable_hash

FAULTS = ("connection_reset", "empty_response", "malformed_body", "truncated_body")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
ECHO360_OUTCOMES = ("Available", "Failed", "Missing")
MAX_DELAY_MS = 60_000  # a delay longer than this is a mistake, not a test (it would hold a thread)
MAX_COUNT = 1_000_000  # the most entities a world section may ask a vendor for
# Body faults (faults.shape_body). Bounds: a dribble in at most MAX_CHUNKS pieces over at most
# MAX_DELAY_MS; a bandwidth between MIN_ and MAX_BYTES_PER_SECOND.
MAX_CHUNKS = 10_000
MIN_BYTES_PER_SECOND = 1
MAX_BYTES_PER_SECOND = 1_000_000_000
MAX_AFTER_BYTES = 2**40


class ScenarioError(ValueError):
    """A scenario refused whole: message plus {field path: [messages]}."""

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}

    def lines(self) -> list[str]:
        return [f"{path}: {', '.join(msgs)}" for path, msgs in self.errors.items()] or [self.message]


# --- fields -----------------------------------------------------------------------------------


class Text(fields.Field):
    """A string; numbers and booleans written bare in YAML count as their text (`page: 2` is "2")."""

    default_error_messages = {"invalid": "not a valid string"}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (str, int, float)):
            return str(value)
        raise self.make_error("invalid")


class Instant(fields.Field):
    """An ISO 8601 timestamp, kept as its normalised text (UTC, to the second)."""

    default_error_messages = {"invalid": "not a valid ISO 8601 timestamp"}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, datetime):  # YAML reads an unquoted timestamp as a datetime
            return format_instant(value if value.tzinfo else value.replace(tzinfo=timezone.utc))
        try:
            return format_instant(parse_instant(value))
        except (ValueError, TypeError, AttributeError):
            raise self.make_error("invalid") from None


class Regex(fields.String):
    """A regular expression in RE2's syntax (core/regex.py): it runs in linear time, so it is refused
    here, naming RE2's reason, when it needs backreferences or lookaround."""

    default_error_messages = {"bad_regex": "not a regular expression the emulator can run: {error}"}

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            compile_regex(text)
        except ValueError as exc:
            raise self.make_error("bad_regex", error=exc) from None
        return text


# Headers a canned answer cannot set: the server frames the answer and manages the connection, so a
# scenario's value would make the answer unreadable (PEP 3333 forbids hop-by-hop headers to WSGI apps).
SERVER_HEADERS = ("Connection", "Content-Length", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
                  "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding", "Upgrade")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110's token: what a header name may be
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # control characters other than tab


class ResponseHeaders(fields.Dict):
    """`respond.headers`, checked when the scenario loads (an error names `...headers.<name>`): a
    token for a name, Latin-1 text without CR, LF or other control characters for a value, and
    none of SERVER_HEADERS, so that every matching call gets an answer, never a 500."""

    def __init__(self, **kwargs):
        super().__init__(keys=fields.String(), values=Text(), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        headers = super()._deserialize(value, attr, data, **kwargs)
        errors = {name: [problem] for name, text in headers.items() if (problem := header_problem(name, text))}
        if errors:
            raise ValidationError(errors)
        return headers


def header_problem(name: str, value: str) -> str | None:
    """Why a canned answer cannot carry this header, or None."""
    if not _TOKEN.fullmatch(name):
        return "not a header name (letters, digits and !#$%&'*+.^_`|~- only)"
    if name.lower() in (h.lower() for h in SERVER_HEADERS):
        return (f"{name} is set by the server, which frames the answer and manages the connection; "
                f"a scenario cannot set it (nor any of {', '.join(SERVER_HEADERS)})")
    if "\r" in value or "\n" in value:
        return "a header value cannot contain CR or LF (it would end the header and split the answer)"
    if _CONTROL.search(value):
        return "a header value cannot contain control characters"
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return "not Latin-1 text: an HTTP header value is ISO-8859-1 bytes; percent-encode it or use ASCII"
    return None


class Method(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).upper()
        validate.OneOf(METHODS)(text)
        return text


class Id(fields.Field):
    """A vendor id given as text or a whole number (kept as given)."""

    default_error_messages = {"invalid": "not a valid id (text or whole number)"}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
            raise self.make_error("invalid")
        return value


def whole(minimum: int = 0, maximum: int | None = None, **kwargs) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=minimum, max=maximum), **kwargs)


def delay() -> fields.Integer:
    return whole(0, MAX_DELAY_MS)


def count() -> fields.Integer:
    return whole(0, MAX_COUNT)


# --- vendor sections: knobs and world settings -------------------------------------------------
# Factories (not field instances: a field binds to one schema). Vendor packages may add their own
# with register_knob / register_world_field; the scenario schema is built from these at each load.

VENDOR_KNOBS: dict[str, dict[str, Callable[[], fields.Field]]] = {
    "strigo": {"rate_limit": lambda: whole(0), "bandwidth": lambda: fields.Nested(BandwidthSchema)},
    "echo360": {
        "bandwidth": lambda: fields.Nested(BandwidthSchema),
        "processing_seconds": lambda: fields.Float(allow_nan=False, validate=validate.Range(min=0, max=10 * 366 * 86400)),
        "outcomes": lambda: fields.List(fields.String(validate=validate.OneOf(ECHO360_OUTCOMES))),
        "rate_limit": lambda: whole(0),
    },
    "falkor": {"rate_limit": lambda: whole(0), "bandwidth": lambda: fields.Nested(BandwidthSchema)},
    "parkup": {"rate_limit": lambda: whole(0), "bandwidth": lambda: fields.Nested(BandwidthSchema)},
}


def _named(id_key: str, id_field: Callable[[], fields.Field], **extra) -> Callable[[], fields.Field]:
    """A list of named entities ({id, name}) whose ids (id_key, required) are unique."""

    def make() -> fields.Field:
        shape = {id_key: _required(id_field()), **{k: f() for k, f in extra.items()}}
        schema = Schema.from_dict(shape, name=f"Entity_{id_key}")
        return fields.List(fields.Nested(schema), validate=_unique(id_key))

    return make


def _required(field: fields.Field) -> fields.Field:
    field.required = True
    return field


def _unique(key: str) -> Callable[[list], None]:
    def check(items: list) -> None:
        seen: set = set()
        for item in items:
            value = item.get(key)
            if value is not None and value in seen:
                raise ValidationError(f"duplicate {key} {value!r}")
            seen.add(value)

    return check


WORLD_FIELDS: dict[str, dict[str, Callable[[], fields.Field]]] = {
    "strigo": {
        "event_count": count,
        "course_count": count,
        "events": _named("id", lambda: Text(), name=lambda: Text(required=True)),
        "courses": _named("id", lambda: Text(), name=lambda: Text(required=True)),
    },
    "echo360": {"students": count, "media": count, "courses": count},
    "falkor": {
        "pathway_count": count,
        "pathways": _named("name", lambda: Text(), ID=lambda: Id()),
    },
    "parkup": {
        "customer_count": count,
        "users_per_customer": count,
        "users": _named("refId", lambda: Text(), customerId=lambda: whole(0)),
    },
}
VENDORS = tuple(VENDOR_KNOBS)

# The most entities a vendor makes whole on first use (Strigo's events or courses, Falkor's pathways,
# ParkUp's users), --scale included: a million took 8-47 s and up to 2.7 GB to make. Echo360's world is
# made by index; it registers its own bounds (what --scale 1000 makes: a report's rows follow its size).
# Each vendor says what its section asks for (register_world_check).
MAX_WORLD_ENTITIES = 100_000
WorldCheck = Callable[[dict, int], dict[str, tuple[int, str]]]
WORLD_CHECKS: dict[str, tuple[WorldCheck, dict[str, int]]] = {}


def register_world_check(vendor: str, check: WorldCheck, limits: dict[str, int] | None = None) -> None:
    """check(the scenario's `world.<vendor>` section, the scale) -> {field: (entities it makes, what they
    are)}, each refused past its figure in `limits` (MAX_WORLD_ENTITIES unless given). A check may also
    raise ValidationError({field: [message]}) for a world the vendor cannot make."""
    WORLD_CHECKS[vendor] = (check, dict(limits or {}))


def check_world_size(data: dict | None, start_scale: int) -> None:
    """Refuse (ScenarioError) a scenario whose world asks a vendor for more than its limit, or for a world
    it cannot make."""
    world = (data or {}).get("world") or {}
    scale = world.get("scale", start_scale)
    errors: dict[str, list[str]] = {}
    incoherent = False
    for vendor, (check, limits) in WORLD_CHECKS.items():
        try:
            asked = check(world.get(vendor) or {}, scale)
        except ValidationError as exc:
            errors.update({f"world.{vendor}.{name}": msgs for name, msgs in exc.normalized_messages().items()})
            incoherent = True
            continue
        for name, (total, what) in asked.items():
            limit = limits.get(name, MAX_WORLD_ENTITIES)
            if total > limit:
                errors[f"world.{vendor}.{name}"] = [f"asks for {total:,} {what} at scale {scale}; "
                                                    f"a world holds at most {limit:,}"]
    if errors:
        detail = "; ".join(f"{path}: {', '.join(msgs)}" for path, msgs in errors.items())
        what = "cannot be made" if incoherent else "is too large"
        raise ScenarioError(f"the scenario's world {what}: {detail}", errors)


def register_knob(vendor: str, name: str, factory: Callable[[], fields.Field]) -> None:
    """Let a vendor accept a new scenario knob (`<vendor>: {name: ...}`), e.g. register_knob("falkor", "x", fields.Integer)."""
    VENDOR_KNOBS.setdefault(vendor, {})[name] = factory


def register_world_field(vendor: str, name: str, factory: Callable[[], fields.Field]) -> None:
    """Let a vendor accept a new `world: {<vendor>: {name: ...}}` setting."""
    WORLD_FIELDS.setdefault(vendor, {})[name] = factory


# --- the scenario schema -----------------------------------------------------------------------


class MatchSchema(Schema):
    method = Method()
    path = fields.String()
    path_regex = Regex()
    query = fields.Dict(keys=fields.String(), values=Text())
    json = fields.Raw()
    headers = fields.Dict(keys=fields.String(), values=Text())


class RespondSchema(Schema):
    status = whole(100, 599, load_default=200)
    json = fields.Raw(allow_none=True)
    body = fields.String()
    headers = ResponseHeaders()
    delay_ms = delay()

    @validates_schema
    def one_body(self, data, **kwargs):
        if "json" in data and "body" in data:
            raise ValidationError("give json or body, not both", "body")


class DribbleSchema(Schema):
    """WireMock's chunkedDribbleDelay: the real answer in `chunks` pieces spread over `total_ms`."""

    chunks = whole(1, MAX_CHUNKS, required=True)
    total_ms = whole(0, MAX_DELAY_MS, required=True)


class BandwidthSchema(Schema):
    bytes_per_second = whole(MIN_BYTES_PER_SECOND, MAX_BYTES_PER_SECOND, required=True)


BODY_SHAPING = ("after_bytes", "chunked_dribble", "bandwidth")


class RuleSchema(Schema):
    name = fields.String()
    match = fields.Nested(MatchSchema, load_default=dict)
    after = whole(0)
    times = whole(1)
    respond = fields.Nested(RespondSchema)
    fault = fields.String(validate=validate.OneOf(FAULTS))
    delay_ms = delay()
    probability = fields.Float(allow_nan=False, validate=validate.Range(
        min=0, max=1, min_inclusive=False, error="must be greater than 0 and at most 1"))
    after_bytes = whole(0, MAX_AFTER_BYTES)
    chunked_dribble = fields.Nested(DribbleSchema)
    bandwidth = fields.Nested(BandwidthSchema)

    @validates_schema
    def one_action(self, data, **kwargs):
        if "respond" in data and "fault" in data:
            raise ValidationError("a rule either responds or injects a fault, not both", "fault")
        if not {"respond", "fault", "delay_ms", "chunked_dribble", "bandwidth"} & set(data):
            raise ValidationError("a rule needs respond, fault or delay_ms (or chunked_dribble or bandwidth)")
        if "after_bytes" in data and data.get("fault") != "truncated_body":
            raise ValidationError("after_bytes goes with fault: truncated_body", "after_bytes")
        if data.get("fault") == "connection_reset":
            for key in BODY_SHAPING:
                if key in data:
                    raise ValidationError("a connection reset sends no body to shape", key)


class LatencySchema(Schema):
    min_ms = delay()
    max_ms = delay()

    @validates_schema  # not named "ordered": marshmallow 3.x Schema instances have an `ordered` attribute
    def max_not_below_min(self, data, **kwargs):
        if data.get("min_ms", 0) > data.get("max_ms", data.get("min_ms", 0)):
            raise ValidationError("must not be less than min_ms", "max_ms")


class ClockSchema(Schema):
    mode = fields.String(validate=validate.OneOf(("real", "manual")))
    now = Instant()


def scenario_schema() -> Schema:
    """The whole-file schema, built from the current vendor knob and world registries."""
    def section(registry: dict, vendor: str, prefix: str) -> fields.Nested:
        shape = {name: make() for name, make in registry.get(vendor, {}).items()}
        return fields.Nested(Schema.from_dict(shape, name=f"{prefix}_{vendor}"))

    world = Schema.from_dict({"scale": whole(1, 1000), **{v: section(WORLD_FIELDS, v, "World") for v in VENDORS}}, name="World")
    shape = {
        "name": fields.String(),
        "description": fields.String(),
        "seed": fields.Integer(strict=True),
        "clock": fields.Nested(ClockSchema),
        "strict": fields.Boolean(),
        "credentials": fields.Nested(Schema.from_dict(
            {v: fields.Dict(keys=fields.String(), values=Text()) for v in VENDORS}, name="Credentials")),
        "latency": fields.Nested(Schema.from_dict({v: fields.Nested(LatencySchema) for v in VENDORS}, name="Latency")),
        "world": fields.Nested(world),
        **{v: section(VENDOR_KNOBS, v, "Knobs") for v in VENDORS},
        "rules": fields.List(fields.Nested(RuleSchema)),
        "replay": fields.String(validate=_replay_folder),  # a recording folder (fidelity/replay.py)
    }
    return Schema.from_dict(shape, name="Scenario")()


def _replay_folder(folder: str) -> None:
    from ..fidelity.replay import ReplayError, check_folder

    try:
        check_folder(folder)
    except ReplayError as exc:
        raise ValidationError(str(exc)) from None


def validate_scenario(data: Any, origin: str = "scenario") -> dict:
    """The validated scenario as a plain dict, or ScenarioError naming every wrong field."""
    from .admin import flatten_errors

    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError(f"{origin}: a scenario must be a mapping of sections", {"_schema": ["must be a mapping"]})
    try:
        return scenario_schema().load(data)
    except ValidationError as exc:
        errors = {_tidy(path): msgs for path, msgs in flatten_errors(exc.messages).items()}
        detail = "; ".join(f"{path}: {', '.join(msgs)}" for path, msgs in errors.items())
        raise ScenarioError(f"{origin} is not a valid scenario: {detail}", errors) from None


def _tidy(path: str) -> str:
    """marshmallow's inner names out of a path: `rules[0]._schema` is `rules[0]`, `headers.X.value` is `headers.X`."""
    for suffix in ("._schema", ".value"):
        path = path.removesuffix(suffix)
    return path


# --- reading files and text --------------------------------------------------------------------


def parse_text(text: str, origin: str = "scenario", as_json: bool = False) -> Any:
    """YAML (or JSON, which YAML reads too) to Python; a syntax error names its line.

    Read within the limits of core/limits.py: no YAML anchors or aliases, nesting at most MAX_JSON_DEPTH.
    """
    try:
        if as_json:
            return read_json(text)
        return read_yaml(text)
    except LimitExceeded as exc:
        raise ScenarioError(f"{origin}: {exc.message}", {"_body": [exc.message]}) from None
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{origin}: JSON syntax error at line {exc.lineno}, column {exc.colno}: {exc.msg}",
                            {"_syntax": [f"line {exc.lineno}, column {exc.colno}: {exc.msg}"]}) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown line"
        raise ScenarioError(f"{origin}: YAML syntax error at {where}: {problem}", {"_syntax": [f"{where}: {problem}"]}) from None


def not_utf8(exc: UnicodeDecodeError) -> str:
    """Why bytes are not a scenario's text: scenarios are UTF-8 (as YAML 1.2 and JSON require)."""
    return f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); scenarios are UTF-8"


def read_file(path: str | Path) -> dict:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ScenarioError(f"cannot read scenario file {path}: {reason}", {"_file": [f"cannot read {path}: {reason}"]}) from None
    except UnicodeDecodeError as exc:
        reason = not_utf8(exc)
        raise ScenarioError(f"cannot read scenario file {path}: {reason}", {"_file": [reason]}) from None
    return validate_scenario(parse_text(text, str(path), as_json=path.suffix.lower() == ".json"), str(path))


def load(source: Any) -> dict:
    """A validated scenario from a path, a folder, a shipped name, a dict, or a list of them (later ones add rules after earlier)."""
    if isinstance(source, (list, tuple)):
        return merge([load(item) for item in source])
    if isinstance(source, dict):
        return validate_scenario(source)
    if isinstance(source, (str, Path)):
        from ..scenarios import files  # a file, a folder (its files in name order) or a shipped name

        paths = files(source)
        return read_file(paths[0]) if len(paths) == 1 else merge([read_file(p) for p in paths])
    raise ScenarioError(f"a scenario is a file path or a dict, not {type(source).__name__}", {"_schema": ["must be a path or a mapping"]})


def merge(scenarios: Iterable[dict]) -> dict:
    """Several scenarios as one: rules are appended in order, sections merged key by key (later wins)."""

    def deep(base: dict, extra: dict) -> dict:
        out = dict(base)
        for key, value in extra.items():
            out[key] = deep(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        return out

    merged: dict = {}
    names: list[str] = []
    for scenario in scenarios:
        names += scenario.get("loaded") or ([scenario["name"]] if scenario.get("name") else [])
        rules = merged.get("rules", []) + list(scenario.get("rules", []))
        merged = deep(merged, {k: v for k, v in scenario.items() if k not in ("rules", "loaded")})
        if rules:
            merged["rules"] = rules
    merged = validate_scenario(merged, "the merged scenario")
    if len(names) > 1:  # `name` is the last one's (later wins); `loaded` names them all, in order
        merged["loaded"] = names
    return merged


# --- rules at request time ---------------------------------------------------------------------


def json_subset(expected: Any, actual: Any) -> bool:
    """Every key of expected is in actual with a matching value (recursively); lists and scalars are equal."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and json_subset(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual  # so that true never equals 1
    return expected == actual


_NOT_JSON = object()


class Rule:
    """One rule, compiled. Its counters live in the store (exact across processes and replicas)."""

    def __init__(self, index: int, spec: dict, counters: str):
        self.index = index
        self.spec = spec
        self.match = spec.get("match") or {}
        self.regex = compile_regex(self.match["path_regex"]) if "path_regex" in self.match else None
        self.headers = {k.lower(): v for k, v in (self.match.get("headers") or {}).items()}
        self.after = spec.get("after", 0)
        self.times = spec.get("times")
        self.respond = spec.get("respond")
        self.fault = spec.get("fault")
        self.delay_ms = spec.get("delay_ms", 0)
        self.after_bytes = spec.get("after_bytes")
        self.chunked_dribble = spec.get("chunked_dribble")
        self.bandwidth = spec.get("bandwidth")
        self.probability = spec.get("probability")
        self.drawn_key = f"{counters}:{index}:drawn"  # of the matched ones, those that won the draw (probability)
        self.matched_key = f"{counters}:{index}:matched"  # requests that reached this rule and matched it
        self.answered_key = f"{counters}:{index}:answered"  # of those, the ones this rule acted on

    @property
    def name(self) -> str:
        return self.spec.get("name") or f"rules[{self.index}]"

    @property
    def kind(self) -> str:
        if self.respond is not None:
            return "respond"
        if self.fault:
            return "fault"
        return "delay" if self.delay_ms or not (self.chunked_dribble or self.bandwidth) else "transfer"

    def drawn(self, seed: int, n: int) -> bool:
        """Whether the n-th matching request wins this rule's draw: a hash of (seed, rule, n) under P.

        A function of its inputs only, so the same seed and the same sequence of requests fail the
        same calls in every process, worker and replica (n is the rule's atomic counter in the store).
        """
        if self.probability is None:
            return True
        # The rule is named by its place, name and match: tuning its times, after or probability keeps its draws.
        return stable_hash(seed, "rule", self.index, self.name, repr(self.match), n) < self.probability * 2**64

    def matches(self, request: Any, body: Callable[[], Any]) -> bool:
        m = self.match
        if "method" in m and request.method != m["method"]:
            return False
        if "path" in m and request.path != m["path"]:
            return False
        if self.regex is not None and not search(self.regex, request.path):
            return False
        for key, value in (m.get("query") or {}).items():
            if value not in request.args.getlist(key):
                return False
        for key, value in self.headers.items():
            if request.headers.get(key) != value:
                return False
        if "json" in m:
            parsed = body()
            if parsed is _NOT_JSON or not json_subset(m["json"], parsed):
                return False
        return True


class ActiveScenario:
    """A loaded scenario's rules, their counters (in the store), and its seeded latency draws."""

    def __init__(self, data: dict, seed: int, store: Any, serial: int):
        self.data = data
        self.store = store
        counters = f"scenario:{serial}:rules"
        self.rules = [Rule(i, spec, counters) for i, spec in enumerate(data.get("rules") or [])]
        self.latency = data.get("latency") or {}
        self.seed = seed
        self._rng = random.Random(stable_hash(seed, "scenario-latency"))
        self._lock = threading.Lock()

    def pick(self, request: Any) -> Rule | None:
        """The first rule that answers this request (counting matches in order), or None.

        Each count is one atomic increment in the store; a rule past its `times` takes its claim
        back, so exactly `times` requests are answered across every process. With `probability`,
        the n-th match answers only if it wins the draw (`Rule.drawn`); `after` and `times` then
        count only the matches that won it.
        """
        parsed: list = []

        def body() -> Any:
            # Parsed here, not with request.get_json(), so the vendor's own parsing is not pre-empted.
            if not parsed:
                try:
                    parsed.append(read_json(request.get_data(cache=True) or b"null"))
                except (ValueError, LimitExceeded):  # the vendor's own parsing names the problem
                    parsed.append(_NOT_JSON)
            return parsed[0]

        store = self.store
        for rule in self.rules:
            if not rule.matches(request, body):
                continue
            n = store.incr(rule.matched_key)
            if rule.probability is not None:
                if not rule.drawn(self.seed, n):
                    continue
                if rule.after and store.incr(rule.drawn_key) <= rule.after:
                    continue
            elif n <= rule.after:
                continue
            answered = store.incr(rule.answered_key)
            if rule.times is not None and answered > rule.times:
                store.incr(rule.answered_key, -1)
                continue
            return rule
        return None

    def latency_ms(self, vendor: str | None) -> float:
        """A draw from the vendor's latency range (0 when it has none)."""
        section = self.latency.get(vendor) if vendor else None
        if not section:
            return 0.0
        low = section.get("min_ms", 0)
        high = section.get("max_ms", low)
        with self._lock:
            return self._rng.uniform(low, high)

    def status(self) -> dict:
        keys = [key for rule in self.rules for key in (rule.matched_key, rule.answered_key)]
        counts = self.store.get_many(keys) if keys else []
        rules = []
        for n, rule in enumerate(self.rules):
            matched, answered = counts[2 * n] or 0, counts[2 * n + 1] or 0
            if rule.times is not None:
                answered = min(answered, rule.times)  # a claim being taken back
            rules.append({"index": rule.index, "name": rule.name, "kind": rule.kind, "matched": matched,
                          "answered": answered})
        return {"scenario": self.data, "rules": rules}
