"""The recording format: one HAR 1.2 file per exchange, and the masking that keeps secrets out of it.

A file is `{"log": {"version": "1.2", "creator", "_recording", "entries": [one entry]}}`. HAR's own
fields carry the exchange; the fields it lacks start with an underscore, as HAR allows:

- `log._recording`: `{"format": 1, "vendor", "upstream"}`, the `record` command's --vendor and --upstream.
- `content._cut` / `postData._cut`: `{"size", "kept"}` when a body was cut at `RECORD_BODY_BYTES`.
- `postData._encoding`: `"base64"` for a request body that is not UTF-8 text (HAR has no field for it).
- `entry._failure`: `{"kind": "unreachable"|"tls"|"timeout"|"protocol", "message"}` when the upstream
  gave no answer (the response's status is then 0, and the client had a 502 from the proxy).

Masking: header values, query parameters, form and JSON fields whose names say they carry a secret
(`SECRET_WORDS`) become `MASK`; so does any later occurrence of a value already masked (a token an
answer issued, then sent back). Personal fields named with `--mask-field` keep their type and format
(a date stays a date) so that the recording still says the vendor's shape.
"""
from __future__ import annotations

import base64
import csv
import gzip
import io
import json
import re
import zlib
from typing import Any, Iterable
from typing import Callable
from urllib.parse import quote, unquote, urlsplit

from .. import __version__

FORMAT = 1
MASK = "MASKED"
REMEMBERED_CHARS = 8  # a masked value this long or longer is also masked wherever else it appears
RECORD_BODY_BYTES = 1024 * 1024  # a body above 1 MiB is cut to its first 1 MiB in the recording
# Name fragments (lower case, without '-' and '_') of headers, parameters and fields that carry a secret.
SECRET_WORDS = ("authorization", "cookie", "token", "secret", "password", "passwd", "apikey", "signature",
                "credential", "awsaccesskeyid", "sessionid")
NOT_SECRET = ("tokentype", "wwwauthenticate")  # names that contain a word above but carry none
SIGNATURE_PARAMS = ("signature", "xamzsignature", "sig", "xgoogsignature")  # what makes a link a signed one
HOP_BY_HOP = frozenset(("connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "trailers", "transfer-encoding", "upgrade"))
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-www-form-urlencoded", "+json", "+xml")
_SECRET_QUERY = re.compile(r"(?i)([?&](?:[a-z0-9_.-]*(?:signature|token|secret|password|credential|apikey|api_key|"
                           r"awsaccesskeyid)[a-z0-9_.-]*|sig)=)([^&#\s\"'<>\\]*)")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def squash(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


def is_secret_name(name: str) -> bool:
    key = squash(name)
    return key not in NOT_SECRET and any(word in key for word in SECRET_WORDS)


def is_signature_param(name: str) -> bool:
    return squash(name) in SIGNATURE_PARAMS


def string_format(value: str) -> str:
    """The format a string has, among those the contracts name: date-time, date, uuid; else ''."""
    if _DATE_TIME.match(value):
        return "date-time"
    if _DATE.match(value):
        return "date"
    if _UUID.match(value):
        return "uuid"
    return ""


def is_text(media_type: str) -> bool:
    media_type = media_type.lower()
    return any(t in media_type for t in TEXT_TYPES) or media_type.endswith("csv")


def is_gzip(body: bytes) -> bool:
    return body[:2] == b"\x1f\x8b"


def gunzip_prefix(body: bytes, limit: int = 64 * RECORD_BODY_BYTES) -> bytes:
    """As much of a gzip body as decompresses (a cut one gives its first part), at most `limit` bytes."""
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        return decoder.decompress(body, limit)
    except zlib.error:
        return b""


class Masker:
    """Masks one recording session's exchanges; remembers every value it masked, to mask it anywhere later."""

    def __init__(self, mask_fields: Iterable[str] = ()):
        self.mask_fields = {name.lower() for name in mask_fields}
        self.seen: dict[str, None] = {}  # values masked so far, oldest first (bounded)

    def remember(self, value: Any) -> None:
        if isinstance(value, str) and len(value) >= REMEMBERED_CHARS and value != MASK:
            self.seen[value] = None
            self.seen.pop(next(iter(self.seen)), None) if len(self.seen) > 2000 else None

    # -- the parts of an exchange ---------------------------------------------------------------

    def header(self, name: str, value: str) -> str:
        if not is_secret_name(name):
            return self.url_text(value) if "://" in value else value
        scheme, space, credential = value.partition(" ")
        if space and scheme.lower() in ("bearer", "basic", "token", "digest"):
            self.remember(credential.strip())
            if scheme.lower() == "basic":
                try:
                    decoded = base64.b64decode(credential.strip(), validate=True).decode("utf-8")
                    self.remember(decoded)
                    self.remember(decoded.partition(":")[2])  # the password (the user name is no secret)
                except ValueError:
                    pass
            return f"{scheme} {MASK}"
        self.remember(value)
        if "cookie" in squash(name):  # the cookies' values; not their names, nor Set-Cookie's attributes
            pairs = value.split(";")[:1] if squash(name) == "setcookie" else value.split(";")
            for pair in pairs:
                self.remember(pair.partition("=")[2].strip())
        return MASK

    def query(self, query: str) -> str:
        """A query string with its secret parameters' values masked; the rest byte for byte."""
        if not query:
            return query
        parts = []
        for part in query.split("&"):
            name, eq, value = part.partition("=")
            if eq and is_secret_name(unquote(name)):
                self.remember(unquote(value))
                self.remember(value)
                part = f"{name}={MASK}"
            elif eq and unquote(name).lower() in self.mask_fields:
                part = f"{name}={quote(self.personal(unquote(value)), safe='')}"
            parts.append(part)
        return "&".join(parts)

    def url(self, url: str) -> str:
        scheme, netloc, path, query, fragment = urlsplit(url)
        if not query:
            return url
        return url[: len(url) - len(query) - (len(fragment) + 1 if fragment else 0)] + self.query(query) + (
            f"#{fragment}" if fragment else "")

    def url_text(self, text: str) -> str:
        """Secret query parameters wherever they appear in a text (links in CSV, XML, HTML)."""
        def one(match: re.Match) -> str:
            self.remember(unquote(match.group(2)))
            return match.group(1) + MASK
        return _SECRET_QUERY.sub(one, text)

    def personal(self, value: Any) -> Any:
        """A personal value replaced by one of the same type and format."""
        if isinstance(value, str):
            kind = string_format(value)
            if kind == "date-time":
                return "1970-01-01T00:00:00.000Z"
            if kind == "date":
                return "1970-01-01"
            if kind == "uuid":
                return "00000000-0000-0000-0000-000000000000"
            if _EMAIL.match(value):
                return "masked@example.invalid"
            return MASK if value else value
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, (int, float)):
            return type(value)(0)
        if isinstance(value, list):
            return [self.personal(v) for v in value]
        if isinstance(value, dict):
            return {k: self.personal(v) for k, v in value.items()}
        return value

    def json_value(self, value: Any) -> Any:
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if is_secret_name(key) and isinstance(item, str):
                    self.remember(item)
                    out[key] = MASK
                elif key.lower() in self.mask_fields:
                    out[key] = self.personal(item)
                else:
                    out[key] = self.json_value(item)
            return out
        if isinstance(value, list):
            return [self.json_value(item) for item in value]
        if isinstance(value, str) and "://" in value and "?" in value:
            return self.url(value)
        return value

    def body(self, body: bytes, media_type: str) -> bytes:
        """A body with its secrets (and the personal fields asked for) masked; unchanged when it has none."""
        media = media_type.split(";")[0].strip().lower()
        if not body:
            return body
        if is_gzip(body):
            inner = gunzip_prefix(body)
            masked = self.csv(inner) if inner else inner
            return gzip.compress(masked, mtime=0) if masked != inner else body
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return body
        if "json" in media:
            try:
                value = json.loads(text)
            except ValueError:
                value = None
            else:
                masked = self.json_value(value)
                if masked != value:
                    text = json.dumps(masked, ensure_ascii=False, separators=(",", ":"))
        elif media == "application/x-www-form-urlencoded":
            text = self.query(text)
        elif "csv" in media:
            text = self.csv(text.encode("utf-8")).decode("utf-8")
        return self.url_text(text).encode("utf-8")

    def csv(self, data: bytes) -> bytes:
        """A CSV's personal columns masked (its quoting is then csv's own); unchanged without such columns."""
        if not self.mask_fields:
            return data
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return data
        first = text.split("\n", 1)[0]
        delimiter = sniff_delimiter(first)
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
        if not rows:
            return data
        hidden = [i for i, name in enumerate(rows[0]) if name.strip().lower() in self.mask_fields]
        if not hidden:
            return data
        for row in rows[1:]:
            for i in hidden:
                if i < len(row):
                    row[i] = self.personal(row[i])
        out = io.StringIO()
        csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(rows)
        return out.getvalue().encode("utf-8")

    def scrub(self, text: str) -> str:
        """Every value masked so far, wherever it still appears (raw, URL-quoted or JSON-escaped)."""
        for value in sorted(self.seen, key=len, reverse=True):
            for form in {value, quote(value, safe=""), json.dumps(value)[1:-1]}:
                if form in text:
                    text = text.replace(form, MASK)
        return text


def sniff_delimiter(header_line: str) -> str:
    """The delimiter that splits a CSV header line into the most columns."""
    return max((",", "|", "\t", ";"), key=lambda d: header_line.count(d))


def body_fields(body: bytes, media_type: str, total: int, received: int) -> dict[str, Any]:
    """HAR's text/encoding for a masked body, cut to RECORD_BODY_BYTES, and the cut when there was one.

    `total`: the body's size as sent; `received`: the bytes of it the recorder had (all, or the first
    RECORD_BODY_BYTES of a streamed one); `body`: those bytes once masked (masking changes the length).
    """
    kept = min(received, RECORD_BODY_BYTES)
    if kept < total:
        body = body[:RECORD_BODY_BYTES]
    fields: dict[str, Any] = {}
    if is_text(media_type) and not is_gzip(body):
        try:
            fields["text"] = body.decode("utf-8")
        except UnicodeDecodeError:
            pass
    if "text" not in fields and body:
        fields["text"] = base64.b64encode(body).decode("ascii")
        fields["encoding"] = "base64"
    if kept < total:
        fields["_cut"] = {"size": total, "kept": kept}
    return fields


def body_bytes(part: dict) -> bytes:
    """The recorded bytes of a HAR content or postData."""
    text = part.get("text") or ""
    if part.get("encoding") == "base64" or part.get("_encoding") == "base64":
        return base64.b64decode(text)
    return text.encode("utf-8")


def headers_list(pairs: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in pairs]


def query_list(query: str) -> list[dict[str, str]]:
    out = []
    for part in query.split("&") if query else []:
        name, _, value = part.partition("=")
        out.append({"name": unquote(name.replace("+", " ")), "value": unquote(value.replace("+", " "))})
    return out


def document(vendor: str, upstream: str, entry: dict) -> dict:
    return {"log": {"version": "1.2", "creator": {"name": "report-emulator", "version": __version__},
                    "_recording": {"format": FORMAT, "vendor": vendor, "upstream": upstream},
                    "entries": [entry]}}


# --- signed links -------------------------------------------------------------------------------------

FOREIGN_PREFIX = "/_emulator/upstream/"  # a signed link on another host, as the proxy and replay serve it
_LINK = re.compile(r"https?:(?:\\?/){2}[^\"\s]+")  # a URL inside JSON text, its slashes escaped or not


def signed(link: str) -> bool:
    return any(is_signature_param(part.partition("=")[0]) for part in urlsplit(link).query.split("&"))


def local_link(link: str, upstream: str, here: str, on_foreign: Callable[[str, str], None] | None = None) -> str:
    """A signed link as a client of `here` (the proxy, or the replay server) should follow it.

    On the upstream's own host it keeps its path on `here`; on another host (S3) it becomes
    `here/_emulator/upstream/<scheme>/<host>/<path>`. Any other link is left alone.
    """
    if not signed(link):
        return link
    parts, base = urlsplit(link), urlsplit(upstream)
    tail = parts.path + (f"?{parts.query}" if parts.query else "")
    if (parts.scheme, parts.netloc) == (base.scheme, base.netloc):
        prefix = base.path.rstrip("/")
        return here + (tail[len(prefix):] if prefix and tail.startswith(prefix) else tail)
    if on_foreign is not None:
        on_foreign(parts.scheme, parts.netloc)
    return f"{here}{FOREIGN_PREFIX}{parts.scheme}/{parts.netloc}{tail}"


def rewrite_links(body: bytes, upstream: str, here: str, on_foreign: Callable[[str, str], None] | None = None) -> bytes:
    """Every signed link in a JSON text made local (local_link); the rest of the bytes unchanged."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body

    def one(match: re.Match) -> str:
        try:
            link = json.loads(f'"{match.group(0)}"')
        except ValueError:
            return match.group(0)
        new = local_link(link, upstream, here, on_foreign)
        return match.group(0) if new == link else json.dumps(new)[1:-1]

    changed = _LINK.sub(one, text)
    return body if changed == text else changed.encode("utf-8")
