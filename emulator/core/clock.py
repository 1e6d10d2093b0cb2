"""The emulator's clock: the only source of "now".

A manual clock stands still until a test sets or advances it; a real clock follows the wall clock
plus an offset (so it can be moved too). Its position lives in the store (`clock`: mode, start,
manual position, offset), so every process and replica reads the same time; this object only
computes "now" from the state the emulator last read, and writes moves through the store.

Listeners run after every move made through this process (Echo360 waits there for report files
that the move made due, so a client that sees Available can download at once).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Callable

from ..settings import format_instant, parse_instant

if TYPE_CHECKING:
    from .registry import Emulator


def wall_now() -> datetime:
    """The machine's time in UTC. Only the clock and the journal's wall time may read it."""
    return datetime.now(timezone.utc)


def clock_state(mode: str, start: datetime, follow_wall: bool) -> dict:
    """A clock at its start: manual at `start`; real at `start` (or simply the wall clock)."""
    offset = 0.0 if follow_wall else (start - wall_now()).total_seconds()
    return {"mode": mode, "start": format_instant(start), "manual": start.isoformat(), "offset": offset}


class Clock:
    def __init__(self, emulator: "Emulator"):
        self._emulator = emulator
        self._listeners: list[Callable[[datetime], None]] = []

    @property
    def _state(self) -> dict:
        return self._emulator.snapshot().clock

    @property
    def mode(self) -> str:
        return self._state["mode"]

    @property
    def start(self) -> datetime:
        return parse_instant(self._state["start"])

    def now(self) -> datetime:
        state = self._state
        if state["mode"] == "manual":
            return _manual(state)
        return wall_now() + timedelta(seconds=state["offset"])

    def set(self, value: datetime) -> datetime:
        value = value.astimezone(timezone.utc)

        def move(state: dict) -> dict:
            if state["mode"] == "manual":
                return {**state, "manual": value.isoformat()}
            return {**state, "offset": (value - wall_now()).total_seconds()}

        return self._move(move)

    def advance(self, seconds: float) -> datetime:
        def move(state: dict) -> dict:
            if state["mode"] == "manual":
                return {**state, "manual": (_manual(state) + timedelta(seconds=seconds)).isoformat()}
            return {**state, "offset": state["offset"] + seconds}

        return self._move(move)

    def set_mode(self, mode: str, now: datetime | None = None) -> datetime:
        """Switch between manual and real in one move, keeping the current time (or setting `now`)."""

        def move(state: dict) -> dict:
            if now is not None:
                current = now.astimezone(timezone.utc)
            elif state["mode"] == "manual":
                current = _manual(state)
            else:
                current = wall_now() + timedelta(seconds=state["offset"])
            return {**state, "mode": mode, "manual": current.isoformat(), "offset": (current - wall_now()).total_seconds()}

        return self._move(move)

    def subscribe(self, listener: Callable[[datetime], None]) -> None:
        self._listeners.append(listener)

    def _move(self, change: Callable[[dict], dict]) -> datetime:
        self._emulator.change_clock(change)
        now = self.now()
        for listener in list(self._listeners):
            listener(now)
        return now


def _manual(state: dict) -> datetime:
    return state.get("_manual") or datetime.fromisoformat(state["manual"])
