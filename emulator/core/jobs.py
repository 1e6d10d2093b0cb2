"""Declarative lifecycles (e.g. Pending -> Available -> Expired), evaluated as a function of time.

A `Lifecycle` is data: an initial state and transitions, each "from this state, after this many
seconds (counted from when the job was created or entered the state), go to that state". A value
may be a `Ref` to the job's own settings, fixed when the job is submitted (e.g. the scenario's
processing time and the outcome drawn for this job).

Nothing is stored about a job's progress: `state_at(created, settings, now)` walks the transitions
from the creation time, so any process gives the same answer for the same inputs, and a clock jump
of any size costs nothing. Nothing here knows about any vendor.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Union


@dataclass(frozen=True)
class Ref:
    """A value read from the job's settings when the transition is evaluated."""

    name: str


@dataclass(frozen=True)
class Transition:
    source: str
    target: Union[str, Ref]
    after: Union[float, Ref]  # seconds
    since: str = "entered"  # "entered": when the job entered `source`; "created": when it was created

    def __post_init__(self) -> None:
        if self.since not in ("entered", "created"):
            raise ValueError(f"since must be 'entered' or 'created', not {self.since!r}")


@dataclass(frozen=True)
class Lifecycle:
    initial: str
    transitions: tuple[Transition, ...]

    def leaving(self, state: str) -> Transition | None:
        """The transition out of state (None for a final state)."""
        for transition in self.transitions:
            if transition.source == state:
                return transition
        return None

    def timeline(self, created: datetime, settings: dict[str, Any]) -> list[tuple[str, datetime]]:
        """Every state the job passes through with the time it enters it, first to final."""
        state, entered = self.initial, created
        steps = [(state, entered)]
        seen = {state}
        while (transition := self.leaving(state)) is not None:
            base = created if transition.since == "created" else entered
            # A transition never happens before the job entered its state.
            entered = max(base + timedelta(seconds=float(_value(settings, transition.after))), entered)
            state = str(_value(settings, transition.target))
            steps.append((state, entered))
            if state in seen:  # a cycle: stop after one round
                break
            seen.add(state)
        return steps

    def state_at(self, created: datetime, settings: dict[str, Any], now: datetime) -> tuple[str, datetime]:
        """The job's state at `now` and when it entered it."""
        current = (self.initial, created)
        for step in self.timeline(created, settings):
            if step[1] > now:
                break
            current = step
        return current


def _value(settings: dict[str, Any], value: Any) -> Any:
    return settings[value.name] if isinstance(value, Ref) else value
