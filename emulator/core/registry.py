"""The one registry of mutable state, and the one reset that clears it."""
from __future__ import annotations

import threading
from collections import deque
from datetime import datetime
from typing import Any

from ..settings import Settings, parse_instant
from .clock import Clock
from .journal import Journal
from .scenarios import ActiveScenario
from .scenarios import load as load_scenario_source
from .vendor import Vendor, VendorModel
from .world import World


class Emulator:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.clock = Clock(settings.clock, settings.now)
        self.start_seed = settings.seed
        self.start_time = self.clock.start
        self.world = World(settings.seed, self.clock.start, settings.scale)
        self.journal = Journal(settings.journal_cap)
        # Requests that broke their vendor's documented contract (contract.py), oldest first.
        self.violations: deque[dict[str, Any]] = deque(maxlen=settings.journal_cap)
        self.vendors: dict[str, VendorModel] = {}
        self.vendor_specs: dict[str, Vendor] = {}
        # The active scenario, validated, as a plain dict (None when there is none), and its rules.
        self.scenario: dict[str, Any] | None = None
        self.active: ActiveScenario | None = None
        self._lock = threading.RLock()
        # The seed the world returns to when a scenario that set another one is cleared.
        self._base_seed = settings.seed
        if settings.scenarios:
            self.load_scenario(settings.scenarios)

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

    def reset(self, seed: int | None = None, now: datetime | None = None) -> None:
        """Clear every mutable thing and set the clock back to its start.

        No seed and no time: back to the start seed and start time. The seeded world is rebuilt
        only when the seed, anchor or size changed, so a plain reset is cheap.
        """
        with self._lock:
            self.scenario = None
            self.active = None
            self._base_seed = self.start_seed if seed is None else seed
            self.clock.mode = self.settings.clock
            self.journal.clear()
            self.violations.clear()
            self.clock.reset(now or self.start_time)
            self._use_world(self.start_seed if seed is None else seed, self.clock.start, self.settings.scale, {})
            for model in self.vendors.values():
                model.reset()

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
        with self._lock:
            clock = section.get("clock") or {}
            if "mode" in clock and clock["mode"] != self.clock.mode:
                current = self.clock.now()
                self.clock.mode = clock["mode"]
                self.clock.set(current)
            if "now" in clock:
                self.clock.reset(parse_instant(clock["now"]))
            world = dict(section.get("world") or {})
            scale = world.pop("scale", self.settings.scale)
            seed = section.get("seed", self._base_seed)
            changed = self._use_world(seed, self.clock.start, scale, world)
            if changed or clock:
                for model in self.vendors.values():
                    model.reset()
            self.scenario = data
            self.active = ActiveScenario(data, seed) if data else None

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

    def _use_world(self, seed: int, anchor: datetime, scale: int, overrides: dict) -> bool:
        """Rebuild the world if seed, anchor, size or overrides changed; True when it did."""
        candidate = World(seed, anchor, scale, overrides)
        if candidate.identity != self.world.identity:
            self.world = candidate
            return True
        return False
