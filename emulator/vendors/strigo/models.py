"""Strigo's state and data generation. Never imports Flask.

The world holds events (live trainings with hosts and students) and on-demand courses (enrollments
that run at each learner's pace). Each entity is generated lazily from (seed, entity) and cached;
everything dated is then filtered by the emulator clock at request time, so nothing after `now`
is ever shown. The only mutable state is the rate-limit counter.
"""
from __future__ import annotations

import calendar
import threading
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

from ...core.vendor import VendorModel, same_secret
from .errors import CourseNotFound, EventNotFound, RequestValidationError, Unauthorized

DEFAULT_RATE_LIMIT = 120  # requests per minute per organisation (the docs say roughly 100-200)
BASE_EVENTS = 8
RENDER_CACHE_SIZE = 256
BASE_COURSES = 8

# Meteor's Random.id() alphabet: Strigo workspace ids look like "J5SEv6sXeJQcSFwAG".
METEOR_CHARS = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz"
ENROLLMENT_STATUSES = ("enrolled", "started", "inactive", "paused", "expired", "finished")

TOPICS = (
    "Kubernetes", "Terraform", "Docker", "Python", "AWS", "Azure", "Ansible", "Linux", "Kafka",
    "Elasticsearch", "Go", "Rust", "PostgreSQL", "Redis", "Helm", "GitOps", "Observability", "Security",
)
EVENT_KINDS = ("Workshop", "Bootcamp", "Hands-on Lab", "Training", "Masterclass", "Jumpstart")
COURSE_KINDS = ("Fundamentals", "Essentials", "Deep Dive", "for Beginners", "Advanced", "Self-paced Lab")
EXERCISE_ACTIONS = (
    "Install", "Configure", "Deploy", "Debug", "Scale", "Secure", "Monitor", "Upgrade", "Back up", "Tune",
)
EXERCISE_OBJECTS = (
    "the cluster", "a service", "the database", "the pipeline", "a load balancer", "the agent",
    "the ingress", "a cron job", "the cache", "the API gateway",
)
QUESTION_TOPICS = (
    "namespaces", "replicas", "state files", "volumes", "indexes", "retries", "roles", "probes",
)


def iso_ms(value: datetime) -> str:
    """JavaScript's Date.toISOString(): UTC, milliseconds, Z."""
    v = value.astimezone(timezone.utc)
    return f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}.{v.microsecond // 1000:03d}Z"


def seconds(ms: int) -> int | float:
    """Milliseconds as a JavaScript number of seconds: 60 stays 60, 262602 is 262.602."""
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def one_month_before(value: datetime) -> datetime:
    """The same instant a calendar month earlier (day clamped to the month's end), like moment's subtract."""
    year, month = (value.year, value.month - 1) if value.month > 1 else (value.year - 1, 12)
    day = min(value.day, calendar.monthrange(year, month)[1])
    return value.replace(year=year, month=month, day=day)


def _ms(rng, low_seconds: float, high_seconds: float) -> timedelta:
    return timedelta(milliseconds=rng.randint(int(low_seconds * 1000), int(high_seconds * 1000)))


def _hex_id(rng) -> str:
    return f"{rng.getrandbits(96):024x}"


def _workspace_id(rng) -> str:
    return "".join(rng.choice(METEOR_CHARS) for _ in range(17))


@dataclass(frozen=True)
class Session:
    start: datetime
    end: datetime

    @property
    def duration_ms(self) -> int:
        return (self.end - self.start) // timedelta(milliseconds=1)


@dataclass(frozen=True)
class Exercise:
    title: str
    type: str  # question | exercise


@dataclass(frozen=True)
class Attempt:
    """One participant's outcome of one exercise."""

    result: str  # success | failure
    finished_at: datetime


@dataclass(frozen=True)
class Learner:
    """A workspace in an event (a participant) or in a course (an enrollment)."""

    workspace_id: str
    name: str
    email: str
    started_at: datetime | None
    sessions: tuple[Session, ...]
    attempts: tuple[Attempt | None, ...]  # one per exercise; None: never finished
    role: str = "student"  # events: host | student
    enrollment_id: str = ""  # courses
    enrolled_at: datetime | None = None  # courses
    fate: str = "enrolled"  # courses: the status once its activity is over

    def last_activity(self) -> datetime | None:
        return self.sessions[-1].end if self.sessions else self.started_at


@dataclass(frozen=True)
class Event:
    id: str
    name: str
    starts_at: datetime
    ends_at: datetime
    exercises: tuple[Exercise, ...]
    participants: tuple[Learner, ...]


@dataclass(frozen=True)
class Course:
    id: str
    name: str
    exercises: tuple[Exercise, ...]
    enrollments: tuple[Learner, ...]


@dataclass(frozen=True)
class Window:
    """The user-activity report's [from, to]."""

    start: datetime
    end: datetime


def index_size(section: dict, kind: str, base: int, scale: int) -> int:
    """How many events (or courses) a world's `strigo` section makes: its `<kind>_count` (not multiplied
    by the scale) or base x scale, and at least the named ones."""
    count = section.get(f"{kind}_count")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        count = base * scale
    return max(count, len(section.get(f"{kind}s") or []))


class StrigoModel(VendorModel):
    name = "strigo"
    default_credentials = {"org_id": "emulator-org", "api_key": "strigo-emulator-key"}
    default_rate_limit = DEFAULT_RATE_LIMIT  # per organisation

    def __init__(self, emulator):
        super().__init__(emulator)
        # Rendered GET reports, keyed by what they depend on (see `rendered`); derived, never authoritative.
        # Keyed by the world too, never cleared on a copy's word: vendor_model() gives each call a copy of
        # this model that shares these (an attribute set on the copy would be lost, and clear the cache
        # on every call).
        self._rendered: OrderedDict[tuple, Any] = OrderedDict()
        self._rendered_lock = threading.Lock()

    # -- state -----------------------------------------------------------------------------------

    def reset(self) -> None:
        super().reset()
        with self._rendered_lock:
            self._rendered.clear()

    def rendered(self, key: tuple, entity: Event | Course, make: Callable[[], Any]) -> Any:
        """A report body made once per (key, how many of the entity's instants are past `now`).

        A GET report depends on the clock only through which of its entity's instants (results,
        enrollments, session ends) have passed, so that count stands for `now` in the key.
        """
        version = bisect_right(self._instants(entity), self.clock.now())
        world = self.world
        full_key = (world.identity, *key, version)
        with self._rendered_lock:
            if full_key in self._rendered:
                self._rendered.move_to_end(full_key)
                return self._rendered[full_key]
        value = make()
        with self._rendered_lock:
            self._rendered[full_key] = value
            while len(self._rendered) > RENDER_CACHE_SIZE:
                self._rendered.popitem(last=False)
        return value

    def _instants(self, entity: Event | Course) -> list[datetime]:
        def make() -> list[datetime]:
            learners = entity.participants if isinstance(entity, Event) else entity.enrollments
            instants = [entity.ends_at] if isinstance(entity, Event) else []
            for learner in learners:
                instants.extend(i for i in (learner.started_at, learner.enrolled_at) if i is not None)
                instants.extend(s.end for s in learner.sessions)
                instants.extend(a.finished_at for a in learner.attempts if a is not None)
            return sorted(instants)

        return self.world.cached(("strigo", "instants", type(entity).__name__, entity.id), make)

    def knobs(self) -> dict[str, Any]:
        return self.emulator.knobs("strigo")

    def organisation(self, authorization: str | None) -> str:
        """The org id of a valid `Bearer <ORG_ID>:<API_KEY>` header, or Unauthorized."""
        if not authorization:
            raise Unauthorized("Missing Authorization header. Expected 'Authorization: Bearer <ORG_ID>:<API_KEY>'.")
        scheme, _, token = authorization.strip().partition(" ")
        org_id, sep, api_key = token.strip().partition(":")
        if scheme.lower() != "bearer" or not sep or not org_id or not api_key:
            raise Unauthorized("Malformed Authorization header. Expected 'Authorization: Bearer <ORG_ID>:<API_KEY>'.")
        creds = self.credentials()
        if not (same_secret(org_id, creds["org_id"]) & same_secret(api_key, creds["api_key"])):
            raise Unauthorized("Invalid organization id or API key.")
        return org_id

    # -- the world -------------------------------------------------------------------------------

    def world_summary(self) -> dict[str, Any]:
        return {
            "events": [{"id": i, "name": n} for i, n in self._event_index()],
            "courses": [{"id": i, "name": n} for i, n in self._course_index()],
        }

    def _overrides(self) -> dict[str, Any]:
        return dict(self.world.overrides.get("strigo") or {})

    def _index(self, kind: str, base: int, kinds: tuple[str, ...]) -> list[tuple[str, str]]:
        """[(id, name)] of events or courses: scenario-named ones first, then generated ones."""
        overrides = self._overrides()
        count = index_size(overrides, kind, base, self.world.scale)
        named = [(str(e["id"]), str(e.get("name") or e["id"])) for e in overrides.get(f"{kind}s") or []]
        index = list(named)
        seen = {i for i, _ in named}
        n = 0
        while len(index) < count:
            rng = self.world.rng("strigo", kind, n)
            n += 1
            entity_id = _hex_id(rng)
            if entity_id in seen:
                continue
            seen.add(entity_id)
            name = f"{rng.choice(TOPICS)} {rng.choice(kinds)}"
            index.append((entity_id, name))
        return index

    def _event_index(self) -> list[tuple[str, str]]:
        return self.world.cached(("strigo", "event-index"), lambda: self._index("event", BASE_EVENTS, EVENT_KINDS))

    def _course_index(self) -> list[tuple[str, str]]:
        return self.world.cached(("strigo", "course-index"), lambda: self._index("course", BASE_COURSES, COURSE_KINDS))

    def event(self, event_id: str) -> Event:
        for position, (entity_id, name) in enumerate(self._event_index()):
            if entity_id == event_id:
                return self.world.cached(("strigo", "event", event_id), lambda: self._make_event(position, entity_id, name))
        raise EventNotFound(f"Event {event_id} could not be found.")

    def course(self, course_id: str) -> Course:
        for position, (entity_id, name) in enumerate(self._course_index()):
            if entity_id == course_id:
                return self.world.cached(("strigo", "course", course_id), lambda: self._make_course(position, entity_id, name))
        raise CourseNotFound(f"Course {course_id} could not be found.")

    def _exercises(self, rng) -> tuple[Exercise, ...]:
        exercises: list[Exercise] = []
        count = rng.randint(1, 6)
        while len(exercises) < count:
            if rng.random() < 0.35:
                exercise = Exercise(f"What do you know about {rng.choice(QUESTION_TOPICS)}?", "question")
            else:
                exercise = Exercise(f"{rng.choice(EXERCISE_ACTIONS)} {rng.choice(EXERCISE_OBJECTS)}", "exercise")
            if exercise not in exercises:
                exercises.append(exercise)
        return tuple(exercises)

    def _people(self, rng, count: int) -> list[tuple[str, str]]:
        """[(name, email)], emails unique within one event or course."""
        first, last, domains = self.world.pool("first_name"), self.world.pool("last_name"), self.world.pool("free_email_domain", 50)
        people, emails = [], set()
        while len(people) < count:
            given, family = rng.choice(first), rng.choice(last)
            email = f"{given}.{family}@{rng.choice(domains)}".lower().replace(" ", "").replace("'", "")
            if email in emails:
                continue
            emails.add(email)
            people.append((f"{given} {family}", email))
        return people

    @staticmethod
    def _attempts(rng, exercises, sessions, finish_bias: float) -> tuple[Attempt | None, ...]:
        """Exercises are done in order; the first k get a result at instants inside the sessions."""
        if not sessions:
            return tuple(None for _ in exercises)
        done = len(exercises) if rng.random() < finish_bias else rng.randint(0, len(exercises))
        instants = []
        for _ in range(done):
            session = rng.choice(sessions)
            instants.append(session.start + (session.end - session.start) * rng.random())
        instants = sorted(i.replace(microsecond=i.microsecond // 1000 * 1000) for i in instants)
        return tuple(
            Attempt("success" if rng.random() < 0.75 else "failure", instants[j]) if j < done else None
            for j in range(len(exercises))
        )

    def _make_event(self, position: int, event_id: str, name: str) -> Event:
        rng = self.world.rng("strigo", "event", event_id)
        anchor = self.world.anchor
        days = rng.randint(1, 3)
        # Every fourth event took place in the last month, the others over the rest of the year.
        days_ago = rng.randint(days + 1, 28) if position % 4 == 0 else rng.randint(31, 360)
        day0 = (anchor - timedelta(days=days_ago)).replace(hour=0, minute=0, second=0, microsecond=0)
        starts_at = day0 + timedelta(hours=rng.randint(7, 14))
        ends_at = starts_at + timedelta(days=days - 1, hours=8)
        exercises = self._exercises(rng)
        people = self._people(rng, rng.randint(5, 40))
        hosts = 2 if len(people) > 20 else 1
        participants = []
        for n, (person, email) in enumerate(people):
            sessions: list[Session] = []
            for d in range(days):
                if d and rng.random() < 0.2:
                    continue  # missed a day
                t = starts_at + timedelta(days=d) + _ms(rng, 0, 1800)
                for _ in range(rng.randint(1, 3)):
                    start = t + _ms(rng, 0, 3600)
                    end = min(start + _ms(rng, 30, 5400), ends_at - timedelta(days=days - 1 - d))
                    if end <= start:
                        break
                    sessions.append(Session(start, end))
                    t = end
            started_at = sessions[0].start - _ms(rng, 0.1, 3) if sessions else None
            participants.append(
                Learner(
                    workspace_id=_workspace_id(rng),
                    name=person,
                    email=email,
                    started_at=started_at,
                    sessions=tuple(sessions),
                    attempts=self._attempts(rng, exercises, sessions, 0.5),
                    role="host" if n < hosts else "student",
                )
            )
        return Event(event_id, name, starts_at, ends_at, exercises, tuple(participants))

    def _make_course(self, position: int, course_id: str, name: str) -> Course:
        rng = self.world.rng("strigo", "course", course_id)
        anchor = self.world.anchor.replace(microsecond=self.world.anchor.microsecond // 1000 * 1000)
        history_start = anchor - (self.world.anchor - self.world.history_start)
        exercises = self._exercises(rng)
        enrollments = []
        for person, email in self._people(rng, rng.randint(5, 40)):
            # Enrollments spread over the year; some of every course in the last month.
            recent = rng.random() < 0.2
            earliest = anchor - timedelta(days=30) if recent else history_start + timedelta(days=1)
            enrolled_at = earliest + _ms(rng, 0, (anchor - earliest).total_seconds() - 7200)
            fate = rng.choices(ENROLLMENT_STATUSES, weights=(12, 25, 15, 8, 10, 30))[0]
            sessions: list[Session] = []
            started_at = None
            if fate != "enrolled":
                started_at = enrolled_at + _ms(rng, 5, 3 * 86400)
                t = started_at
                limit = anchor - timedelta(minutes=1)
                for k in range(rng.randint(1, 8)):
                    start = t + (_ms(rng, 0.01, 0.2) if k == 0 else _ms(rng, 600, 7 * 86400))
                    end = start + _ms(rng, 30, 3600)
                    if end > limit:
                        break
                    sessions.append(Session(start, end))
                    t = end
                if started_at > limit or not sessions:
                    fate, started_at, sessions = "enrolled", None, []
            bias = 0.9 if fate == "finished" else 0.3
            enrollments.append(
                Learner(
                    workspace_id=_workspace_id(rng),
                    name=person,
                    email=email,
                    started_at=started_at,
                    sessions=tuple(sessions),
                    attempts=self._attempts(rng, exercises, sessions, bias),
                    enrollment_id=_hex_id(rng),
                    enrolled_at=enrolled_at,
                    fate=fate,
                )
            )
        enrollments.sort(key=lambda e: (e.enrolled_at, e.enrollment_id))
        return Course(course_id, name, exercises, tuple(enrollments))

    # -- reports: plain rows with snake_case attribute names; schemas give the wire names -------

    @staticmethod
    def _exercise_columns(exercises, learner: Learner, now: datetime, prefix: str) -> dict[str, Any]:
        """exercises_finished ... exercise_N_finished_at; results after `now` are not yet there."""
        attempts = [a if a is not None and a.finished_at <= now else None for a in learner.attempts]
        finished = sum(a is not None for a in attempts)
        row: dict[str, Any] = {
            "exercises_finished": finished,
            "exercises_count": len(exercises),
            "all_exercises_completed": finished == len(exercises),
        }
        for n, (exercise, attempt) in enumerate(zip(exercises, attempts), start=1):
            row[f"{prefix}{n}_title"] = exercise.title
            row[f"{prefix}{n}_type"] = exercise.type
            row[f"{prefix}{n}_result"] = attempt.result if attempt else None
            row[f"{prefix}{n}_finished_at"] = attempt.finished_at if attempt else None
        return row

    def event_exercises(self, event_id: str) -> list[dict[str, Any]]:
        event, now = self.event(event_id), self.clock.now()
        rows = []
        for p in event.participants:
            row = {
                "event_id": event.id,
                "event_name": event.name,
                "email": p.email,
                "name": p.name,
                "workspace_id": p.workspace_id,
            }
            row.update(self._exercise_columns(event.exercises, p, now, "exercise_"))
            rows.append(row)
        return rows

    def _enrollments_at(self, course: Course, now: datetime) -> list[Learner]:
        return [e for e in course.enrollments if e.enrolled_at <= now]

    @staticmethod
    def _started(learner: Learner, now: datetime) -> datetime | None:
        return learner.started_at if learner.started_at is not None and learner.started_at <= now else None

    def _enrollment_status(self, learner: Learner, now: datetime) -> str:
        if self._started(learner, now) is None:
            return "enrolled"
        last = learner.last_activity()
        return learner.fate if last is not None and last <= now else "started"

    def course_enrollments(self, course_id: str) -> list[dict[str, Any]]:
        course, now = self.course(course_id), self.clock.now()
        rows = []
        for e in self._enrollments_at(course, now):
            started = self._started(e, now)
            row = {
                "course_id": course.id,
                "course_name": course.name,
                "enrollment_id": e.enrollment_id,
                "email": e.email,
                "name": e.name,
                "workspace_id": e.workspace_id,
                "enrolled_at": e.enrolled_at,
                "started_at": started,
                "status": self._enrollment_status(e, now),
            }
            columns = self._exercise_columns(course.exercises, e, now, "exercise")
            row.update({k: columns[k] for k in ("exercises_finished", "exercises_count", "all_exercises_completed")})
            rows.append(row)
        return rows

    def course_exercises(self, course_id: str) -> list[dict[str, Any]]:
        course, now = self.course(course_id), self.clock.now()
        rows = []
        for e in self._enrollments_at(course, now):
            row = {
                "course_id": course.id,
                "course_name": course.name,
                "enrollment_id": e.enrollment_id,
                "email": e.email,
                "name": e.name,
                "workspace_id": e.workspace_id,
            }
            row.update(self._exercise_columns(course.exercises, e, now, "exercise"))
            rows.append(row)
        return rows

    def activity_window(self, start: datetime | None, end: datetime | None) -> Window:
        """[from, to] with the documented defaults (a month before now, now); from after to is refused."""
        now = self.clock.now()
        end = now if end is None else end
        defaulted = start is None
        start = one_month_before(now) if start is None else start
        if start > end:
            detail = f" (from defaults to one month before now, {iso_ms(start)})" if defaulted else ""
            raise RequestValidationError([("body", "from", f"from must not be after to{detail}")])
        return Window(start, end)

    @staticmethod
    def _sessions(learner: Learner, window: Window, now: datetime) -> tuple[list[dict[str, Any]], int | float]:
        """Sessions that ended by now and overlap [from, to] (not clipped), and their total in seconds."""
        sessions, total = [], 0
        for s in learner.sessions:
            if s.end <= now and s.start <= window.end and s.end >= window.start:
                duration = seconds(s.duration_ms)
                sessions.append({"session_start_time": s.start, "session_end_time": s.end,
                                 "session_duration_in_seconds": duration})
                total += duration  # a JavaScript reduce: 262.602 + 140.796 is 403.39799999999997
        return sessions, total

    def event_user_activity(self, event_id: str, window: Window) -> list[dict[str, Any]]:
        return list(self.event_user_activity_rows(event_id, window)())

    def event_user_activity_rows(self, event_id: str, window: Window) -> Callable[[], Iterator[dict[str, Any]]]:
        """A function that gives the report's rows one by one (as often as it is called); an unknown event raises here."""
        event, now = self.event(event_id), self.clock.now()
        return lambda: self._event_user_activity(event, window, now)

    def _event_user_activity(self, event: Event, window: Window, now: datetime) -> Iterator[dict[str, Any]]:
        for p in event.participants:
            started = self._started(p, now)
            if started is None:
                status = "created"
            else:
                status = "done" if event.ends_at <= now else "running"
            sessions, total = self._sessions(p, window, now)
            yield {
                "event_id": event.id,
                "workspace_id": p.workspace_id,
                "name": p.name,
                "email": p.email,
                "role": p.role,
                "status": status,
                "started_at": started,
                "sessions": sessions,
                "total_session_time": total,
                "from": window.start,
                "to": window.end,
            }

    def course_user_activity(self, course_id: str, window: Window) -> list[dict[str, Any]]:
        return list(self.course_user_activity_rows(course_id, window)())

    def course_user_activity_rows(self, course_id: str, window: Window) -> Callable[[], Iterator[dict[str, Any]]]:
        """A function that gives the report's rows one by one (as often as it is called); an unknown course raises here."""
        course, now = self.course(course_id), self.clock.now()
        return lambda: self._course_user_activity(course, window, now)

    def _course_user_activity(self, course: Course, window: Window, now: datetime) -> Iterator[dict[str, Any]]:
        for e in self._enrollments_at(course, now):
            started = self._started(e, now)
            sessions, total = self._sessions(e, window, now)
            yield {
                "course_id": course.id,
                "workspace_id": e.workspace_id,
                "enrollment_id": e.enrollment_id,
                "name": e.name,
                "email": e.email,
                "status": self._enrollment_status(e, now),
                "enrolled_at": e.enrolled_at,
                "started_at": started,
                "sessions": sessions,
                "total_session_time": total,
                "from": window.start,
                "to": window.end,
            }
