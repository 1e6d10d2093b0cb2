"""The one registry of mutable state, and the one reset that clears it.

Everything mutable lives in the store (core/store/). This object holds what a process derives from
it: a snapshot of the rarely-changing state (the clock's position, the world, the active scenario),
re-read only when the store's version number moves. Every request starts by checking that number
(one cheap read) and pins its snapshot, so a vendor call sees one consistent world from start to end
even when a reset or a scenario swaps the world meanwhile.

Every replica adopts what the store holds: the snapshot, the store's identity (instance id, link
secret) and the start state are re-read together whenever `meta:version` differs from the one this
process read last. The version is a random token written after every change, so a store restored
from an older copy, or flushed, never matches a replica's memory by chance. A store that lost its
state (restarted empty, flushed) is set up again once, the same for every replica: each piece is
written only if absent (SET NX), from the start state the store holds or, failing that, this
process's own.

Store keys (namespaced by the store): `start` (the start-up seed, time, clock mode and scale: what a
reset returns to), `clock`, `world` (the world's identity; the world itself is rebuilt from it),
`scenario` (its serial number and validated data), `meta:version`, `meta:generation` (moved on by
every reset, in the same atomic step; a request's writes carry the generation it started in),
`meta:instance` and `meta:secret` (random per store), rule counters, rate-limit windows, the journal
and violations logs, and each vendor's keys, which start with its name (`echo360:requests:...`).
"""
from __future__ import annotations

import contextvars
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from ..settings import Settings, format_instant, parse_instant
from .clock import Clock, clock_state, wall_now
from .journal import Journal, RequestLog
from .scenarios import ActiveScenario, check_world_size
from .scenarios import load as load_scenario_source
from .store import Store, new_version, open_store
from .vendor import Vendor, VendorModel
from .world import World

VIOLATIONS_MAX_BYTES = 4 * 1024 * 1024  # recorded contract violations kept, in bytes of JSON
# Read together whenever meta:version moved: the snapshot, and what every replica must agree on.
SNAPSHOT_KEYS = ["meta:version", "meta:generation", "clock", "world", "scenario", "meta:instance", "meta:secret", "start"]

log = logging.getLogger("report_emulator.store")

# The request's pinned snapshot, with the Emulator (the tenant) it belongs to.
_pinned: contextvars.ContextVar["tuple[Emulator, Snapshot] | None"] = contextvars.ContextVar("emulator_snapshot", default=None)


def unpin() -> None:
    """Forget this context's pinned snapshot and generation, whichever tenant pinned them (the app's
    teardown step; a thread serves one tenant's call, then another's)."""
    pinned = _pinned.get()
    if pinned is not None:
        pinned[0].store.pin_generation(None)
        _pinned.set(None)


class Worlds:
    """Worlds by identity, built once per process and shared by every tenant with the same identity
    (a world is derived and read-only: tenants on the start-up settings share one, caches included)."""

    KEEP = 8  # worlds kept; a scenario flip and back, and a few tenants with their own seeds, cost nothing

    def __init__(self):
        self._lock = threading.Lock()
        self._worlds: dict[tuple, World] = {}

    def get(self, identity: dict) -> World:
        key = (identity["seed"], identity["anchor"], identity["scale"], repr(identity.get("overrides") or {}))
        world = self._worlds.get(key)
        if world is None:
            with self._lock:
                world = self._worlds.get(key)
                if world is None:
                    world = World(identity["seed"], parse_instant(identity["anchor"]), identity["scale"],
                                  dict(identity.get("overrides") or {}))
                    if len(self._worlds) >= self.KEEP:
                        self._worlds.pop(next(iter(self._worlds)))
                    self._worlds[key] = world
        return world


@dataclass(frozen=True)
class Snapshot:
    """What one request reads of the rarely-changing state: all of it from one version."""

    version: str | None  # the store's meta:version token when this was read
    generation: int
    clock: dict
    world: World
    base_seed: int  # the seed the world returns to when a scenario that set another one is cleared
    scenario: dict | None
    scenario_serial: int  # changes with every scenario loaded or cleared (its rule counters' namespace)
    active: ActiveScenario | None


class Emulator:
    def __init__(self, settings: Settings, store: Store | None = None, worlds: Worlds | None = None,
                 tenant: str = "default"):
        self.settings = settings
        self.store = store or open_store(getattr(settings, "state", "memory"))
        identity = self.store.identity()
        self.instance: str = identity["instance"]  # re-read with the state (a snapshot may bring others)
        self.secret: str = identity["secret"]
        self.vendors: dict[str, VendorModel] = {}
        self.vendor_specs: dict[str, Vendor] = {}
        self._lock = threading.RLock()
        self._worlds = worlds or Worlds()
        self.tenant = tenant
        self._snapshot: Snapshot | None = None
        self.clock = Clock(self)
        self.journal = Journal(self.store, settings.journal_cap)
        self.violations = RequestLog(self.store, "violations", settings.journal_cap, VIOLATIONS_MAX_BYTES)
        start = self.store.get("start")
        # Start-up flags set up an empty store; a store that holds state is resumed as it is.
        self.resumed = start is not None
        if not self.resumed:
            now = (settings.now or wall_now().replace(microsecond=0)).astimezone(timezone.utc)
            start = {"seed": settings.seed, "now": format_instant(now), "mode": settings.clock,
                     "follow_wall": settings.clock == "real" and settings.now is None, "scale": settings.scale}
            start = self.store.put_if_absent("start", start)
        self._start = start
        if not self.resumed:
            self._write_start(start, start["seed"], parse_instant(start["now"]))
            if settings.scenarios:
                self.load_scenario(settings.scenarios)

    # --- the snapshot ------------------------------------------------------------------------------

    def sync(self) -> Snapshot:
        """Re-read the state if another process (or thread) changed it, and pin it for this request:
        its writes then carry the snapshot's generation, and fail (StaleGeneration) once a reset has
        replaced it."""
        unpin()  # a call answered again after a reset: setting up a flushed store must not carry its old pin
        snapshot = self._current()
        self._pin(snapshot)
        return snapshot

    def _pin(self, snapshot: Snapshot) -> None:
        _pinned.set((self, snapshot))
        self.store.pin_generation(snapshot.generation)

    def _pinned_here(self) -> bool:
        pinned = _pinned.get()
        return pinned is not None and pinned[0] is self

    def snapshot(self) -> Snapshot:
        """The request's pinned snapshot; outside a request (or for another tenant), the current one."""
        return _pinned.get()[1] if self._pinned_here() else self._current()

    def _current(self) -> Snapshot:
        snapshot = self._snapshot
        if snapshot is None or snapshot.version != self.store.get("meta:version"):
            snapshot = self._load()
        return snapshot

    def _load(self) -> Snapshot:
        values = self.store.get_many(SNAPSHOT_KEYS)
        version, generation, clock, world, scenario, instance, secret, start = values
        if None in (version, instance, secret, start):
            self._initialise(lost=instance is None or secret is None)
            version, generation, clock, world, scenario, instance, secret, start = self.store.get_many(SNAPSHOT_KEYS)
        # Adopt the store's identity and start state, whichever replica made them.
        self.instance, self.secret = instance or self.instance, secret or self.secret
        self._start = start or self._start
        if clock is None or world is None:  # a reset in another process is half-way: use the start state
            start = self._start
            anchor = parse_instant(start["now"])
            clock = clock or clock_state(start["mode"], anchor, start["follow_wall"])
            world = world or {"seed": start["seed"], "anchor": start["now"], "scale": start["scale"], "overrides": {},
                              "base_seed": start["seed"]}
        clock = {**clock, "_manual": datetime.fromisoformat(clock["manual"])}
        data = (scenario or {}).get("data")
        built = self._world(world)
        active = ActiveScenario(data, built.seed, self.store, scenario["serial"]) if data else None
        snapshot = Snapshot(version, generation or 0, clock, built, world.get("base_seed", built.seed), data,
                            (scenario or {}).get("serial", 0), active)
        self._snapshot = snapshot  # a stale one stored by a slower thread is replaced at the next request
        return snapshot

    def _initialise(self, lost: bool) -> None:
        """Set up a store that lost its state (restarted empty, flushed), once and the same for every
        replica: each key is written only if absent, from the start state the store holds (or this
        process's own), and the version last, so a replica that sees it sees the rest."""
        if lost:
            log.warning("report-emulator: the state store %s lost its state (restarted empty or flushed); "
                        "setting it up again from the start state, once for every replica", self.store.describe())
        self.store.identity()
        start = self.store.put_if_absent("start", self._start)
        anchor = parse_instant(start["now"])
        self.store.put_if_absent("clock", clock_state(start["mode"], anchor, start["follow_wall"]))
        self.store.put_if_absent("world", {"seed": start["seed"], "anchor": start["now"], "scale": start["scale"],
                                           "overrides": {}, "base_seed": start["seed"]})
        self.store.put_if_absent("meta:version", new_version())

    def _world(self, identity: dict) -> World:
        """The world for a stored identity, built once per process and kept while it is in use."""
        return self._worlds.get(identity)

    def _changed(self) -> None:
        """After a write to the clock, world or scenario: tell every process, and re-read here."""
        self.store.put("meta:version", new_version())
        snapshot = self._load()
        # Pinned again only within its generation: after a reset meanwhile, this call's writes must fail.
        if self._pinned_here() and snapshot.generation == self.store.pinned_generation:
            self._pin(snapshot)

    # --- what the rest of the emulator reads ----------------------------------------------------------

    @property
    def world(self) -> World:
        return self.snapshot().world

    @property
    def scenario(self) -> dict | None:
        return self.snapshot().scenario

    @property
    def active(self) -> ActiveScenario | None:
        return self.snapshot().active

    @property
    def generation(self) -> int:
        return self.snapshot().generation

    @property
    def start_seed(self) -> int:
        return self._start["seed"]

    @property
    def start_time(self) -> datetime:
        return parse_instant(self._start["now"])

    def add_vendor(self, vendor: Vendor) -> VendorModel:
        model = vendor.model(self)
        self.vendors[vendor.name] = model
        self.vendor_specs[vendor.name] = vendor
        return model

    def knobs(self, vendor: str) -> dict[str, Any]:
        """The active scenario's section for a vendor (e.g. echo360's processing_seconds), or {}."""
        return dict((self.scenario or {}).get(vendor) or {})

    @property
    def strict(self) -> bool:
        """Refuse requests that break their vendor's contract (--strict, or `strict: true` in a scenario)."""
        return bool(self.settings.strict or (self.scenario or {}).get("strict"))

    def credential_overrides(self) -> dict[str, dict[str, str]]:
        """Credentials set by the active scenario (`credentials: {strigo: {api_key: ...}}`), if any."""
        return dict((self.scenario or {}).get("credentials") or {})

    def describe_state(self) -> str:
        """For the banner: which store, and whether it resumed existing state."""
        if self.resumed:
            return f"{self.store.describe()} (resumed existing state: clock at {format_instant(self.clock.now())})"
        return f"{self.store.describe()} (new)"

    # --- moves -------------------------------------------------------------------------------------

    def change_clock(self, change: Callable[[dict], dict]) -> None:
        """Apply a move to the stored clock atomically (the Clock's set/advance/set_mode)."""
        with self._lock:
            def move(state):
                if state is None:
                    state = self.snapshot().clock
                state = {k: v for k, v in state.items() if not k.startswith("_")}
                return change(state), None

            self.store.update("clock", move)
            self._changed()

    def reset(self, seed: int | None = None, now: datetime | None = None) -> None:
        """Clear every mutable thing and set the clock back to its start.

        No seed and no time: back to the start seed and start time. One atomic step of the store
        (`new_generation`): every other call, in any process, sees the whole old world or the whole
        new one, and a write made in the old one after it fails. Every id, token and link issued
        before is refused after (the generation moves on). The seeded world is rebuilt only when the
        seed, anchor or size changed, so a plain reset is cheap.
        """
        start = self._start
        self._new_generation(self._start_state(
            start, start["seed"] if seed is None else seed,
            now.astimezone(timezone.utc) if now else parse_instant(start["now"]),
            follow_wall=start["follow_wall"] and now is None))

    def restore(self, state: dict) -> None:
        """Make this tenant exactly a snapshot's state (core/snapshots.py: the store's export form,
        checked whole before), as one atomic step, as a reset is: a call sees the whole old state or
        the whole restored one, never half of it, and a write of the old world after it fails."""
        self._new_generation(state["values"], state["maps"], state["logs"])

    def _new_generation(self, values: dict, maps: dict | None = None, logs: dict | None = None) -> None:
        """Replace the whole state in one store step (a reset, a restore), then re-read it here and
        re-pin this call to the new generation."""
        with self._lock:
            self.store.new_generation(values, maps, logs)
            snapshot = self._load()
            if self._pinned_here():
                self._pin(snapshot)
            for model in self.vendors.values():
                model.reset()

    def _start_state(self, start: dict, seed: int, anchor: datetime, follow_wall: bool | None = None) -> dict:
        """The keys a reset (or a new store) starts from."""
        follow = start["follow_wall"] if follow_wall is None else follow_wall
        return {"start": start, "clock": clock_state(start["mode"], anchor, follow),
                "world": {"seed": seed, "anchor": format_instant(anchor), "scale": start["scale"],
                          "overrides": {}, "base_seed": seed},
                "scenario": None}

    def _write_start(self, start: dict, seed: int, anchor: datetime) -> None:
        for key, value in self._start_state(start, seed, anchor).items():
            if key != "start":
                self.store.put(key, value)
        self._changed()

    def load_scenario(self, source: Any) -> dict:
        """Validate a scenario (path, dict, or a list of them) and make it the active one.

        Validation happens first and whole: a refused scenario raises ScenarioError and changes nothing.
        """
        data = load_scenario_source(source)
        self.apply_scenario(data)
        return data

    def apply_scenario(self, data: dict | None) -> None:
        """Make a validated scenario (or none) the active one, with fresh rule counters.

        Its `clock` sets the clock (`now` becomes the new start the world is anchored to) and its
        `seed` and `world` rebuild the world; when either changes the world, every vendor's state is
        cleared. Without a scenario the world goes back to the seed of the last reset, no overrides.
        """
        data = data or None
        section = data or {}
        check_world_size(data, self._start["scale"])  # ScenarioError: nothing has changed yet
        with self._lock:
            current = self.snapshot()
            clock = section.get("clock") or {}
            if "mode" in clock and clock["mode"] != current.clock["mode"]:
                self.clock.set_mode(clock["mode"])
            world = dict(current.world.identity_dict())
            if "now" in clock:
                anchor = parse_instant(clock["now"])
                self.store.put("clock", clock_state(self.snapshot().clock["mode"], anchor, False))
                world["anchor"] = format_instant(anchor)
            overrides = dict(section.get("world") or {})
            world["scale"] = overrides.pop("scale", self._start["scale"])
            world["overrides"] = overrides
            world["seed"] = section.get("seed", current.base_seed)
            world["base_seed"] = current.base_seed
            changed = world != {**current.world.identity_dict(), "base_seed": current.base_seed}
            self.store.put("world", world)
            if changed or clock:
                self.store.wipe(prefixes=[f"{name}:" for name in self.vendors])
                for model in self.vendors.values():
                    model.reset()
            self.store.wipe(prefixes=["scenario:"])  # the replaced scenario's counters (`scenario:<serial>:...`)
            serial = self.store.incr("meta:scenario_serial")
            self.store.put("scenario", {"serial": serial, "data": data} if data else None)
            self._changed()

    def scenario_status(self) -> dict:
        """The active scenario and its rules' match counters (GET /_emulator/scenario)."""
        active = self.active
        return active.status() if active else {"scenario": None, "rules": []}

    def vendor_for_path(self, path: str) -> Vendor | None:
        """The vendor whose path prefixes cover path, or None (admin and unknown paths)."""
        for spec in self.vendor_specs.values():
            if path.startswith(spec.prefixes):
                return spec
        return None

    def close(self) -> None:
        for model in self.vendors.values():
            model.close()
        self.store.close()
