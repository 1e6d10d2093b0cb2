"""Declarative lifecycles (e.g. Pending -> Available -> Expired) evaluated against the clock.

A `Lifecycle` is data: an initial state and transitions, each "from this state, after this many
seconds (counted from when the job was created or entered the state), go to that state". A value
may be a `Ref` to the job's own settings, fixed when the job is submitted (e.g. the scenario's
processing time and the outcome drawn for this job). A `JobBoard` holds jobs and applies every
transition that has fallen due at a given time, in order of due time; whoever moves the clock (or
the scheduler, with a real clock) calls `catch_up(now)`. Nothing here knows about any vendor.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Union


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


@dataclass
class Job:
    id: str
    created: datetime
    state: str
    entered: datetime
    settings: dict[str, Any] = field(default_factory=dict)
    history: list[tuple[str, datetime]] = field(default_factory=list)


# on_transition(job, old_state, new_state, at): called with the board's lock held, in due order.
TransitionHook = Callable[[Job, str, str, datetime], None]


class JobBoard:
    def __init__(self, lifecycle: Lifecycle, on_transition: TransitionHook | None = None):
        self.lifecycle = lifecycle
        self.on_transition = on_transition
        self._jobs: dict[str, Job] = {}
        self._lock = threading.RLock()

    def add(self, job_id: str, created: datetime, settings: dict[str, Any] | None = None) -> Job:
        job = Job(job_id, created, self.lifecycle.initial, created, dict(settings or {}),
                  [(self.lifecycle.initial, created)])
        with self._lock:
            self._jobs[job_id] = job
        return job

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def _value(self, job: Job, value: Any) -> Any:
        return job.settings[value.name] if isinstance(value, Ref) else value

    def due(self, job: Job) -> tuple[datetime, str] | None:
        """When job leaves its state and for which state (None in a final state)."""
        transition = self.lifecycle.leaving(job.state)
        if transition is None:
            return None
        base = job.created if transition.since == "created" else job.entered
        at = base + timedelta(seconds=float(self._value(job, transition.after)))
        # A transition never happens before the job entered its state.
        return max(at, job.entered), str(self._value(job, transition.target))

    def next_due(self) -> datetime | None:
        with self._lock:
            times = [d[0] for d in (self.due(j) for j in self._jobs.values()) if d is not None]
        return min(times) if times else None

    def catch_up(self, now: datetime) -> int:
        """Apply every transition due at or before now, earliest first; how many were applied."""
        applied = 0
        with self._lock:
            while True:
                pending = [(d[0], j, d[1]) for j in self._jobs.values() if (d := self.due(j)) is not None and d[0] <= now]
                if not pending:
                    return applied
                at, job, target = min(pending, key=lambda p: p[0])
                old = job.state
                job.state, job.entered = target, at
                job.history.append((target, at))
                applied += 1
                if self.on_transition is not None:
                    self.on_transition(job, old, target, at)

    def clear(self) -> None:
        with self._lock:
            self._jobs.clear()
