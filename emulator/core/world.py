"""The seeded world: deterministic randomness and Faker pools, keyed by (seed, entity, day).

Nothing here reads the wall clock or the global `random`: every draw comes from a `random.Random`
seeded by a hash of the world's seed and a key the caller names (`world.rng("strigo", "event", 3)`),
so the same seed gives the same entities, and a day's activity is the same whatever window asks for it.
Entities are generated lazily on first use and cached for the life of the world; a reset that keeps
the seed, anchor and size keeps the cache (that is what makes a reset cost microseconds).
"""
from __future__ import annotations

import hashlib
import random
import threading
from datetime import date, datetime, timedelta, timezone
from collections import OrderedDict
from typing import Any, Callable, Sequence

HISTORY_DAYS = 365


def stable_hash(*key: Any) -> int:
    """A 64-bit integer from the repr of key: stable across processes (unlike hash())."""
    digest = hashlib.blake2b(repr(key).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class Listing(Sequence):
    """A read-only list of `length` items, each made by `item(index)` when asked for: a world listing
    too long to build whole (GET /_emulator/world pages it)."""

    def __init__(self, length: int, item: Callable[[int], Any]):
        self._length, self._item = length, item

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._item(i) for i in range(*index.indices(self._length))]
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError(index)
        return self._item(index)


class World:
    def __init__(self, seed: int, anchor: datetime, scale: int = 1, overrides: dict | None = None):
        self.seed = seed
        self.anchor = anchor.astimezone(timezone.utc)
        self.scale = scale
        # Per-vendor world settings from a scenario's `world:` section (sizes, named entities).
        self.overrides = overrides or {}
        self._cache: dict[tuple, Any] = {}
        self._recent: OrderedDict[tuple, Any] = OrderedDict()  # cached_recent's values, least recently used first
        self._lock = threading.RLock()
        self._faker = None

    @property
    def identity(self) -> tuple:
        """What makes two worlds the same; a reset that keeps it keeps the cache."""
        return (self.seed, self.anchor, self.scale, repr(sorted(self.overrides.items())))

    def identity_dict(self) -> dict:
        """The world's identity as the store keeps it (core/registry.py's `world` key)."""
        from ..settings import format_instant

        return {"seed": self.seed, "anchor": format_instant(self.anchor), "scale": self.scale,
                "overrides": self.overrides}

    @property
    def history_start(self) -> datetime:
        """The first instant the world holds activity for: a year before the anchor."""
        return self.anchor - timedelta(days=HISTORY_DAYS)

    def rng(self, *key: Any) -> random.Random:
        return random.Random(stable_hash(self.seed, *key))

    def cached(self, key: tuple, factory: Callable[[], Any]) -> Any:
        """The value for key, made once by factory (under the world's lock) and kept."""
        try:
            return self._cache[key]
        except KeyError:
            pass
        with self._lock:
            if key not in self._cache:
                self._cache[key] = factory()
            return self._cache[key]

    def cached_recent(self, key: tuple, factory: Callable[[], Any], keep: int) -> Any:
        """Like `cached`, but only the `keep` values used last are kept: for big values made on demand."""
        with self._lock:
            if key in self._recent:
                self._recent.move_to_end(key)
                return self._recent[key]
            while self._recent and len(self._recent) >= keep:  # make room first: never keep+1 at once
                self._recent.popitem(last=False)
            value = self._recent[key] = factory()
            return value

    def faker(self, *key: Any):
        """A Faker seeded for key. Faker is imported on first use to keep it off the start-up path.

        The instance is shared: call this inside a `cached` factory (which holds the world's lock)
        and use the result before returning.
        """
        with self._lock:
            if self._faker is None:
                from faker import Faker

                self._faker = Faker("en_US")
            self._faker.seed_instance(stable_hash(self.seed, "faker", *key))
            return self._faker

    def pool(self, name: str, size: int = 500) -> list[str]:
        """A cached list of Faker values (first_name, last_name, company, ...) to draw rows from fast."""

        def make() -> list[str]:
            fake = self.faker("pool", name)
            return [str(getattr(fake, name)()) for _ in range(size)]

        return self.cached(("pool", name, size), make)

    def days(self, start: datetime, end: datetime) -> list[date]:
        """The calendar days (UTC) that [start, end) touches, clipped to the world's history."""
        first = max(start, self.history_start).date()
        last = end.date()
        return [first + timedelta(days=i) for i in range((last - first).days + 1)] if first <= last else []
