"""core/jobs.py (declarative lifecycles evaluated as a function of time) and core/scheduler.py."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from emulator.core.jobs import Lifecycle, Ref, Transition
from emulator.core.scheduler import Scheduler

T0 = datetime(2026, 1, 15, tzinfo=timezone.utc)
LIFECYCLE = Lifecycle(
    initial="Pending",
    transitions=(
        Transition("Pending", Ref("outcome"), Ref("processing_seconds"), since="created"),
        Transition("Available", "Expired", 14 * 86400, since="created"),
        Transition("Failed", "Retired", 60),  # counted from entering Failed
    ),
)
AVAILABLE = {"outcome": "Available", "processing_seconds": 60}


def test_state_is_a_function_of_creation_settings_and_now():
    assert LIFECYCLE.state_at(T0, AVAILABLE, T0) == ("Pending", T0)
    assert LIFECYCLE.state_at(T0, AVAILABLE, T0 + timedelta(seconds=59.9))[0] == "Pending"
    assert LIFECYCLE.state_at(T0, AVAILABLE, T0 + timedelta(seconds=60)) == ("Available", T0 + timedelta(seconds=60))
    assert LIFECYCLE.state_at(T0, AVAILABLE, T0 + timedelta(days=14)) == ("Expired", T0 + timedelta(days=14))
    # Any jump, forwards or back, gives the state at that instant.
    assert LIFECYCLE.state_at(T0, AVAILABLE, T0 + timedelta(days=3650))[0] == "Expired"
    assert LIFECYCLE.state_at(T0, AVAILABLE, T0 + timedelta(seconds=30))[0] == "Pending"


def test_since_entered_counts_from_entering_the_state():
    failed = {"outcome": "Failed", "processing_seconds": 100}
    assert LIFECYCLE.timeline(T0, failed) == [
        ("Pending", T0), ("Failed", T0 + timedelta(seconds=100)), ("Retired", T0 + timedelta(seconds=160))]
    assert LIFECYCLE.state_at(T0, failed, T0 + timedelta(seconds=159))[0] == "Failed"


def test_a_transition_never_happens_before_the_state_was_entered():
    # Processing longer than the retention: Available and Expired at the same instant, never earlier.
    slow = {"outcome": "Available", "processing_seconds": 20 * 86400}
    steps = LIFECYCLE.timeline(T0, slow)
    assert steps[1] == ("Available", T0 + timedelta(days=20)) and steps[2] == ("Expired", T0 + timedelta(days=20))


def test_a_cycle_stops_after_one_round():
    loop = Lifecycle("A", (Transition("A", "B", 1), Transition("B", "A", 1)))
    assert [s for s, _ in loop.timeline(T0, {})] == ["A", "B", "A"]


def test_since_must_be_known():
    with pytest.raises(ValueError):
        Transition("A", "B", 1, since="later")


def test_scheduler_runs_work_in_the_background_and_starts_lazily():
    scheduler = Scheduler("test")
    assert not scheduler.started
    try:
        future = scheduler.submit(lambda a, b: a + b, 2, 3)
        assert scheduler.started
        assert future.result(timeout=10) == 5
        failing = scheduler.submit(lambda: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            failing.result(timeout=10)
        scheduler.clear()
    finally:
        scheduler.shutdown()
    assert not scheduler.started
