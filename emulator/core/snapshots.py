"""Snapshots: a tenant's whole state as one JSON document, and making a tenant exactly that state.

The document is the tenant's store namespace as it is (core/store: values, maps, logs), with a
header that says what wrote it:

    {"format": "report-emulator-snapshot", "format_version": 1, "emulator_version": "0.1.0",
     "store_schema": 1, "taken_at": "<wall time>", "tenant": "team-a", "now": "<emulator time>",
     "journal": false, "state": {"values": {...}, "maps": {...}, "logs": {...}}}

So it holds the clock, the world's identity (the world itself is rebuilt from it), the scenario and
its rule counters, rate-limit windows, each vendor's state (tokens, report requests) and the store's
instance id and link-signing secret (links and tokens issued before work after a restore, on any
store), and, when asked (`?journal=1`), the journal and the contract violations. Report files are not
in it: they are regenerated from the world, byte for byte, when first downloaded.

A restore is checked whole before anything changes; then it is one atomic store step, the one a
reset takes (`new_generation`): the reset generation moves on with the snapshot's state in it, so a
call running meanwhile sees the old state or the restored one, never half of it, a write of the old
world fails (the call is answered again), ids drawn afterwards never repeat ones drawn since the
snapshot, and every process re-reads the state.
"""
from __future__ import annotations

import gzip
import json
import zlib
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..settings import format_instant
from .clock import wall_now
from .store import SCHEMA_VERSION

if TYPE_CHECKING:
    from .registry import Emulator

FORMAT = "report-emulator-snapshot"
FORMAT_VERSION = 1  # bumped when the document's layout changes; older ones are read, newer ones refused
MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024  # a snapshot's JSON at most, once decompressed (the request body: 10 MiB)
CALL_LOGS = ("journal", "violations")  # the record of calls: in a snapshot only with ?journal=1
KEEP = ("meta:version", "meta:generation", "meta:schema")  # the store's bookkeeping: never taken or restored
REQUIRED_VALUES = ("start", "clock", "world")


class SnapshotError(ValueError):
    """A snapshot refused whole: a message naming the problem, and {field path: [messages]}."""

    def __init__(self, message: str, field: str = "_body"):
        super().__init__(message)
        self.message = message
        self.errors = {field: [message]}


def take(emulator: "Emulator", journal: bool = False) -> dict:
    """The tenant's state as a snapshot document."""
    state = emulator.store.export()
    state["values"] = {k: v for k, v in state["values"].items() if k not in KEEP}
    if not journal:
        state["logs"] = {k: v for k, v in state["logs"].items() if k not in CALL_LOGS}
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "emulator_version": __version__,
            "store_schema": SCHEMA_VERSION,
            "taken_at": wall_now().isoformat(timespec="seconds").replace("+00:00", "Z"),
            "tenant": emulator.tenant, "now": format_instant(emulator.clock.now()), "journal": journal,
            "state": state}


def read(body: bytes) -> dict:
    """A snapshot document from bytes (gzip or not), checked whole; SnapshotError names the problem."""
    if body[:2] == b"\x1f\x8b":
        body = _gunzip(body)
    if len(body) > MAX_SNAPSHOT_BYTES:
        raise SnapshotError(f"the snapshot is larger than {MAX_SNAPSHOT_BYTES // (1024 * 1024)} MiB of JSON")
    if not body.strip():
        raise SnapshotError("the request body is empty: send a snapshot (GET /_emulator/snapshot)")
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        cut = isinstance(exc, json.JSONDecodeError) and (exc.msg.startswith("Unterminated")
                                                          or exc.pos >= len(body.rstrip()) - 1)
        hint = " (it ends early: truncated?)" if cut else ""
        raise SnapshotError(f"the snapshot is not valid JSON{hint}: {exc}") from None
    return check(document)


def _gunzip(body: bytes) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, MAX_SNAPSHOT_BYTES + 1)
    except zlib.error as exc:
        raise SnapshotError(f"the snapshot is not valid gzip: {exc}") from None
    if len(out) > MAX_SNAPSHOT_BYTES:
        raise SnapshotError(f"the snapshot is larger than {MAX_SNAPSHOT_BYTES // (1024 * 1024)} MiB of JSON")
    if not inflater.eof:
        raise SnapshotError("the gzip snapshot is truncated (its stream ends early)")
    return out


def check(document: Any) -> dict:
    """The document if it is a snapshot this emulator can restore; else SnapshotError saying what to do."""
    if not isinstance(document, dict):
        raise SnapshotError("a snapshot is a JSON object (as GET /_emulator/snapshot answers)")
    if document.get("format") != FORMAT:
        raise SnapshotError(f"not a report-emulator snapshot (its \"format\" is {str(document.get('format'))[:80]!r}, "
                            f"not {FORMAT!r}): take one with GET /_emulator/snapshot", "format")
    version = document.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SnapshotError(f"format_version must be a whole number from 1, not {str(version)[:40]!r}", "format_version")
    if version > FORMAT_VERSION:
        raise SnapshotError(f"the snapshot was written by a newer report-emulator ({str(document.get('emulator_version'))[:40]}, "
                            f"snapshot format {version}); this one ({__version__}) reads format {FORMAT_VERSION} and "
                            f"older: upgrade report-emulator to restore it", "format_version")
    schema = document.get("store_schema", 1)
    if not isinstance(schema, int) or schema > SCHEMA_VERSION:
        raise SnapshotError(f"the snapshot's store schema {str(schema)[:40]} is newer than this report-emulator's "
                            f"({SCHEMA_VERSION}): upgrade report-emulator to restore it", "store_schema")
    state = document.get("state")
    if not isinstance(state, dict):
        raise SnapshotError("the snapshot has no \"state\" object", "state")
    for part in ("values", "maps", "logs"):
        if not isinstance(state.get(part), dict):
            raise SnapshotError(f"state.{part} must be an object", f"state.{part}")
    for name, fields in state["maps"].items():
        if not isinstance(fields, dict):
            raise SnapshotError(f"state.maps.{name[:80]} must be an object", f"state.maps.{name[:80]}")
    for name, items in state["logs"].items():
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise SnapshotError(f"state.logs.{name[:80]} must be a list of objects", f"state.logs.{name[:80]}")
    missing = [key for key in REQUIRED_VALUES if not isinstance(state["values"].get(key), dict)]
    if missing:
        raise SnapshotError(f"the snapshot's state lacks {', '.join(missing)} (it is incomplete)",
                            f"state.values.{missing[0]}")
    _check_state(state["values"])
    return document


def _check_state(values: dict) -> None:
    """The values the registry reads before anything else: they must be what it wrote."""
    from ..settings import parse_instant

    try:
        start, clock, world = values["start"], values["clock"], values["world"]
        parse_instant(start["now"]), int(start["seed"]), int(start["scale"])
        if clock["mode"] not in ("manual", "real"):
            raise ValueError(f"clock mode {clock['mode']!r}")
        parse_instant(clock["manual"]), float(clock["offset"]), parse_instant(clock["start"])
        parse_instant(world["anchor"]), int(world["seed"]), int(world["scale"])
        if not isinstance(world.get("overrides", {}), dict):
            raise ValueError("world overrides")
        scenario = values.get("scenario")
        if scenario is not None and not (isinstance(scenario, dict) and isinstance(scenario.get("data"), dict)):
            raise ValueError("scenario")
        for key in ("meta:instance", "meta:secret"):
            if key in values and not isinstance(values[key], str):
                raise ValueError(key)
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise SnapshotError(f"the snapshot's clock, world or scenario is malformed ({type(exc).__name__}: {exc})",
                            "state.values") from None
    from .scenarios import ScenarioError, check_world_size, validate_scenario

    if scenario is not None:
        try:
            validate_scenario(scenario["data"], "the snapshot's scenario")
        except ScenarioError as exc:
            raise SnapshotError(exc.message, "state.values.scenario") from None
    # The world as a scenario's `world` section: the same field checks and size bounds as a scenario's
    # (a hand-edited world the vendors cannot make would fail on first use, not here).
    section = {"world": {**world.get("overrides", {}), "scale": int(world["scale"])}}
    try:
        check_world_size(validate_scenario(section, "the snapshot's world"), int(start["scale"]))
    except ScenarioError as exc:
        raise SnapshotError(exc.message, "state.values.world") from None


def restore(emulator: "Emulator", document: dict) -> None:
    """Make the tenant exactly the snapshot's state (the document already passed `check`), in one
    atomic step: a new reset generation that holds the snapshot's state (Emulator.restore)."""
    state = document["state"]
    logs = dict(state["logs"])
    if not document.get("journal"):
        logs = {k: v for k, v in logs.items() if k not in CALL_LOGS}  # none taken: the record starts empty
    emulator.restore({"values": {k: v for k, v in state["values"].items() if k not in KEEP},
                      "maps": state["maps"], "logs": logs})


def read_file(path: str) -> dict:
    """A snapshot file (`serve --snapshot FILE`), checked whole; SnapshotError names the file and the problem."""
    try:
        with open(path, "rb") as fh:
            body = fh.read(MAX_SNAPSHOT_BYTES + 1)
    except OSError as exc:
        raise SnapshotError(f"--snapshot {path}: {exc.strerror or exc}") from None
    try:
        return read(body)
    except SnapshotError as exc:
        raise SnapshotError(f"--snapshot {path}: {exc.message}") from None


def encode(document: dict, compress: bool) -> bytes:
    text = json.dumps(document, separators=(",", ":")).encode()
    return gzip.compress(text, 6) if compress else text
