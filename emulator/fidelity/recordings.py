"""Reading a recording folder: every file checked, the bad ones named, none read outside the folder."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import har

MAX_FILE_BYTES = 32 * 1024 * 1024  # a recording file above 32 MiB is refused (a body in it is at most 1 MiB, base64)
MAX_FILES = 10_000  # files read from one folder; the rest are named as refused


@dataclass
class Exchange:
    file: str  # the file's name inside the folder
    vendor: str
    upstream: str
    entry: dict

    @property
    def request(self) -> dict:
        return self.entry["request"]

    @property
    def response(self) -> dict:
        return self.entry["response"]

    @property
    def failed(self) -> bool:
        return "_failure" in self.entry

    @property
    def method(self) -> str:
        return self.request["method"].upper()

    def url_parts(self):
        return urlsplit(self.request["url"])

    def local_path(self) -> tuple[str, bool]:
        """The path as the emulator serves it, and whether the URL was on the upstream's own host."""
        parts = self.url_parts()
        base = urlsplit(self.upstream)
        if (parts.scheme, parts.netloc) == (base.scheme, base.netloc):
            prefix = base.path.rstrip("/")
            path = parts.path[len(prefix):] if prefix and parts.path.startswith(prefix) else parts.path
            return path or "/", True
        return parts.path or "/", False

    @property
    def query(self) -> str:
        return self.url_parts().query

    def request_body(self) -> bytes:
        post = self.request.get("postData")
        return har.body_bytes(post) if post else b""

    def response_body(self) -> bytes:
        return har.body_bytes(self.response.get("content") or {})

    def header(self, part: dict, name: str) -> str | None:
        for item in part.get("headers") or []:
            if item.get("name", "").lower() == name.lower():
                return item.get("value")
        return None

    def response_cut(self) -> bool:
        return "_cut" in (self.response.get("content") or {})


@dataclass
class Folder:
    exchanges: list[Exchange] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (file name, what is wrong)


def read_folder(folder: str | Path) -> Folder:
    """Every recording in a folder, in name order; each file that is not one names its problem."""
    from ..vendors import VENDORS

    root = Path(folder)
    result = Folder()
    if not root.is_dir():
        result.problems.append((str(folder), "not a folder"))
        return result
    real_root = root.resolve()
    names = sorted(p.name for p in root.iterdir() if not p.name.startswith("."))
    vendors = {v.name for v in VENDORS}
    for index, name in enumerate(names):
        if index >= MAX_FILES:
            result.problems.append((name, f"past the {MAX_FILES} files read from one folder"))
            continue
        path = root / name
        try:
            real = path.resolve()
        except OSError as exc:
            result.problems.append((name, f"cannot be read: {exc.strerror or exc}"))
            continue
        if real.parent != real_root:
            result.problems.append((name, "points outside the recording folder: not read"))
            continue
        if not real.is_file():
            result.problems.append((name, "not a file"))
            continue
        if not name.endswith(".har"):
            result.problems.append((name, "not a recording (a recording is a .har file)"))
            continue
        problem, exchange = _read_one(real, name, vendors)
        if problem:
            result.problems.append((name, problem))
        else:
            result.exchanges.append(exchange)
    return result


def _read_one(path: Path, name: str, vendors: set[str]) -> tuple[str | None, Exchange | None]:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return f"{size} bytes, above the {MAX_FILE_BYTES} bytes a recording may have", None
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return "not UTF-8 text", None
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}", None
    try:
        data = json.loads(text)
    except ValueError as exc:
        if not text.strip():
            return "empty", None
        return f"not valid JSON (truncated or malformed): {exc}", None
    return _check(data, name, vendors)


def _check(data: Any, name: str, vendors: set[str]) -> tuple[str | None, Exchange | None]:
    log = data.get("log") if isinstance(data, dict) else None
    if not isinstance(log, dict) or log.get("version") != "1.2":
        return "not a HAR 1.2 document", None
    recording = log.get("_recording")
    if not isinstance(recording, dict) or recording.get("format") != har.FORMAT:
        return "a HAR file, but not one `report-emulator record` wrote (no _recording of format 1)", None
    vendor, upstream = recording.get("vendor"), recording.get("upstream")
    if vendor not in vendors:
        return f"unknown vendor {vendor!r}", None
    if not isinstance(upstream, str) or not upstream.startswith(("http://", "https://")):
        return "no upstream URL in _recording", None
    entries = log.get("entries")
    if not isinstance(entries, list) or len(entries) != 1 or not isinstance(entries[0], dict):
        return "a recording holds exactly one entry", None
    entry = entries[0]
    req, resp = entry.get("request"), entry.get("response")
    if not isinstance(req, dict) or not isinstance(req.get("method"), str) or not isinstance(req.get("url"), str):
        return "the entry has no request method and URL", None
    if not req["url"].startswith(("http://", "https://")):
        return f"the request URL is not absolute: {req['url'][:80]!r}", None
    if not isinstance(resp, dict) or not isinstance(resp.get("status"), int) or isinstance(resp.get("status"), bool):
        return "the entry has no response status", None
    for part, label in ((resp.get("content"), "response content"), (req.get("postData"), "request postData")):
        if part is None and label == "request postData":
            continue
        if not isinstance(part, dict) or not isinstance(part.get("text", ""), str):
            return f"the {label} is malformed", None
        try:
            har.body_bytes(part)
        except ValueError:
            return f"the {label} is not valid base64", None
    for part in (req, resp):
        headers = part.get("headers", [])
        if not isinstance(headers, list) or not all(isinstance(h, dict) and isinstance(h.get("name"), str)
                                                    and isinstance(h.get("value"), str) for h in headers):
            return "malformed headers", None
    return None, Exchange(name, vendor, upstream, entry)
