"""Echo360 state: API clients' tokens, report requests on their lifecycle, generated files, signed
links. Never imports Flask.

A submitted request is a job on `REPORT_REQUEST_LIFECYCLE` (core/jobs.py): Pending for the scenario's
`processing_seconds`, then its outcome, and Expired 14 days after it was created. Its file is written
in the background (the scheduler) as soon as it is submitted; the transition to Available waits for
that work if it is still running, so a client that sees Available can always download.
"""
from __future__ import annotations

import atexit
import base64
import hashlib
import hmac
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ...core.csvout import write_csv_file
from ...core.jobs import Job, JobBoard, Lifecycle, Ref, Transition
from ...core.scheduler import Scheduler
from ...core.vendor import VendorModel, same_secret
from ...settings import parse_instant
from . import data
from .errors import AccessDenied, BadRequest, NotFound, TooManyRequests, Unauthorized
from .reports import REPORTS, ReportSpec

TOKEN_SECONDS = 3600
RETENTION_SECONDS = 14 * 86400  # a report is kept 14 days from submission
LINK_SECONDS = 7 * 86400  # a signed link works 7 days from issue (never past the retention)
DEFAULT_PROCESSING_SECONDS = 120
IN_FLIGHT_LIMIT = 3  # Pending requests per API client
DEFAULT_RATE_LIMIT = 120
GENERATION_TIMEOUT = 600  # seconds a due transition waits for its file before the request is Failed
MAX_RANGE = timedelta(days=7)
OUTCOMES = ("Available", "Failed", "Missing")
ASSET_PREFIX = "/s3/echo360-reporting/"  # signed links are path-style S3 URLs on the emulator's host
ACCESS_KEY_ID = "ECHO360EMULATOR"

REPORT_REQUEST_LIFECYCLE = Lifecycle(
    initial="Pending",
    transitions=(
        Transition("Pending", Ref("outcome"), Ref("processing_seconds"), since="created"),
        Transition("Available", "Expired", RETENTION_SECONDS, since="created"),
    ),
)


def format_created(value: datetime) -> str:
    """2020-04-01T20:36:12.000Z, as the document's examples."""
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


@dataclass
class Token:
    client_id: str
    expires: datetime


@dataclass
class ReportRequest:
    id: str
    client_id: str
    report_name: str
    parameters: dict[str, str]
    start: datetime | None
    end: datetime | None
    compression: bool
    delimiter: str
    created: datetime
    asset_id: str
    future: Any = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    path: str | None = None
    rows: int | None = None

    @property
    def asset_name(self) -> str:
        return f"{self.asset_id}.csv.gz" if self.compression else f"{self.asset_id}.csv"


class Echo360Model(VendorModel):
    name = "echo360"
    default_credentials = {"client_id": "emulator-client", "client_secret": "echo360-emulator-secret"}
    default_rate_limit = DEFAULT_RATE_LIMIT  # calls per minute per token

    def __init__(self, emulator):
        super().__init__(emulator)
        self._lock = threading.RLock()
        self._folder_lock = threading.Lock()
        self.scheduler = Scheduler("echo360")
        self.board = JobBoard(REPORT_REQUEST_LIFECYCLE, self._on_transition)
        self._root: str | None = None  # temp folder for report files, made on first use
        self._epoch = 0  # bumped by each reset: files of an older epoch live in a folder being deleted
        self._clear_state()
        self.clock.subscribe(self._on_clock)
        atexit.register(self._at_exit)

    def _clear_state(self) -> None:
        self.tokens: dict[str, Token] = {}
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> client id, each usable once
        self.requests: dict[str, ReportRequest] = {}
        self.assets: dict[str, str] = {}  # asset file name -> request id
        self._serial = 0  # ids drawn so far (ids come from the seeded world)
        self._outcomes: tuple[int, int] = (0, 0)  # (id of the scenario, outcomes consumed under it)

    # --- settings from the active scenario ---------------------------------------------------------

    def knob(self, name: str, default: Any) -> Any:
        return self.emulator.knobs("echo360").get(name, default)

    def _number_knob(self, name: str, default: float, minimum: float = 0) -> float:
        value = self.knob(name, default)
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= minimum else default

    def _next_outcome(self) -> str:
        outcomes = self.knob("outcomes", None) or []
        scenario = id(self.emulator.scenario)
        owner, used = self._outcomes
        if owner != scenario:
            used = 0
        self._outcomes = (scenario, used + 1)
        outcome = outcomes[used] if used < len(outcomes) else "Available"
        return outcome if outcome in OUTCOMES else "Available"

    def _draw_id(self, what: str) -> str:
        self._serial += 1
        return data.make_uuid(self.world.rng("echo360", what, self._serial))

    # --- the world ---------------------------------------------------------------------------------

    def sizes(self) -> dict[str, int]:
        """World sizes: the defaults times --scale, or the scenario's `world: {echo360: {...}}` counts."""
        overrides = self.world.overrides.get("echo360", {}) or {}
        sizes = {}
        for key, base in data.BASE_SIZES.items():
            value = overrides.get(key)
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
            sizes[key] = value if ok else base * self.world.scale
        sizes["instructors"] = max(sizes["instructors"], sizes["courses"])  # at least one per course
        return sizes

    def echo_world(self) -> data.EchoWorld:
        world = self.world
        return world.cached(("echo360", "world"), lambda: data.EchoWorld(world, self.sizes()))

    def world_summary(self) -> dict[str, Any]:
        w = self.echo_world()
        now = data.epoch(self.clock.now())
        recent = [m for m in reversed(w.media) if m.created < now]
        media = []
        for kind in ("video", "presentation", "interactive"):
            media += [{"id": m.id, "name": m.name, "kind": kind, "created": data.format_ts(m.created), "live": m.live}
                      for m in [m for m in recent if m.kind == kind][:5]]
        return {
            "reports": list(REPORTS),
            "courses": [{"id": c.id, "name": c.name, "identifier": c.identifier} for c in w.courses[:12]],
            "media": media,
        }

    # --- tokens ------------------------------------------------------------------------------------

    def issue_token(self, grant_type: str, client_id: str, client_secret: str | None,
                    refresh_token: str | None) -> dict[str, Any]:
        creds = self.credentials()
        if client_id != creds["client_id"]:
            raise Unauthorized("invalid client: unknown client_id")
        with self._lock:
            if grant_type == "client_credentials":
                if not same_secret(client_secret, creds["client_secret"]):
                    raise Unauthorized("invalid client: wrong or missing client_secret")
            elif grant_type == "refresh_token":
                if client_secret is not None and not same_secret(client_secret, creds["client_secret"]):
                    raise Unauthorized("invalid client: wrong client_secret")
                if not refresh_token or self.refresh_tokens.get(refresh_token) != client_id:
                    raise Unauthorized("invalid grant: the refresh_token is unknown or has already been used")
                del self.refresh_tokens[refresh_token]
            else:
                raise Unauthorized(f"unsupported grant_type {grant_type!r}: use client_credentials or refresh_token")
            access = self._draw_token("access")
            refresh = self._draw_token("refresh")
            self.tokens[access] = Token(client_id, self.clock.now() + timedelta(seconds=TOKEN_SECONDS))
            self.refresh_tokens[refresh] = client_id
        return {"access_token": access, "token_type": "Bearer", "expires_in": TOKEN_SECONDS, "refresh_token": refresh}

    def _draw_token(self, what: str) -> str:
        self._serial += 1
        return f"{self.world.rng('echo360', 'token', what, self._serial).getrandbits(192):048x}"

    def authenticate(self, token: str | None) -> str:
        """The API client a bearer token belongs to; also counts the call against the rate limit."""
        if not token:
            raise Unauthorized("missing access token: send Authorization: Bearer <token> or ?access_token=<token>")
        found = self.tokens.get(token)
        if found is None:
            raise Unauthorized("invalid access token")
        if self.clock.now() >= found.expires:
            raise Unauthorized("access token expired: request a new one (tokens last 3600 seconds)")
        verdict = self.hit(token)
        if not verdict.allowed:
            raise TooManyRequests(f"rate limit exceeded: {verdict.limit} calls per minute per token; retry after "
                                  f"{verdict.retry_after} seconds", verdict.retry_after)
        return found.client_id

    # --- catalogue and requests ----------------------------------------------------------------------

    def catalogue(self) -> list[dict[str, Any]]:
        return [{"name": s.name, "description": s.description, "note": s.note, "parameters": s.parameters}
                for s in REPORTS.values()]

    def report(self, report_name: str) -> ReportSpec:
        spec = REPORTS.get(report_name)
        if spec is None:
            raise NotFound(f"unknown report {report_name!r}: see GET /public/api/v1/reporting/reports")
        return spec

    def submit(self, client_id: str, report_name: str, parameters: dict[str, str], compression: bool,
               delimiter: str) -> ReportRequest:
        spec = self.report(report_name)
        now = self.clock.now()
        self.catch_up(now)
        start, end = self._window(spec, parameters, now)
        with self._lock:
            limit = int(self._number_knob("max_in_flight", IN_FLIGHT_LIMIT, 1))
            in_flight = sum(1 for r in self.requests.values() if r.client_id == client_id and self.status(r) == "Pending")
            if in_flight >= limit:
                raise BadRequest(f"in-flight limit reached: at most {limit} report requests may be Pending at once "
                                 f"per API client; wait until a previously submitted report finishes")
            request = ReportRequest(self._draw_id("request"), client_id, report_name, dict(parameters), start, end,
                                    compression, delimiter, now, self._draw_id("asset"))
            outcome = self._next_outcome()
            processing = self._number_knob("processing_seconds", DEFAULT_PROCESSING_SECONDS)
            self.requests[request.id] = request
            self.board.add(request.id, now, {"outcome": outcome, "processing_seconds": processing})
            if outcome == "Available":
                request.future = self.scheduler.submit(self._generate, request, self._epoch)
        self.catch_up(now)
        return request

    def _window(self, spec: ReportSpec, parameters: dict[str, str], now: datetime):
        """The request's [start, end), or a BadRequest naming the rule it breaks."""
        expected = {p["name"] for p in spec.parameters}
        unknown = sorted(set(parameters) - expected)
        if unknown:
            takes = f"takes only {', '.join(sorted(expected))}" if expected else "takes no parameters"
            raise BadRequest(f"unknown parameter(s) for report {spec.name}: {', '.join(unknown)} ({spec.name} {takes})")
        if not spec.dated:
            return None, None
        bounds = []
        for name in ("start", "end"):
            if name not in parameters:
                raise BadRequest(f"parameters.{name} is required for report {spec.name} (a date, YYYY-MM-DD)")
            try:
                bounds.append(parse_instant(parameters[name]))
            except ValueError:
                raise BadRequest(f"parameters.{name} must be a date (YYYY-MM-DD) or an ISO 8601 timestamp in UTC, "
                                 f"not {parameters[name]!r}") from None
        start, end = bounds
        if start >= end:
            raise BadRequest("parameters.start must be before parameters.end (start is inclusive, end exclusive)")
        if end - start > MAX_RANGE:
            raise BadRequest(f"the range from start to end is limited to 7 days; got {(end - start) / timedelta(days=1):g} "
                             f"days: submit separate requests for smaller sub-intervals")
        if spec.name == "assetbydate":
            earliest = _one_year_before(now)
            if start < earliest:
                raise BadRequest(f"assetbydate covers up to one year before the current date: start must be on or "
                                 f"after {earliest.date().isoformat()}")
        return start, end

    def status(self, request: ReportRequest) -> str:
        job = self.board.get(request.id)
        return job.state if job is not None else "Expired"

    def list_requests(self, client_id: str) -> list[dict[str, Any]]:
        self.catch_up(self.clock.now())
        mine = [r for r in reversed(self.requests.values()) if r.client_id == client_id]  # newest first
        return [self._describe(r, assets=[r.asset_name] if self.status(r) == "Available" else None) for r in mine]

    def get_request(self, client_id: str, request_id: str, base_url: str) -> dict[str, Any]:
        now = self.clock.now()
        self.catch_up(now)
        request = self.requests.get(request_id)
        if request is None or request.client_id != client_id:
            raise NotFound(f"unknown report request {request_id!r}")
        links = [self._sign(request, base_url, now)] if self.status(request) == "Available" else None
        return self._describe(request, signed_assets=links)

    def _describe(self, request: ReportRequest, **extra: Any) -> dict[str, Any]:
        return {"request_id": request.id, "status": self.status(request), **extra, "report_name": request.report_name,
                "parameters": request.parameters, "created": format_created(request.created)}

    # --- lifecycle ---------------------------------------------------------------------------------

    def catch_up(self, now: datetime) -> None:
        """Complete every transition due by now; with a real clock, wake up for the next one."""
        self.board.catch_up(now)
        if self.clock.mode == "real":
            due = self.board.next_due()
            if due is not None:
                self.scheduler.call_later("echo360-lifecycle", (due - self.clock.now()).total_seconds(),
                                          lambda: self.catch_up(self.clock.now()))

    def _on_clock(self, now: datetime) -> None:
        self.catch_up(now)

    def _on_transition(self, job: Job, old: str, new: str, at: datetime) -> None:
        request = self.requests.get(job.id)
        if request is None:
            return
        if new == "Available":
            try:
                request.future.result(timeout=GENERATION_TIMEOUT)  # the file is written, or this waits
            except Exception:  # the work failed, was cancelled, or took far too long
                request.cancelled.set()
                job.state = "Failed"
                job.history.append(("Failed", at))
                return
            self.assets[request.asset_name] = request.id
        elif new == "Expired":
            self.assets.pop(request.asset_name, None)
            if request.path:
                _remove(request.path)

    def _generate(self, request: ReportRequest, epoch: int) -> int:
        """Write the request's file (runs in the scheduler's threads)."""
        spec = REPORTS[request.report_name]
        w = self.echo_world()
        cutoff = request.created
        if spec.dated:
            lo, hi = data.to_epoch_window(request.start, request.end, self.world.history_start, cutoff)
        else:
            lo, hi = data.epoch(self.world.history_start), data.epoch(cutoff)
        if spec.events is None:
            batches = [w.asset_rows(lo, hi, data.epoch(cutoff), all_videos=not spec.dated)]
        else:
            batches = data.event_batches(w, spec.events, spec.spill_days, lo, hi)
        path = os.path.join(self._folder(epoch), request.asset_name)
        request.rows = write_csv_file(path, spec.columns, batches, delimiter=request.delimiter,
                                      compress=request.compression, level=data.GZIP_LEVEL,
                                      cancelled=request.cancelled.is_set)
        request.path = path
        return request.rows

    def _folder(self, epoch: int) -> str:
        with self._folder_lock:  # not self._lock: a transition may wait on this work while holding it
            if self._root is None:
                self._root = tempfile.mkdtemp(prefix="echo360-reports-")
            folder = os.path.join(self._root, str(epoch))
            os.makedirs(folder, exist_ok=True)
            return folder

    # --- signed assets -----------------------------------------------------------------------------

    def _key(self) -> bytes:
        return hashlib.sha256(f"echo360-assets:{self.world.seed}:{self.credentials()['client_secret']}".encode()).digest()

    def _signature(self, path: str, expires: int) -> str:
        digest = hmac.new(self._key(), f"GET\n{path}\n{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def _sign(self, request: ReportRequest, base_url: str, now: datetime) -> str:
        expires = int(min(now + timedelta(seconds=LINK_SECONDS),
                          request.created + timedelta(seconds=RETENTION_SECONDS)).timestamp())
        path = ASSET_PREFIX + request.asset_name
        return (f"{base_url.rstrip('/')}{path}?AWSAccessKeyId={ACCESS_KEY_ID}&Expires={expires}"
                f"&Signature={self._signature(path, expires)}")

    def open_asset(self, name: str, expires: str | None, signature: str | None) -> tuple[str, str]:
        """The file behind a signed link and its media type, or AccessDenied as S3 would answer."""
        now = self.clock.now()
        self.catch_up(now)
        if not expires or not signature:
            raise AccessDenied("Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters")
        path = ASSET_PREFIX + name
        try:
            expires_at = int(expires)
        except ValueError:
            raise AccessDenied("Invalid date (should be seconds since epoch)", {"Expires": expires}) from None
        if not hmac.compare_digest(self._signature(path, expires_at), signature):
            raise AccessDenied("Access Denied: the signature does not match this link")
        if int(now.timestamp()) > expires_at:
            expired_at = datetime.fromtimestamp(expires_at, timezone.utc)
            raise AccessDenied("Request has expired", {"Expires": format_created(expired_at),
                                                       "ServerTime": format_created(now)})
        request = self.requests.get(self.assets.get(name, ""))
        if request is None or request.path is None or not os.path.exists(request.path):
            raise AccessDenied("Access Denied")
        # Flask adds "; charset=utf-8" to text types itself.
        return request.path, "application/gzip" if request.compression else "text/csv"

    # --- reset -------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget requests, tokens and counters; files are deleted in the background."""
        with self._lock:
            for request in self.requests.values():
                request.cancelled.set()  # running work stops at its next batch
                if request.future is not None:
                    request.future.cancel()  # queued work never starts (and nobody waits on it)
            self.scheduler.clear()
            self.board.clear()
            super().reset()
            self._clear_state()
            old = os.path.join(self._root, str(self._epoch)) if self._root else None
            self._epoch += 1
        if old and os.path.isdir(old):
            threading.Thread(target=shutil.rmtree, args=(old, True), daemon=True).start()

    def _at_exit(self) -> None:
        for request in list(self.requests.values()):
            request.cancelled.set()
        self.scheduler.shutdown()
        if self._root:
            shutil.rmtree(self._root, ignore_errors=True)


def _one_year_before(now: datetime) -> datetime:
    day = now.date()
    try:
        earlier = day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        earlier = day.replace(year=day.year - 1, day=28)
    return datetime(earlier.year, earlier.month, earlier.day, tzinfo=timezone.utc)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass

