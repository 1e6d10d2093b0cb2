"""What a vendor package hands the core: its blueprint, its model class and its error envelope."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from flask import Blueprint, Response, current_app

if TYPE_CHECKING:
    from .registry import Emulator


class VendorModel:
    """Base of each vendor's state. Lives in models.py, never imports Flask.

    Subclasses set `name` and `default_credentials`, keep their mutable state on the instance,
    and clear it in `reset()`; the seeded world they read through `self.world` is not theirs to clear.
    """

    name = ""
    default_credentials: dict[str, str] = {}

    def __init__(self, emulator: "Emulator"):
        self.emulator = emulator

    @property
    def clock(self):
        return self.emulator.clock

    @property
    def world(self):
        return self.emulator.world

    def credentials(self) -> dict[str, str]:
        """Documented defaults, overridden by settings (flags) and then by the active scenario."""
        merged = dict(self.default_credentials)
        merged.update(self.emulator.settings.credentials.get(self.name, {}))
        merged.update(self.emulator.credential_overrides().get(self.name, {}))
        return merged

    def world_summary(self) -> dict[str, Any]:
        return {}

    def reset(self) -> None:
        """Clear every piece of mutable state (requests, tokens, counters)."""


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
    """The current app's model for a vendor (for views)."""
    return current_app.extensions["emulator"].vendors[name]
