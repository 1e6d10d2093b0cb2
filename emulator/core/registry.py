"""The one registry of mutable state, and the one reset that clears it."""
from __future__ import annotations

import threading
from collections import deque
from datetime import datetime
from typing import Any

from ..settings import Settings
from .clock import Clock
from .journal import Journal
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
        # The active scenario, validated, as a plain dict (None when there is none).
        self.scenario: dict[str, Any] | None = None
        self._lock = threading.RLock()

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
            self.journal.clear()
            self.violations.clear()
            self.clock.reset(now or self.start_time)
            self._use_world(self.start_seed if seed is None else seed, self.clock.start, self.settings.scale, {})
            for model in self.vendors.values():
                model.reset()

    def _use_world(self, seed: int, anchor: datetime, scale: int, overrides: dict) -> None:
        candidate = World(seed, anchor, scale, overrides)
        if candidate.identity != self.world.identity:
            self.world = candidate
