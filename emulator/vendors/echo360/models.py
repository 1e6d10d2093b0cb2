"""Echo360 state: API clients' tokens, report requests on their lifecycle, report files, signed
links. Never imports Flask.

Everything lives in the store, so any process or replica answers any call. A report request's
status is computed from its creation time, its settings (processing time, outcome) and now
(`REPORT_REQUEST_LIFECYCLE`): Pending for the scenario's `processing_seconds`, then its outcome, and
Expired 14 days after it was created. Nothing is stored about its progress, so a clock jump of any
size costs nothing.

A report's bytes are a function of the world, the report, its parameters and its creation time, so
any process can write its file: the process that takes the request starts writing it at once, and
a download that finds no file writes it first (the same bytes). Files are kept in the store's
folder and removed when their request is dropped. Requests are dropped 7 days after they expire
(21 days after submission: when the clock passes that time, or at the client's next call) and
beyond the newest 500 per API client. The folder holds at most FILES_MAX_BYTES of finished files:
past it the least recently written go (a download writes its file again). A file being written
belongs to its writer until the writer is gone (csvout's lock): nobody else removes it.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
from concurrent.futures import Future
from datetime import datetime, timedelta, timezone
from typing import Any, BinaryIO

from ...core.csvout import being_written, write_csv_file
from ...core.jobs import Lifecycle, Ref, Transition
from ...core.scheduler import Scheduler
from ...core.vendor import VendorModel, same_secret
from ...core.world import Listing
from ...settings import parse_instant
from . import data
from .errors import AccessDenied, BadRequest, NotFound, TooManyRequests, Unauthorized
from .reports import REPORTS, ReportSpec

TOKEN_SECONDS = 3600
RETENTION_SECONDS = 14 * 86400  # a report is kept 14 days from submission
LINK_SECONDS = 7 * 86400  # a signed link works 7 days from issue (never past the retention)
LISTED_AFTER_EXPIRY_SECONDS = 7 * 86400  # an Expired request stays listed this long, then is dropped
MAX_REQUESTS_PER_CLIENT = 500  # requests kept per API client; the oldest beyond are dropped
MAX_REFRESH_TOKENS = 1000  # unused refresh tokens kept per store; the oldest beyond are dropped
MAX_ACCESS_TOKENS = 1000  # access tokens kept per store (with their rate-limit windows); the oldest beyond are dropped
FILES_MAX_BYTES = 512 * 1024 * 1024  # finished report files kept per folder; the least recently written beyond are removed
DEFAULT_PROCESSING_SECONDS = 120
IN_FLIGHT_LIMIT = 3  # Pending requests per API client
DEFAULT_RATE_LIMIT = 120
GENERATION_WAIT_SECONDS = 600  # how long a clock move waits for a file it made due
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

# Store keys (all start with "echo360:", so a reset or a world change clears them).
TOKENS = "echo360:tokens"  # access token -> {client_id, expires}
REFRESH_TOKENS = "echo360:refresh_tokens"  # refresh token -> {client_id, issued}; each taken once
CLIENTS = "echo360:clients"  # API client id -> 1 (whose requests exist)
ASSETS = "echo360:assets"  # asset file name -> [client id, request id]


def requests_key(client_id: str) -> str:
    return f"echo360:requests:{client_id}"  # request id -> the request as submitted


def index_key(client_id: str) -> str:
    return f"echo360:index:{client_id}"  # [[request id, created, pending until], ...], oldest first


def format_created(value: datetime) -> str:
    """2020-04-01T20:36:12.000Z, as the document's examples."""
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


class ReportRequest:
    """A submitted request as the store keeps it (a plain dict), with what is computed from it."""

    def __init__(self, record: dict[str, Any]):
        self.record = record
        self.id: str = record["id"]
        self.client_id: str = record["client_id"]
        self.report_name: str = record["report_name"]
        self.parameters: dict[str, str] = record["parameters"]
        self.start = _at(record["start"]) if record["start"] is not None else None
        self.end = _at(record["end"]) if record["end"] is not None else None
        self.compression: bool = record["compression"]
        self.delimiter: str = record["delimiter"]
        self.created = _at(record["created"])
        self.asset_id: str = record["asset_id"]
        self.settings = {"outcome": record["outcome"], "processing_seconds": record["processing_seconds"]}

    @property
    def asset_name(self) -> str:
        return f"{self.asset_id}.csv.gz" if self.compression else f"{self.asset_id}.csv"

    def status(self, now: datetime) -> str:
        return REPORT_REQUEST_LIFECYCLE.state_at(self.created, self.settings, now)[0]

    def timeline(self) -> list[tuple[str, datetime]]:
        return REPORT_REQUEST_LIFECYCLE.timeline(self.created, self.settings)

    @property
    def dropped_at(self) -> datetime:
        return self.created + timedelta(seconds=RETENTION_SECONDS + LISTED_AFTER_EXPIRY_SECONDS)


class Echo360Model(VendorModel):
    name = "echo360"
    default_credentials = {"client_id": "emulator-client", "client_secret": "echo360-emulator-secret"}
    default_rate_limit = DEFAULT_RATE_LIMIT  # calls per minute per token

    def __init__(self, emulator):
        super().__init__(emulator)
        self.scheduler = Scheduler("echo360")
        self._writing: dict[str, Future] = {}  # asset name -> this process's work on its file
        self._writing_lock = threading.Lock()
        self.clock.subscribe(self._on_clock)
        self._sweep_files()

    # --- settings from the active scenario ---------------------------------------------------------

    def knob(self, name: str, default: Any) -> Any:
        return self.emulator.knobs("echo360").get(name, default)

    def _number_knob(self, name: str, default: float, minimum: float = 0) -> float:
        value = self.knob(name, default)
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= minimum else default

    def _next_outcome(self) -> str:
        """The scenario's `outcomes`, in order across every process, then Available."""
        outcomes = self.knob("outcomes", None) or []
        if not outcomes:
            return "Available"
        serial = self.emulator.snapshot().scenario_serial
        # Under the scenario's own prefix: its counters are removed when another scenario replaces it.
        used = self.store.incr(f"scenario:{serial}:echo360:outcomes") - 1
        outcome = outcomes[used] if used < len(outcomes) else "Available"
        return outcome if outcome in OUTCOMES else "Available"

    def _draw_id(self, what: str) -> str:
        return data.make_uuid(self.draw_rng(what))

    # --- the world ---------------------------------------------------------------------------------

    def sizes(self) -> dict[str, int]:
        """World sizes: the defaults times --scale, or the scenario's `world: {echo360: {...}}` counts."""
        return data.world_sizes(self.world.overrides.get("echo360") or {}, self.world.scale)

    def echo_world(self) -> data.EchoWorld:
        world = self.world
        return world.cached(("echo360", "world"), lambda: data.EchoWorld(world, self.sizes()))

    def world_summary(self) -> dict[str, Any]:
        """The reports, every course, and every media captured before now, newest first: listings made
        by index on demand, so a page costs its own items whatever the scale (their totals are arithmetic)."""
        w = self.echo_world()
        n, today = w.media_before(data.epoch(self.clock.now()))
        newest = today[::-1]

        def media(j: int) -> dict[str, Any]:
            m = w.media(newest[j] if j < len(newest) else n - 1 - (j - len(newest)))
            return {"id": m.id, "name": m.name, "kind": m.kind, "created": data.format_ts(m.created), "live": m.live}

        def course(i: int) -> dict[str, Any]:
            c = w.course(i)
            return {"id": c.id, "name": c.name, "identifier": c.identifier}

        return {
            "reports": list(REPORTS),
            "courses": Listing(w.sizes["courses"], course),
            "media": Listing(n + len(newest), media),
        }

    # --- tokens ------------------------------------------------------------------------------------

    def issue_token(self, grant_type: str, client_id: str, client_secret: str | None,
                    refresh_token: str | None) -> dict[str, Any]:
        creds = self.credentials()
        if not same_secret(client_id, creds["client_id"]):
            raise Unauthorized("invalid client: unknown client_id")
        if grant_type == "client_credentials":
            if client_secret is None or not same_secret(client_secret, creds["client_secret"]):
                raise Unauthorized("invalid client: wrong or missing client_secret")
        elif grant_type == "refresh_token":
            if client_secret is not None and not same_secret(client_secret, creds["client_secret"]):
                raise Unauthorized("invalid client: wrong client_secret")
            # Taken from the store in one atomic step: a refresh token works once, across every process.
            held = self.store.map_take(REFRESH_TOKENS, refresh_token) if refresh_token else None
            if held is None or held["client_id"] != client_id:
                raise Unauthorized("invalid grant: the refresh_token is unknown or has already been used")
        else:
            raise Unauthorized(f"unsupported grant_type {grant_type!r}: use client_credentials or refresh_token")
        now = self.clock.now()
        access = self._draw_token("access")
        refresh = self._draw_token("refresh")
        self.store.map_put(TOKENS, access, {"client_id": client_id,
                                            "expires": (now + timedelta(seconds=TOKEN_SECONDS)).timestamp()})
        self.store.map_put(REFRESH_TOKENS, refresh, {"client_id": client_id, "issued": now.timestamp()})
        self._forget_old_tokens(now)
        return {"access_token": access, "token_type": "Bearer", "expires_in": TOKEN_SECONDS, "refresh_token": refresh}

    def _draw_token(self, what: str) -> str:
        return f"{self.draw_rng('token', what).getrandbits(192):048x}"

    def _forget_old_tokens(self, now: datetime) -> None:
        """Keep the store bounded: drop access tokens a day past expiry or beyond MAX_ACCESS_TOKENS (the
        soonest to expire first), with their rate-limit windows, and the oldest unused refresh tokens."""
        tokens = self.store.map_all(TOKENS)
        if len(tokens) > 100:
            cutoff = now.timestamp() - 86400
            by_expiry = sorted(tokens, key=lambda t: tokens[t]["expires"])
            expired = sum(1 for t in by_expiry if tokens[t]["expires"] < cutoff)
            dropped = by_expiry[: max(expired, len(by_expiry) - MAX_ACCESS_TOKENS)]
            self.store.map_delete(TOKENS, dropped)
            for token in dropped:  # its rate-limit window goes with it
                self.store.delete(f"{self.rate_limiter.prefix}{token}")
        refresh = self.store.map_all(REFRESH_TOKENS)
        if len(refresh) > MAX_REFRESH_TOKENS:
            oldest = sorted(refresh, key=lambda t: refresh[t]["issued"])[: len(refresh) - MAX_REFRESH_TOKENS]
            self.store.map_delete(REFRESH_TOKENS, oldest)

    def authenticate(self, token: str | None) -> str:
        """The API client a bearer token belongs to; also counts the call against the rate limit."""
        if not token:
            raise Unauthorized("missing access token: send Authorization: Bearer <token> or ?access_token=<token>")
        found = self.store.map_get(TOKENS, token)
        if found is None:
            raise Unauthorized("invalid access token")
        if self.clock.now().timestamp() >= found["expires"]:
            raise Unauthorized("access token expired: request a new one (tokens last 3600 seconds)")
        verdict = self.hit(token)
        if not verdict.allowed:
            raise TooManyRequests(f"rate limit exceeded: {verdict.limit} calls per minute per token; retry after "
                                  f"{verdict.retry_after} seconds", verdict.retry_after)
        return found["client_id"]

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
        start, end = self._window(spec, parameters, now)
        limit = int(self._number_knob("max_in_flight", IN_FLIGHT_LIMIT, 1))
        processing = self._number_knob("processing_seconds", DEFAULT_PROCESSING_SECONDS)
        request_id = self._draw_id("request")
        created = now.timestamp()

        def admit(index: list | None):
            """One atomic step across processes: count this client's Pending requests, then take a slot."""
            index = list(index or [])
            if sum(1 for _, made, until in index if made <= created < until) >= limit:
                raise BadRequest(f"in-flight limit reached: at most {limit} report requests may be Pending at once "
                                 f"per API client; wait until a previously submitted report finishes")
            index.append([request_id, created, created + processing])
            kept_after = created - RETENTION_SECONDS - LISTED_AFTER_EXPIRY_SECONDS
            dropped = [entry for entry in index if entry[1] <= kept_after]
            kept = [entry for entry in index if entry[1] > kept_after]
            if len(kept) > MAX_REQUESTS_PER_CLIENT:
                dropped += kept[: len(kept) - MAX_REQUESTS_PER_CLIENT]
                kept = kept[len(kept) - MAX_REQUESTS_PER_CLIENT:]
            return kept, [entry[0] for entry in dropped]

        dropped = self.store.update(index_key(client_id), admit)
        record = {"id": request_id, "client_id": client_id, "report_name": report_name, "parameters": dict(parameters),
                  "start": start.timestamp() if start else None, "end": end.timestamp() if end else None,
                  "compression": compression, "delimiter": delimiter, "created": created,
                  "asset_id": self._draw_id("asset"), "outcome": self._next_outcome(), "processing_seconds": processing,
                  "seq": self.store.incr("echo360:submitted")}  # order of submission, for ties on `created`
        request = ReportRequest(record)
        self.store.map_put(requests_key(client_id), request.id, record)
        self.store.map_put(CLIENTS, client_id, 1)
        if request.settings["outcome"] == "Available":
            self.store.map_put(ASSETS, request.asset_name, [client_id, request.id])
            self._start_writing(request)
        self._drop(client_id, dropped)
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

    def _requests(self, client_id: str) -> list[ReportRequest]:
        """A client's requests, newest first, without those past their listing time, nor those created
        after this call's now (a clock move raced it: they belong to its future, and would all read Pending)."""
        now = self.clock.now()
        found = [ReportRequest(r) for r in self.store.map_all(requests_key(client_id)).values()]
        return sorted((r for r in found if r.created <= now < r.dropped_at),
                      key=lambda r: (r.created, r.record.get("seq", 0)), reverse=True)

    def list_requests(self, client_id: str) -> list[dict[str, Any]]:
        now = self.clock.now()
        self._forget_dropped(client_id, now)
        described = []
        for r in self._requests(client_id):
            status = r.status(now)
            described.append(self._describe(r, status, assets=[r.asset_name] if status == "Available" else None))
        return described

    def get_request(self, client_id: str, request_id: str, base_url: str) -> dict[str, Any]:
        now = self.clock.now()
        record = self.store.map_get(requests_key(client_id), request_id)
        request = ReportRequest(record) if record is not None else None
        if request is None or request.dropped_at <= now:
            raise NotFound(f"unknown report request {request_id!r}")
        status = request.status(now)
        links = [self._sign(request, base_url, now)] if status == "Available" else None
        return self._describe(request, status, signed_assets=links)

    def _describe(self, request: ReportRequest, status: str, **extra: Any) -> dict[str, Any]:
        return {"request_id": request.id, "status": status, **extra, "report_name": request.report_name,
                "parameters": request.parameters, "created": format_created(request.created)}

    def overview(self, base_url: str) -> list[dict[str, Any]]:
        """Every client's requests with their lifecycle against the clock (the dashboard), newest first."""
        now = self.clock.now()
        rows = []
        mine = [r for client_id in self.store.map_all(CLIENTS) for r in self._requests(client_id)]
        for r in sorted(mine, key=lambda r: (r.created, r.record.get("seq", 0)), reverse=True):
            status = r.status(now)
            steps = r.timeline()
            file_expires = r.created + timedelta(seconds=RETENTION_SECONDS)
            available = status == "Available"
            rows.append({
                "request_id": r.id, "client_id": r.client_id, "report_name": r.report_name,
                "parameters": r.parameters, "status": status, "created": format_created(r.created),
                "available_at": format_created(steps[1][1]) if len(steps) > 1 else None,
                "outcome": r.settings["outcome"],
                "link_expires": format_created(min(now + timedelta(seconds=LINK_SECONDS), file_expires)) if available else None,
                # A Failed or Missing request has no file, so nothing expires: it stays so.
                "file_expires": format_created(file_expires) if r.settings["outcome"] == "Available" else None,
                "download_url": self._sign(r, base_url, now) if available else None,
            })
        return rows

    def _forget_dropped(self, client_id: str, now: datetime) -> None:
        """Drop a client's requests past their listing time (and their files), if it has any."""
        kept_after = now.timestamp() - RETENTION_SECONDS - LISTED_AFTER_EXPIRY_SECONDS
        if not any(made <= kept_after for _, made, _ in self.store.get(index_key(client_id)) or []):
            return

        def prune(index: list | None):
            index = list(index or [])
            return [e for e in index if e[1] > kept_after], [e[0] for e in index if e[1] <= kept_after]

        self._drop(client_id, self.store.update(index_key(client_id), prune))

    def _drop(self, client_id: str, request_ids: list[str]) -> None:
        """Forget requests past their listing time or beyond the per-client cap, and their files."""
        if not request_ids:
            return
        key = requests_key(client_id)
        for request_id in request_ids:
            record = self.store.map_get(key, request_id)
            if record is not None:
                name = ReportRequest(record).asset_name
                self.store.map_delete(ASSETS, [name])
                _remove(os.path.join(self.store.files_dir, name))
        self.store.map_delete(key, request_ids)

    # --- report files ------------------------------------------------------------------------------

    def _start_writing(self, request: ReportRequest) -> Future:
        """Write the request's file in the background (this process), once."""
        with self._writing_lock:
            future = self._writing.get(request.asset_name)
            if future is None:
                future = self._writing[request.asset_name] = self.scheduler.submit(self._write, request)
                future.add_done_callback(lambda _f, name=request.asset_name: self._writing.pop(name, None))
            return future

    def _write(self, request: ReportRequest) -> str:
        """Write the report's file, the same bytes whichever process writes it; returns its path.

        FileNotFoundError when the store no longer has the asset (a reset, a drop), before or after
        writing: then no file of it is left behind."""
        path = os.path.join(self.store.files_dir, request.asset_name)
        if os.path.exists(path):
            return path
        if self.store.map_get(ASSETS, request.asset_name) is None:  # reset or dropped: nobody may download it
            raise FileNotFoundError(path)
        spec = REPORTS[request.report_name]
        w = self.echo_world()
        cutoff = request.created
        if spec.dated:
            lo, hi = data.to_epoch_window(request.start, request.end, self.world.history_start, cutoff)
        else:
            lo, hi = data.epoch(self.world.history_start), data.epoch(cutoff)
        if spec.events is None:
            batches = w.asset_batches(lo, hi, data.epoch(cutoff), all_videos=not spec.dated)
        else:
            batches = data.event_batches(w, spec.events, spec.spill_days, lo, hi)
        try:
            write_csv_file(path, spec.columns, batches, delimiter=request.delimiter, compress=request.compression,
                           level=data.GZIP_LEVEL)
        except OSError as exc:  # a full or failing disk: an outage of the store's folder (503), never its path in an answer
            raise self.store.outage.failed(False, f"report file: {exc.strerror or exc}") from None
        if self.store.map_get(ASSETS, request.asset_name) is None:  # reset or dropped while it was written
            _remove(path)
            raise FileNotFoundError(path)
        _bound_files(os.path.dirname(path), keep=path)
        return path

    def _file(self, request: ReportRequest) -> str:
        """The request's file: written by this process's background work, or now."""
        with self._writing_lock:
            future = self._writing.get(request.asset_name)
        if future is not None:
            try:
                return future.result()
            except Exception:  # cancelled by a reset, or failed: write it here
                pass
        return self._write(request)

    def _on_clock(self, now: datetime) -> None:
        """After a move through this process: drop what the move took past its listing time, and wait
        for the files it made due, so Available downloads at once."""
        for client_id in self.store.map_all(CLIENTS):
            self._forget_dropped(client_id, now)
        with self._writing_lock:
            futures = list(self._writing.values())
        for future in futures:
            try:
                future.result(timeout=GENERATION_WAIT_SECONDS)
            except Exception:  # a failed write is retried by the download that needs it
                pass

    def _sweep_files(self) -> None:
        """At start: remove part files and files of requests the store no longer has (after a crash).

        Only a folder that outlives its process can hold such files; a temporary one is new (and
        making it here would put its work on every start-up path, the fixture's included).
        """
        if not self.store.files_persist:
            return
        folder = self.store.files_dir
        names = os.listdir(folder)  # before the store is read: a request is in it before its file is begun
        known = set(self.store.map_all(ASSETS))
        for name in names:
            if name.startswith("."):
                continue
            if name.endswith(".part") or name not in known:
                _remove_unless_written(os.path.join(folder, name))

    # --- signed assets -----------------------------------------------------------------------------

    def _signature(self, path: str, expires: int) -> str:
        """HMAC of the link with the store's random secret: nobody can derive it from the documented defaults."""
        key = hashlib.sha256(f"echo360-assets:{self.emulator.secret}".encode()).digest()
        digest = hmac.new(key, f"GET\n{path}\n{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def _sign(self, request: ReportRequest, base_url: str, now: datetime) -> str:
        expires = int(min(now + timedelta(seconds=LINK_SECONDS),
                          request.created + timedelta(seconds=RETENTION_SECONDS)).timestamp())
        path = ASSET_PREFIX + request.asset_name
        return (f"{base_url.rstrip('/')}{path}?AWSAccessKeyId={ACCESS_KEY_ID}&Expires={expires}"
                f"&Signature={self._signature(path, expires)}")

    def open_asset(self, name: str, expires: str | None, signature: str | None,
                   access_key_id: str | None = ACCESS_KEY_ID) -> tuple[BinaryIO, str]:
        """The file behind a signed link and its media type, or AccessDenied as S3 would answer."""
        now = self.clock.now()
        if not expires or not signature or not access_key_id:
            raise AccessDenied("Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters")
        if not same_secret(access_key_id, ACCESS_KEY_ID):
            raise AccessDenied("The AWS Access Key Id you provided does not exist in our records.",
                               {"AWSAccessKeyId": access_key_id}, code="InvalidAccessKeyId")
        path = ASSET_PREFIX + name
        try:
            expires_at = int(expires)
        except ValueError:
            raise AccessDenied("Invalid date (should be seconds since epoch)", {"Expires": expires}) from None
        if not same_secret(self._signature(path, expires_at), signature):
            raise AccessDenied("Access Denied: the signature does not match this link")
        if int(now.timestamp()) > expires_at:
            raise AccessDenied("Request has expired", {"Expires": format_created(_at(expires_at)),
                                                       "ServerTime": format_created(now)})
        owner = self.store.map_get(ASSETS, name)
        record = self.store.map_get(requests_key(owner[0]), owner[1]) if owner else None
        if record is None or ReportRequest(record).status(now) != "Available":
            raise AccessDenied("Access Denied")
        request = ReportRequest(record)
        # Flask adds "; charset=utf-8" to text types itself.
        return self._open(request), "application/gzip" if request.compression else "text/csv"

    def _open(self, request: ReportRequest) -> BinaryIO:
        """The request's file, open: once open, a reset that removes it still lets this download finish.

        A file removed before it could be opened (a reset or the request's drop, here or in another
        process that shares the folder) is the vendor's AccessDenied when the store no longer has the
        asset, and written again when it does.
        """
        tries = 0
        while True:
            try:
                return open(self._file(request), "rb")
            except OSError:
                tries += 1
                if self.store.map_get(ASSETS, request.asset_name) is None:
                    raise AccessDenied("Access Denied") from None
                if tries == 3:
                    raise

    # --- reset -------------------------------------------------------------------------------------

    def reset(self) -> None:
        """The store's keys are wiped for us: drop queued work and remove the files (every id after a reset is new)."""
        self.scheduler.clear()
        with self._writing_lock:
            for future in list(self._writing.values()):
                future.cancel()  # queued work that will never start: nobody may wait on it
            self._writing.clear()
        folder = self.store.files_dir
        for name in os.listdir(folder):
            if not name.startswith("."):  # the store's own bookkeeping (a memory folder's owner lock)
                _remove_unless_written(os.path.join(folder, name))

    def close(self) -> None:
        self.scheduler.shutdown()


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


def _remove_unless_written(path: str) -> None:
    """Remove a file, but not a part file that a live process (this one or another) is writing."""
    if path.endswith(".part") and being_written(path):
        return
    _remove(path)


def _bound_files(folder: str, keep: str) -> None:
    """Remove the least recently written finished files while the folder holds over FILES_MAX_BYTES."""
    found = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if not entry.name.startswith(".") and not entry.name.endswith(".part") and entry.path != keep:
                    try:
                        stat = entry.stat()
                    except OSError:
                        continue
                    found.append((stat.st_mtime, stat.st_size, entry.path))
        total = sum(size for _, size, _ in found) + os.path.getsize(keep)
    except OSError:
        return
    for _, size, path in sorted(found):
        if total <= FILES_MAX_BYTES:
            break
        _remove(path)
        total -= size
