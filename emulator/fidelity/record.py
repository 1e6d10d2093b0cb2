"""`report-emulator record`: a pass-through proxy in front of the real vendor that writes each exchange
to a folder, one HAR file each (har.py), with secrets masked.

The client gets the upstream's answer unchanged (status, headers, body), except signed download links
in a JSON answer (a URL whose query carries a signature, as Echo360's signedAssets), which are rewritten
to pass through the proxy: a link on the upstream's own host keeps its path on the proxy's host; a link
on another host (S3) becomes `/_emulator/upstream/<scheme>/<host>/<path>` on the proxy, which forwards
only to hosts such a link named. The upstream is reached with the standard library's http.client (no
added dependency), one connection per exchange.

An upstream that cannot be reached, fails TLS or times out: 502 in the vendor's own envelope naming
the problem, and the exchange is recorded as failed (`_failure`).
"""
from __future__ import annotations

import http.client
import json
import os
import re
import socket
import ssl
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator
from urllib.parse import quote, urlsplit

from flask import Flask, Response, request

from . import har

UPSTREAM_TIMEOUT = 30.0  # seconds to connect, and between two reads of the answer
REWRITE_JSON_BYTES = 16 * 1024 * 1024  # a JSON answer up to 16 MiB is read whole to rewrite its links; past it, streamed as is
CHUNK = 64 * 1024
FOREIGN_PREFIX = har.FOREIGN_PREFIX


class ProxyResponse(Response):
    default_mimetype = None  # no Content-Type the upstream did not send


class UpstreamError(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


def describe(exc: BaseException, target: str, timeout: float = UPSTREAM_TIMEOUT) -> UpstreamError:
    """An upstream failure as one of the kinds recorded, with a message naming it."""
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return UpstreamError("timeout", f"upstream {target} did not answer within {timeout:g} s")
    if isinstance(exc, ssl.SSLError) or isinstance(exc, ssl.CertificateError):
        return UpstreamError("tls", f"TLS error talking to upstream {target}: {getattr(exc, 'reason', None) or exc}")
    if isinstance(exc, http.client.HTTPException):
        return UpstreamError("protocol", f"upstream {target} sent a broken HTTP answer: {type(exc).__name__}: {exc}")
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return UpstreamError("unreachable", f"upstream {target} cannot be reached: {reason}")


class Recorder:
    """The proxy's state: where it forwards, where it writes, what it masked, which hosts links named."""

    def __init__(self, upstream: str, vendor: str, out: str | Path, mask_fields=(), timeout: float = UPSTREAM_TIMEOUT):
        from ..vendors import VENDORS

        parts = urlsplit(upstream)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"--upstream must be an http:// or https:// URL, not {upstream!r}")
        specs = {v.name: v for v in VENDORS}
        if vendor not in specs:
            raise ValueError(f"unknown vendor {vendor!r}; choose one of {', '.join(specs)}")
        self.spec = specs[vendor]
        self.vendor = vendor
        self.upstream = upstream.rstrip("/")
        self.base = parts
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.masker = har.Masker(mask_fields)
        self.timeout = timeout
        self.hosts: set[tuple[str, str]] = set()  # (scheme, host[:port]) of signed links on other hosts
        self._lock = threading.Lock()
        numbers = [int(p.name[:5]) for p in self.out.glob("[0-9][0-9][0-9][0-9][0-9]-*.har")]
        self._serial = max(numbers, default=0)

    # -- the app ----------------------------------------------------------------------------------

    def app(self) -> Flask:
        app = Flask("emulator.fidelity.record")
        app.config["MAX_CONTENT_LENGTH"] = None
        app.add_url_rule("/", "proxy", self.proxy, defaults={"path": ""}, methods=_METHODS)
        app.add_url_rule("/<path:path>", "proxy", self.proxy, methods=_METHODS)
        app.register_error_handler(Exception, self.failure)
        return app

    def failure(self, exc: Exception):
        """Whatever goes wrong in the proxy itself is answered in the vendor's envelope, never an HTML page."""
        from werkzeug.exceptions import HTTPException

        if isinstance(exc, HTTPException):
            return self.spec.error_response(exc.code or 500, f"{exc.name}: {request.method} {request.path}")
        return self.spec.error_response(502, f"the recording proxy failed: {type(exc).__name__}: {exc}")

    def proxy(self, path: str):
        raw = request.environ.get("REQUEST_URI") or request.environ.get("RAW_URI") or quote(request.path)
        raw_path, _, query = raw.partition("?")
        if raw_path.startswith(("http://", "https://")):  # an absolute request line
            raw_path = urlsplit(raw_path).path
        if raw_path.startswith(FOREIGN_PREFIX):
            scheme, _, rest = raw_path[len(FOREIGN_PREFIX):].partition("/")
            host, _, tail = rest.partition("/")
            if (scheme, host) not in self.hosts:
                return self.spec.error_response(404, f"no signed link named {scheme}://{host}: the proxy only "
                                                     "forwards to hosts of links it rewrote")
            target = (scheme, host, "/" + tail)
        else:
            target = (self.base.scheme, self.base.netloc, self.base.path.rstrip("/") + raw_path)
        body = request.get_data(cache=False)
        return self.exchange(target, query, body)

    def exchange(self, target: tuple[str, str, str], query: str, body: bytes):
        scheme, host, path = target
        url = f"{scheme}://{host}{path}" + (f"?{query}" if query else "")
        headers = [(k, v) for k, v in request.headers.items()
                   if k.lower() not in har.HOP_BY_HOP and k.lower() not in ("host", "content-length", "accept-encoding")]
        headers.append(("Host", host))
        headers.append(("Accept-Encoding", "identity"))  # bodies as they are, so that masking can read them
        if body or request.method in ("POST", "PUT", "PATCH"):
            headers.append(("Content-Length", str(len(body))))
        started = time.monotonic()
        when = datetime.now(timezone.utc)
        record = {"method": request.method, "url": url, "query": query, "headers": headers, "body": body,
                  "media": request.headers.get("Content-Type", ""), "when": when, "started": started}
        try:
            conn_class = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
            conn = conn_class(host, timeout=self.timeout)
            conn.putrequest(request.method, path + (f"?{query}" if query else ""), skip_host=True,
                            skip_accept_encoding=True)
            for name, value in headers:
                conn.putheader(name, value)
            conn.endheaders(body or None)
            answer = conn.getresponse()
        except (OSError, http.client.HTTPException, ValueError) as exc:
            error = describe(exc, f"{scheme}://{host}", self.timeout)
            self.write(record, None, b"", 0, error)
            return self.spec.error_response(502, error.message)
        return self.relay(record, conn, answer)

    def relay(self, record: dict, conn, answer) -> Response:
        headers = [(k, v) for k, v in answer.getheaders() if k.lower() not in har.HOP_BY_HOP]
        media = answer.getheader("Content-Type", "") or ""
        status = answer.status
        head = (status, answer.reason, headers)  # recorded as the upstream sent them
        headers = [(k, self.rewrite_location(v) if k.lower() == "location" else v) for k, v in headers]
        if "json" in media.lower():
            try:
                first = answer.read(REWRITE_JSON_BYTES + 1)
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                error = describe(exc, record["url"], self.timeout)
                self.write(record, head, b"", 0, error)
                return self.spec.error_response(502, error.message)
            if len(first) <= REWRITE_JSON_BYTES:
                conn.close()
                changed = self.rewrite_links(first)
                if changed != first:
                    headers = [(k, str(len(changed)) if k.lower() == "content-length" else v) for k, v in headers]
                self.write(record, head, first, len(first), None)  # whole: masked first, then cut
                return ProxyResponse(changed, status=status, headers=headers)
            chunks = self.stream(record, conn, answer, head, first)
        else:
            chunks = self.stream(record, conn, answer, head, b"")
        return ProxyResponse(chunks, status=status, headers=headers, direct_passthrough=True)

    def stream(self, record: dict, conn, answer, head: tuple, first: bytes) -> Iterator[bytes]:
        """Pass the answer on as it arrives, keeping its first RECORD_BODY_BYTES for the file."""
        kept = bytearray(first[:har.RECORD_BODY_BYTES])
        total = len(first)
        error = None
        try:
            if first:
                yield first
            while True:
                chunk = answer.read(CHUNK)
                if not chunk:
                    break
                total += len(chunk)
                if len(kept) < har.RECORD_BODY_BYTES:
                    kept += chunk[: har.RECORD_BODY_BYTES - len(kept)]
                yield chunk
        except (OSError, http.client.HTTPException) as exc:
            error = describe(exc, record["url"], self.timeout)
            raise
        finally:
            conn.close()
            self.write(record, head, bytes(kept), total, error)

    # -- links --------------------------------------------------------------------------------------

    def rewrite_links(self, body: bytes) -> bytes:
        return har.rewrite_links(body, self.upstream, request.url_root.rstrip("/"), self._named)

    def rewrite_location(self, value: str) -> str:
        return har.local_link(value, self.upstream, request.url_root.rstrip("/"), self._named)

    def _named(self, scheme: str, host: str) -> None:
        """A signed link named another host: the proxy may now forward there."""
        with self._lock:
            self.hosts.add((scheme, host))

    # -- the file -------------------------------------------------------------------------------------

    def write(self, record: dict, head: tuple | None, body: bytes, total: int, error: UpstreamError | None) -> None:
        with self._lock:
            self._serial += 1
            serial = self._serial
            entry = self.entry(record, head, body, total, error)
            text = self.masker.scrub(json.dumps(har.document(self.vendor, self.upstream, entry), indent=1,
                                                ensure_ascii=False))
        slug = re.sub(r"[^A-Za-z0-9]+", "-", urlsplit(record["url"]).path).strip("-")[:60] or "root"
        name = f"{serial:05d}-{record['method'].upper()[:7]}-{slug}.har"
        temp = self.out / f".{name}.tmp"
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, self.out / name)

    def entry(self, record: dict, head: tuple | None, body: bytes, total: int, error: UpstreamError | None) -> dict:
        m = self.masker
        request_body = record["body"]
        request_media = record["media"]
        masked_request = m.body(request_body, request_media)
        headers = [(k, m.header(k, v)) for k, v in record["headers"]]
        query = m.query(record["query"])
        url = record["url"].split("?", 1)[0] + (f"?{query}" if query else "")
        req = {"method": record["method"], "url": url, "httpVersion": "HTTP/1.1", "cookies": [],
               "headers": har.headers_list(headers), "queryString": har.query_list(query),
               "headersSize": -1, "bodySize": len(request_body)}
        if request_body:
            post = {"mimeType": request_media}
            fields = har.body_fields(masked_request, request_media, len(request_body), len(request_body))
            if fields.pop("encoding", None):
                fields["_encoding"] = "base64"
            req["postData"] = {**post, **fields}
        elapsed = round((time.monotonic() - record["started"]) * 1000, 3)
        if head is None:
            response = {"status": 0, "statusText": "", "httpVersion": "HTTP/1.1", "cookies": [], "headers": [],
                        "content": {"size": 0, "mimeType": ""}, "redirectURL": "", "headersSize": -1,
                        "bodySize": 0, "_proxyStatus": 502}
        else:
            status, reason, answer_headers = head
            media = next((v for k, v in answer_headers if k.lower() == "content-type"), "")
            masked_headers = [(k, m.header(k, v)) for k, v in answer_headers]
            masked_body = m.body(body, media)
            location = next((v for k, v in masked_headers if k.lower() == "location"), "")
            response = {"status": status, "statusText": reason, "httpVersion": "HTTP/1.1", "cookies": [],
                        "headers": har.headers_list(masked_headers),
                        "content": {"size": total, "mimeType": media, **har.body_fields(masked_body, media, total, len(body))},
                        "redirectURL": location, "headersSize": -1, "bodySize": total}
        entry = {"startedDateTime": record["when"].isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                 "time": elapsed, "request": req, "response": response, "cache": {},
                 "timings": {"send": 0, "wait": elapsed, "receive": 0}}
        if error is not None:
            entry["_failure"] = {"kind": error.kind, "message": error.message}
        return entry


_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def banner(url: str, recorder: Recorder) -> str:
    return (f"report-emulator recording {recorder.vendor} from {recorder.upstream} on {url}\n"
            f"  writing one HAR file per exchange to {recorder.out}; secrets masked"
            + (f"; personal fields masked: {', '.join(sorted(recorder.masker.mask_fields))}"
               if recorder.masker.mask_fields else ""))
