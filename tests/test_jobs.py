"""core/jobs.py (declarative lifecycles on the clock) and core/scheduler.py (the APScheduler wrapper)."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from emulator.core.clock import Clock
from emulator.core.jobs import JobBoard, Lifecycle, Ref, Transition
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


def board_with_log():
    log = []
    board = JobBoard(LIFECYCLE, lambda job, old, new, at: log.append((job.id, old, new, at)))
    return board, log


def test_a_job_moves_when_its_time_comes():
    board, log = board_with_log()
    job = board.add("a", T0, {"outcome": "Available", "processing_seconds": 120})
    assert board.catch_up(T0 + timedelta(seconds=119)) == 0 and job.state == "Pending"
    assert board.catch_up(T0 + timedelta(seconds=120)) == 1 and job.state == "Available"
    assert log == [("a", "Pending", "Available", T0 + timedelta(seconds=120))]
    assert board.next_due() == T0 + timedelta(days=14)


def test_one_catch_up_applies_every_due_transition_in_time_order():
    board, log = board_with_log()
    board.add("late", T0 + timedelta(seconds=10), {"outcome": "Available", "processing_seconds": 5})
    board.add("early", T0, {"outcome": "Available", "processing_seconds": 5})
    board.add("fails", T0, {"outcome": "Failed", "processing_seconds": 30})
    assert board.catch_up(T0 + timedelta(days=30)) == 6
    assert [(j, new) for j, _, new, _ in log] == [
        ("early", "Available"), ("late", "Available"), ("fails", "Failed"), ("fails", "Retired"),
        ("early", "Expired"), ("late", "Expired"),
    ]
    times = [at for *_, at in log]
    assert times == sorted(times)
    assert board.get("fails").history == [("Pending", T0), ("Failed", T0 + timedelta(seconds=30)),
                                          ("Retired", T0 + timedelta(seconds=90))]
    assert board.next_due() is None


def test_a_transition_never_precedes_entering_its_state():
    """Processing longer than the retention: expiry falls due at once, right after Available."""
    board, log = board_with_log()
    board.add("slow", T0, {"outcome": "Available", "processing_seconds": 20 * 86400})
    board.catch_up(T0 + timedelta(days=21))
    assert [new for *_, new, _ in log] == ["Available", "Expired"]
    assert log[1][3] == log[0][3] == T0 + timedelta(days=20)


def test_clear_and_bad_since():
    board, _ = board_with_log()
    board.add("a", T0, {"outcome": "Available", "processing_seconds": 1})
    board.clear()
    assert board.jobs() == [] and board.catch_up(T0 + timedelta(days=1)) == 0
    with pytest.raises(ValueError):
        Transition("A", "B", 1, since="sometime")


def test_clock_listener_runs_inside_advance():
    clock = Clock("manual", T0)
    board, log = board_with_log()
    clock.subscribe(board.catch_up)
    board.add("a", T0, {"outcome": "Available", "processing_seconds": 60})
    clock.advance(60)
    assert log and log[0][2] == "Available"


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
        fired = threading.Event()
        scheduler.call_later("k", 0, fired.set)
        assert fired.wait(10)
        never = threading.Event()
        scheduler.call_later("later", 3600, never.set)
        scheduler.cancel("later")
        scheduler.cancel("unknown")  # harmless
        scheduler.clear()
        assert not never.is_set()
    finally:
        scheduler.shutdown()
    assert not scheduler.started
