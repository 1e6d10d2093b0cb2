"""What a vendor package hands the core: its blueprint, its model class and its error envelope."""
from __future__ import annotations

import copy
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from flask import Blueprint, Response, current_app, g, has_request_context

from .ratelimit import RateLimiter, Verdict
from .tenants import current_emulator

if TYPE_CHECKING:
    from .registry import Emulator


class VendorModel:
    """Base of each vendor's state. Lives in models.py, never imports Flask.

    Subclasses set `name` and `default_credentials` and keep their mutable state in the store
    (`self.store`) under keys that start with their name (`echo360:requests:...`): a reset, or a
    scenario that changes the world, clears those. `reset()` is for what a process keeps beside the
    store (caches, background work); the seeded world they read through `self.world` is derived.
    """

    name = ""
    default_credentials: dict[str, str] = {}
    # Calls per minute before a 429, counted on the emulator clock. None: no limit unless the active
    # scenario sets `<vendor>: {rate_limit: N}`.
    default_rate_limit: int | None = None

    def __init__(self, emulator: "Emulator"):
        self.emulator = emulator
        self.rate_limiter = RateLimiter(emulator.store, emulator.clock, f"{self.name}:rate:", self.default_rate_limit or 0, 60)

    def rate_limit(self) -> int | None:
        """The scenario's `rate_limit` for this vendor, else the default (None: unlimited)."""
        value = self.emulator.knobs(self.name).get("rate_limit")
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        return self.default_rate_limit

    def hit(self, key: str | None = None) -> Verdict | None:
        """Count one call for key (default: the whole vendor); None when there is no limit."""
        limit = self.rate_limit()
        return None if limit is None else self.rate_limiter.hit(key or self.name, limit)

    @property
    def store(self):
        return self.emulator.store

    @property
    def clock(self):
        return self.emulator.clock

    _fixed_world = None  # set on the copy vendor_model() gives a view

    @property
    def world(self):
        return self._fixed_world if self._fixed_world is not None else self.emulator.world

    def with_world_fixed(self) -> "VendorModel":
        """This model, its world fixed to the current one (see vendor_model)."""
        fixed = copy.copy(self)
        fixed._fixed_world = self.emulator.world
        return fixed

    def credentials(self) -> dict[str, str]:
        """Documented defaults, overridden by settings (flags) and then by the active scenario."""
        merged = dict(self.default_credentials)
        merged.update(self.emulator.settings.credentials.get(self.name, {}))
        merged.update(self.emulator.credential_overrides().get(self.name, {}))
        return merged

    def world_summary(self) -> dict[str, Any]:
        return {}

    def reset(self) -> None:
        """Forget what this process keeps beside the store (the store's own keys are wiped for us)."""

    def close(self) -> None:
        """The process is exiting: stop background work."""

    def draw_rng(self, *what: str):
        """A seeded random source for the next id or token: never the same one twice for one store.

        Drawn from the world's seed, the store's random instance id, the reset generation and a
        serial counted in the store, so the same seed gives the same ids within one store lifetime,
        and nothing issued before a reset (or on another store) is issued again.
        """
        serial = self.store.incr(f"{self.name}:serial")
        return self.world.rng(self.name, *what, self.emulator.instance, self.emulator.generation, serial)


@dataclass(frozen=True)
class Vendor:
    name: str
    blueprint: Blueprint
    model: type[VendorModel]
    # Path prefixes this vendor answers on: a 404 or 405 under them gets this vendor's envelope.
    prefixes: tuple[str, ...]
    # Renders this vendor's error envelope for errors raised outside its own handlers (404, 405, 500).
    error_response: Callable[[int, str], Response]
    # The vendor's documented contract (core/contract.py): its OpenAPI document and strict mode.
    contract: Any = None
    # Renders a contract violation the way the vendor refuses bad input (strict mode); by default
    # error_response(400, <the violations' messages>).
    contract_error: Callable[[list], Response] | None = None


def vendor_model(name: str) -> Any:
    """The current app's model for a vendor (for views), with the world of this moment fixed: an
    answer whose body is made after the view returns (streamed, or held by a delay) is made from the
    world its call started in, whatever a reset to another seed does meanwhile.

    Within a request the copy is made once per vendor (a call asks for it several times: its rate
    limit, its credentials, its view), so every step of one call sees the same world.
    """
    if not has_request_context():
        return current_emulator().vendors[name].with_world_fixed()
    fixed = g.get("vendor_models")
    if fixed is None:
        fixed = g.vendor_models = {}
    model = fixed.get(name)
    if model is None:
        model = fixed[name] = current_emulator().vendors[name].with_world_fixed()
    return model


def same_secret(given: str | None, expected: str) -> bool:
    """Whether a client's credential equals the expected one, compared in constant time."""
    return given is not None and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
