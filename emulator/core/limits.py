"""Every limit the emulator puts on what a client sends, and the readers and bounds that apply them.

One place for the figures (each documented in the README's reliability notes with the same number),
one JSON reader and one YAML reader for every body the emulator parses, and the function that keeps
a journal entry small and free of secrets. Nothing here imports Flask.
"""
from __future__ import annotations

import functools
import json
import re
from typing import Any

# Imported here, once, and never lazily: a module imported after pytester (or anything else) has taken
# a snapshot of sys.modules is dropped again with it, and a second copy of PyYAML then mixes its node
# classes with the first's ("could not determine a constructor for the tag None").
import yaml

# --- the figures ---------------------------------------------------------------------------------

MAX_BODY_BYTES = 10 * 1024 * 1024  # a request body past this is refused with 413 before it is read
MAX_JSON_DEPTH = 64  # arrays and objects nested in a JSON or YAML body, at most
MAX_SCENARIO_BYTES = 1024 * 1024  # a YAML scenario (file or PUT body): YAML parsing is slow, scenarios are small
WORLD_PAGE = 100  # GET /_emulator/world: items of each list by default (?limit=)
WORLD_PAGE_MAX = 1000  # ... and at most
JOURNAL_BODY_BYTES = 2048  # characters of a request body a journal entry keeps
JOURNAL_QUERY_BYTES = 2048  # characters of a query string a journal entry keeps
JOURNAL_PATH_BYTES = 1024  # characters of a path a journal entry keeps
VIOLATION_TEXT_BYTES = 200  # characters of each text (param, message) of a recorded violation
MAX_VIOLATIONS = 10  # contract violations recorded for one request, plus one "and N more"
JOURNAL_HEADERS = 32  # request or response headers a journal entry keeps (the first ones, each side)
JOURNAL_HEADER_BYTES = 256  # characters of each header value a journal entry keeps
JOURNAL_RESPONSE_BYTES = 1024  # characters of a response body a journal entry keeps (the dashboard's first KiB)
JOURNAL_ENTRY_BYTES = 16 * 1024  # one journal entry at most (the caps above add up to less)
JOURNAL_MAX_BYTES = 8 * 1024 * 1024  # the whole journal at most; the oldest entries go first
SECRET_NAMES = ("client_secret", "access_token", "refresh_token", "password", "api_key", "token")  # masked in the journal
MASK = "***"  # what a masked secret reads as


class LimitExceeded(Exception):
    """A body the emulator will not read whole: `message` names the limit, `status` is 400 or 413.

    Not a ValueError on purpose: a reader's caller that only expects "not valid JSON" must not
    swallow it under that name.
    """

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


def _mib(size: int) -> str:
    return f"{size // (1024 * 1024)} MiB" if size % (1024 * 1024) == 0 else f"{size} bytes"


def too_large_message(limit: int = MAX_BODY_BYTES) -> str:
    return f"the request body is larger than the limit of {limit} bytes ({_mib(limit)})"


def too_deep_message(what: str = "JSON", limit: int = MAX_JSON_DEPTH) -> str:
    return f"the request body's {what} is nested more than {limit} levels deep (the limit is {limit})"


# --- JSON --------------------------------------------------------------------------------------

_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)  # a complete JSON string
# Text up to the first string that never ends: possessive, so it is one linear pass with no backtracking.
_UP_TO_UNTERMINATED = re.compile(r'(?:[^"]++|"[^"\\]*+(?:\\.[^"\\]*+)*+")*+', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def json_too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether text nests arrays and objects more than limit deep, found by a flat scan (no recursion).

    Strings go first (brackets inside them do not count), then everything but brackets; the brackets
    left are counted in one loop. Text after an unterminated string is not looked at: json.loads
    refuses the text there, before it reaches anything nested after it.
    """
    if text.count("[") + text.count("{") <= limit:
        return False
    stripped = _JSON_STRING.sub("", text[: _UP_TO_UNTERMINATED.match(text).end()])
    depth = 0
    for char in _NOT_BRACKET.sub("", stripped):
        if char == "[" or char == "{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def read_json(raw: bytes | str, max_bytes: int = MAX_BODY_BYTES, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """A JSON document, refused with LimitExceeded past the size or depth limit.

    Anything else wrong (not UTF-8, not JSON) is a ValueError, as from json.loads.
    """
    if len(raw) > max_bytes:
        raise LimitExceeded(too_large_message(max_bytes), 413)
    # Bytes decoded as json.loads decodes them (UTF-8, -16 or -32, a BOM allowed).
    text = raw.decode(json.detect_encoding(raw), "surrogatepass") if isinstance(raw, (bytes, bytearray)) else raw
    if json_too_deep(text, max_depth):
        raise LimitExceeded(too_deep_message("JSON", max_depth))
    return json.loads(text)


# --- YAML --------------------------------------------------------------------------------------


def read_yaml(text: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """A YAML document with no anchors or aliases and at most max_depth levels of nesting.

    Aliases are refused outright (rather than counted) because a few hundred bytes of nested aliases
    expand to gigabytes ("billion laughs"), and no scenario needs them. The events are checked first
    (PyYAML's parser is iterative), so neither the composer's recursion nor an expansion is ever reached.
    yaml.YAMLError as from yaml.safe_load for a syntax error.

    The emulator's limits answer the same whatever PyYAML's version: libyaml 0.2.6 (PyYAML 6.0.4's
    wheels) refuses nesting past its own level of 1000 in its scanner, before our event check sees
    depth 65. So when the fast (libyaml) reader fails, the pure-Python reader, which has no limit of its
    own, walks the text again to name the first problem by our rules.
    """
    if len(text) > MAX_SCENARIO_BYTES:
        raise LimitExceeded(f"the scenario is {len(text)} characters long, more than the limit of {MAX_SCENARIO_BYTES} "
                            f"({_mib(MAX_SCENARIO_BYTES)})")
    fast = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's when PyYAML was built with it: ~10x faster
    try:
        _check_yaml_events(text, fast, max_depth)
    except yaml.YAMLError as exc:
        if fast is yaml.SafeLoader:
            raise
        # Only as far as libyaml read (its scanner looks ahead at most 1024 characters), so a large
        # document with a syntax error costs no slow pure-Python walk of the whole.
        mark = getattr(exc, "problem_mark", None)
        try:
            _check_yaml_events(text if mark is None else text[: mark.index + 1024], yaml.SafeLoader, max_depth)
        except yaml.YAMLError:
            pass
        raise
    return yaml.load(text, Loader=fast)  # a safe loader: plain data only


def _check_yaml_events(text: str, loader: type, max_depth: int) -> None:
    depth = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            mark = event.start_mark
            raise LimitExceeded(f"YAML anchors and aliases are not accepted (line {mark.line + 1}, column "
                                f"{mark.column + 1}): write the repeated value out")
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > max_depth:
                raise LimitExceeded(too_deep_message("YAML", max_depth))
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1


# --- the journal -------------------------------------------------------------------------------

_SECRETS = "|".join(SECRET_NAMES)
# name=value in a query string or form body (name matched whole, case-insensitively).
_FORM_SECRET = re.compile(rf"(?i)(^|[&;?])((?:{_SECRETS})=)[^&;]*")
# "name": "value" (or a bare number) in a JSON body, the value possibly cut off by truncation.
_JSON_SECRET = re.compile(rf'(?i)("(?:{_SECRETS})"\s*:\s*)(?:"(?:[^"\\]|\\.)*"?|[^\s,}}\]]+)')


def mask_secrets(text: str) -> str:
    """text with the value of every secret-named field (query, form or JSON) replaced by MASK."""
    lower = text.lower()  # plain substring checks first: the usual case, and the hot path (every journal entry)
    if not any(name in lower for name in SECRET_NAMES):
        return text
    text = _FORM_SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    return _JSON_SECRET.sub(lambda m: f'{m.group(1)}"{MASK}"', text)


def mask_authorization(value: str) -> str:
    """An Authorization header's value with its credentials masked and its scheme kept."""
    scheme, sep, _ = value.partition(" ")
    return f"{scheme} {MASK}" if sep else MASK


_SECRET_HEADER = re.compile(r"(?i)token|secret|password|key|cookie|auth")


def bound_headers(headers: Any) -> dict[str, str]:
    """The first JOURNAL_HEADERS headers (name -> value), each value cut to JOURNAL_HEADER_BYTES.

    An Authorization header keeps only its scheme; any other header whose name speaks of a token, a
    secret, a password, a key, a cookie or auth reads MASK.
    """
    kept: dict[str, str] = {}
    for name, value in headers.items():
        if len(kept) >= JOURNAL_HEADERS:
            break
        kind = _header_kind(name)
        if kind == "authorization":
            value = mask_authorization(value)
        elif kind == "secret":
            value = MASK
        kept[name[:JOURNAL_HEADER_BYTES]] = value[:JOURNAL_HEADER_BYTES]
    return kept


@functools.lru_cache(maxsize=1024)
def _header_kind(name: str) -> str:
    """How a header is kept: "authorization" (its scheme), "secret" (masked) or "plain"."""
    if name.lower() in ("authorization", "proxy-authorization"):
        return "authorization"
    return "secret" if _SECRET_HEADER.search(name) else "plain"


def _cut(text: str, limit: int) -> tuple[str, int]:
    return (text, 0) if len(text) <= limit else (text[:limit], len(text) - limit)


def bound_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """One journal entry cut to at most JOURNAL_ENTRY_BYTES of text, with its secrets masked.

    The path, query string and body keep their first characters, the violations list its first
    MAX_VIOLATIONS (and the "and N more" that check_request adds). Whatever was cut is marked:
    `"truncated": true` and `"cut"`, per field what was kept of how much (characters, or violations).
    Secrets are masked before the cut, over a window wider than what is kept, so a cut never leaves
    the tail of a secret showing. Returns a new dict; the given one is not changed.
    """
    out = dict(entry)
    cut: dict[str, dict[str, int]] = {}
    for field, limit in (("path", JOURNAL_PATH_BYTES), ("query", JOURNAL_QUERY_BYTES), ("body", JOURNAL_BODY_BYTES)):
        original = out.get(field)
        if not original:
            continue
        if isinstance(original, (bytes, bytearray)):  # a body as read: decode only what may be kept
            value = original[: limit + 1024].decode("utf-8", "replace")
        else:
            value = original[: limit + 1024]
        if field != "path":
            value = mask_secrets(value)
        if len(value) > limit:
            value = value[:limit]
            cut[field] = {"kept": limit, "of": len(original)}
        out[field] = value
    headers = out.get("headers")
    if headers is not None:  # not `if headers`: the len() of a request's headers walks its whole WSGI environ
        out["headers"] = bound_headers(headers)
    answer = out.get("response")
    if answer:
        answer = dict(answer)
        answer["headers"] = bound_headers(answer.get("headers") or {})
        body = answer.get("body")
        if body:
            text = body[: JOURNAL_RESPONSE_BYTES + 1024].decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else body
            answer["body"] = mask_secrets(text)[:JOURNAL_RESPONSE_BYTES]
        out["response"] = answer
    violations = out.get("violations")
    if violations:
        keep = MAX_VIOLATIONS + 1  # room for check_request's "and N more"
        out["violations"] = [{k: (v[:VIOLATION_TEXT_BYTES] if isinstance(v, str) else v) for k, v in item.items()}
                             for item in violations[:keep]]
        if len(violations) > keep:
            cut["violations"] = {"kept": keep, "of": len(violations)}
    if cut:
        out["truncated"] = True
        out["cut"] = cut
    return out


def entry_bytes(entry: dict[str, Any]) -> int:
    """An entry's size as the store counts it against JOURNAL_MAX_BYTES: its compact JSON."""
    return len(json.dumps(entry, separators=(",", ":"), default=str))
