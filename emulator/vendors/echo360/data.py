"""The Echo360 world and its activity. Never imports Flask.

Entities (institution, courses, sections per term, lessons, media, students, instructors) are made
on demand, each from (seed, kind, index), and kept in bounded caches (see EchoWorld), so the world
costs nothing until used and its memory is bounded at any --scale. Activity is generated per day from (seed, family, day) - or, for
activity tied to one lecture (live views, poll responses), from (seed, family, media) and filed
under the day of that lecture - so the same window gives the same rows and overlapping windows
agree on their common days. Every report row is an event `(ts, head, tail)`: the row is
`head + (timestamp,) + tail`, with the tuples prebuilt per media and per person, so that a row
costs two tuple concatenations and no Faker call.

Times are whole epoch seconds (UTC); a day is an epoch-day number.
"""
from __future__ import annotations

import functools
import re
import uuid
from array import array
from bisect import bisect_left, bisect_right
from itertools import groupby
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import itemgetter
from typing import Callable, Iterator

DAY = 86400
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

# Sizes at scale 1 (each multiplied by --scale; a scenario's `world: {echo360: {...}}` may set them).
BASE_SIZES = {"courses": 12, "students": 300, "instructors": 15, "media": 600}
# Mean events per day at scale 1 and 300 students; daily activity follows the number of students.
DAILY = {
    "video_sessions": 150,  # videoview: ~25 ticks of 30 s each
    "player_sessions": 40,  # viewsessions / viewsessiondetails
    "presentation_views": 60,
    "confused": 8,
    "notes": 20,
    "questions": 12,
    "downloads": 10,
}
MEAN_TICKS = 24
GZIP_LEVEL = 4  # zlib level of the reports' gzip files: 30% faster than 6 for 5% more bytes

DEPARTMENTS = (
    ("Biology", "BIO", ("Introduction to Biology", "Cell Biology", "Genetics", "Ecology")),
    ("Chemistry", "CHEM", ("General Chemistry", "Organic Chemistry", "Physical Chemistry")),
    ("Physics", "PHYS", ("Mechanics", "Electricity and Magnetism", "Quantum Physics")),
    ("Mathematics", "MATH", ("Calculus I", "Linear Algebra", "Probability and Statistics")),
    ("Economics", "ECON", ("Principles of Microeconomics", "Macroeconomics", "Econometrics")),
    ("History", "HIST", ("World History", "Modern Europe", "History of Science")),
    ("Psychology", "PSYC", ("Introduction to Psychology", "Cognitive Psychology", "Social Psychology")),
    ("Computer Science", "CS", ("Programming Fundamentals", "Data Structures", "Databases")),
)
CAMPUSES = {"Main Campus": ("Science Hall", "Humanities Building", "Library"), "North Campus": ("Engineering Center",)}
SCHEDULED_DEVICES = ("ESS Classroom Capture", "Pro Capture", "Universal Capture: Classroom")
AD_HOC_DEVICES = ("Universal Capture: Personal", "Zoom", "OneDrive", "Upload")
TOPICS = ("key definitions", "the main theorem", "last week's reading", "the lab results", "the worked example",
          "the exam format", "the case study", "the second model", "the assignment", "the diagram on slide 4")
WORDS = ("review", "exam", "important", "definition", "example", "ask", "later", "formula", "chapter", "compare",
         "remember", "lab", "slide", "key", "idea", "proof", "graph", "check", "reading", "question")
# Media kinds in the order lectures are captured: 7 videos (2 of them live-streamed), 2 presentations
# and 1 interactive media in every 10.
KIND_PATTERN = ("video", "video", "presentation", "video", "video", "interactive", "video", "presentation", "video", "video")
LIVE_SLOTS = (0, 6)
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 2, 3, 5, 8, 10, 11, 11, 10, 10, 11, 11, 10, 9, 9, 10, 10, 8, 5, 2)
_HOUR_CUM = [sum(HOUR_WEIGHTS[: i + 1]) / sum(HOUR_WEIGHTS) for i in range(24)]


# The most a scenario's world may ask for (checked when it loads: emulator/vendors/echo360/__init__.py),
# --scale included: what --scale 1000 makes, so every scale's defaults are allowed. The world is made by
# index, so its memory is bounded at any size, but a report's work is not: a dated report's rows follow
# the students (a 1-day videoview of 300,000 is 3.8M rows, 2 minutes to write, 7 days 8 minutes; of
# 1,000,000, 12.7M rows and 6 minutes for one day), the asset reports list every video (600,000 media: 65 s; 1,000,000: 114 s), and past
# the course cache every media's course and sections are made again (1,000,000 courses: the asset
# listing 2.3 times slower). Measured with bench/echo360_report.py (docs/performance.md).
MAX_SIZES = {"students": 300_000, "media": 600_000, "courses": 12_000}


def world_sizes(section: dict, scale: int) -> dict[str, int]:
    """The sizes a world's `echo360` section makes: each count it gives, as given (not multiplied by the
    scale; 0 is an empty world: no students means no activity, no media no views), the others base x
    scale; at least one instructor per course."""
    sizes = {}
    for key, base in BASE_SIZES.items():
        value = section.get(key)
        given = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        sizes[key] = value if given else base * scale
    sizes["instructors"] = max(sizes["instructors"], sizes["courses"])
    return sizes


def make_uuid(rng) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


# --- timestamps ----------------------------------------------------------------------------------

_TIME_OF_DAY: list[str] = []
_DAY_PREFIX: dict[int, str] = {}


def format_ts(sec: int) -> str:
    """2026-01-15T10:22:31.000Z from epoch seconds, through cached tables (no strftime per row)."""
    if len(_TIME_OF_DAY) < DAY:
        # Built whole, then put in place in one step: reports are generated on several threads, and
        # another thread must never index a half-built table.
        table = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.000Z" for s in range(DAY)]
        _TIME_OF_DAY[:] = table
    day, rest = divmod(sec, DAY)
    prefix = _DAY_PREFIX.get(day)
    if prefix is None:
        prefix = _DAY_PREFIX[day] = day_date(day).isoformat() + "T"
    return prefix + _TIME_OF_DAY[rest]


def day_date(day: int) -> date:
    return date.fromordinal(EPOCH_ORDINAL + day)


def epoch(value: datetime) -> int:
    return int(value.timestamp())


def term_name(sec: int) -> str:
    d = day_date(sec // DAY)
    season = "Spring" if d.month <= 5 else "Summer" if d.month <= 7 else "Fall"
    return f"{season} {d.year}"


def _intervals_text(intervals) -> str:
    return "[" + ",".join(f"[{a},{b}]" for a, b in intervals) + "]"


# --- entities ------------------------------------------------------------------------------------

# The world is made lazily, by index: each entity is a pure function of (seed, kind, index) and is kept
# in a bounded cache (functools.lru_cache, least recently used out). Sizes at --scale 1000: 300,000
# students, 15,000 instructors, 12,000 courses, ~90,000 sections, 600,000 media; the caches hold:
CACHE_PEOPLE = 30_000  # students, and instructors apart (~0.4 kB each: ~12 MB at most)
CACHE_COURSES = 20_000  # courses (~0.4 kB each)
CACHE_SECTIONS = 10_000  # (course, term) -> its one or two sections (~0.6 kB: ~6 MB)
CACHE_MEDIA = 20_000  # media by index (~1 kB each with polls: ~20 MB)
CACHE_DAYS = 64  # per day: the media published that day (per kind group), the lectures of a day
CACHE_INDEX = 4096  # capture day -> first media index


@dataclass(slots=True)
class Person:
    id: str
    first: str
    last: str
    email: str
    role: str
    tail: tuple = ()  # (id, first, last, email, role): the columns every report ends a user with


@dataclass(slots=True)
class Course:
    id: str
    identifier: str
    name: str
    department: str
    lms_id: str
    lms_identifier: str
    lms_name: str


@dataclass(slots=True)
class Section:
    id: str
    number: str
    course: Course
    term: str
    instructor: Person
    roster: range  # indexes of students: distinct, made by arithmetic


@dataclass(slots=True)
class Poll:
    id: str
    prompt: str
    content: str
    options: tuple[str, ...]
    solution: str
    editable: bool
    deleted_after: int | None  # seconds after the lecture, when the poll was deleted


@dataclass(slots=True)
class Media:
    id: str
    kind: str  # video, presentation, interactive
    name: str
    section: Section
    lesson_id: str
    lesson_name: str
    created: int
    published: int
    duration_s: int
    scheduled: int = 0
    transcribed: int = 0
    device: str = ""
    room: tuple[str, str, str] = ("", "", "")  # room, building, campus
    live: bool = False
    slide_count: int = 0
    polls: list[Poll] = field(default_factory=list)
    head7: tuple = ()  # (id, name, sectionId, sectionNumber, courseId, courseIdentifier, courseName)
    index: int = 0

    @property
    def duration_min(self) -> float:
        return round(self.duration_s / 60, 2)


@dataclass
class Engagement:
    """A video's figures over a window; they are the sums of the events the reports list."""

    last_view: int = 0
    view_count: int = 0
    downloads: int = 0
    view_seconds: float = 0.0
    public: int = 0
    live: int = 0


class Kinds:
    """The media of some kinds, by arithmetic over the media index: media i is `KIND_PATTERN[i % 10]`."""

    def __init__(self, name: str, kinds: tuple[str, ...], media_count: int, span_days: int):
        self.name, self.kinds = name, kinds
        self.slots = [p for p, kind in enumerate(KIND_PATTERN) if kind in kinds]
        # How far back a viewer reaches: the group's media of about 60 days.
        self.window = max(1, self.below(media_count) * 60 // max(span_days, 1))

    def below(self, n: int) -> int:
        """How many of the media 0..n-1 are of these kinds."""
        whole, rest = divmod(n, len(KIND_PATTERN))
        return whole * len(self.slots) + sum(1 for p in self.slots if p < rest)

    def nth(self, k: int) -> int:
        """The media index of the k-th (from 0) media of these kinds."""
        whole, rest = divmod(k, len(self.slots))
        return whole * len(KIND_PATTERN) + self.slots[rest]


def _weekday(day: int) -> int:
    return (day + 3) % 7  # 1970-01-01 was a Thursday


def term_start_day(term: str) -> int:
    season, year = term.split()
    month = {"Spring": 1, "Summer": 6, "Fall": 8}[season]
    return date(int(year), month, 1).toordinal() - EPOCH_ORDINAL


class VideoSessions:
    """One day's video sessions as numbers, four per session (start, media index, student index,
    number of 30-second ticks), sorted by start: about 32 bytes a session, where the rows they stand
    for (a videoview row every 30 s) are made an hour at a time by `between`, and the media and people
    come from the world's bounded caches."""

    def __init__(self, world: EchoWorld, numbers: array):
        self.world = world
        order = sorted(range(len(numbers) // 4), key=lambda k: numbers[4 * k])
        self.numbers = array("q")
        for k in order:
            self.numbers.extend(numbers[4 * k:4 * k + 4])
        self.starts = self.numbers[0::4]
        self.longest = max((30 * (n - 1) for n in self.numbers[3::4]), default=0)

    def __iter__(self) -> Iterator[tuple[int, int, int, int]]:
        return zip(*[iter(self.numbers)] * 4)

    def between(self, a: int, b: int) -> list[tuple]:
        """The videoview events (ts, head, tail) with a <= ts < b, by session then tick."""
        w, numbers, out = self.world, self.numbers, []
        for k in range(bisect_left(self.starts, a - self.longest), bisect_left(self.starts, b)):
            t, media_index, student, ticks = numbers[4 * k:4 * k + 4]
            first, end = max(0, -((t - a) // 30)), min(ticks, -((t - b) // 30))
            if first < end:
                media = w.media(media_index)
                head, tail = media.head7, (media.duration_min,) + w.student(student).tail
                out.extend((t + 30 * j, head, tail) for j in range(first, end))
        return out


class EchoWorld:
    """One institution's world, made on demand by index (see the caches above): nothing is built whole,
    so making it costs nothing and its memory is bounded at any --scale. The same seed gives the same
    entity whatever asked for it first, in any process."""

    def __init__(self, world, sizes: dict[str, int]):
        self.world = world
        self.sizes = sizes
        self.activity = sizes["students"] / BASE_SIZES["students"]
        rng = world.rng("echo360", "institution")
        self.firsts, self.lasts = world.pool("first_name", 500), world.pool("last_name", 500)
        self.organization = f"{self.lasts[rng.randrange(len(self.lasts))]} University"
        self.domain = re.sub(r"[^a-z]", "", self.organization.split()[0].lower()) + ".edu"
        self.rooms = [(f"{building.split()[0]} {100 + 10 * r + b}", building, campus)
                      for campus, buildings in CAMPUSES.items() for b, building in enumerate(buildings) for r in range(3)]
        # Media: lectures captured on weekdays in class hours, spread evenly over the history (and the
        # weeks before it), kinds interleaved in a fixed pattern, so every week has lectures of each kind
        # (live-streamed ones, presentations with polls) whatever the seed.
        self.first_sec = epoch(world.history_start) - 60 * DAY
        self.last_sec = epoch(world.anchor) - 6 * 3600
        self.first_day = self.first_sec // DAY
        self.span_days = (self.last_sec - self.first_sec) // DAY
        self.media_count = sizes["media"]
        per_term = max(1, sizes["courses"]) * 1.5
        self.roster_size = min(sizes["students"], max(5, int(sizes["students"] * 4 / per_term)))
        self.videos = Kinds("videos", ("video",), self.media_count, self.span_days)
        self.presentations = Kinds("presentations", ("presentation",), self.media_count, self.span_days)
        self.players = Kinds("players", ("video", "interactive"), self.media_count, self.span_days)  # public links, embeds
        # Bounded caches, one per world (a reference cycle through self: collected with the world).
        self.student = functools.lru_cache(CACHE_PEOPLE)(self._student)
        self.instructor = functools.lru_cache(CACHE_PEOPLE)(self._instructor)
        self.course = functools.lru_cache(CACHE_COURSES)(self._course)
        self.sections = functools.lru_cache(CACHE_SECTIONS)(self._sections)
        self.media = functools.lru_cache(CACHE_MEDIA)(self._media)
        self.first_index = functools.lru_cache(CACHE_INDEX)(self._first_index)
        self.published_on = functools.lru_cache(CACHE_DAYS)(self._published_on)
        self.lectures = functools.lru_cache(CACHE_DAYS)(self._lectures)

    # --- entities by index -----------------------------------------------------------------------

    def _person(self, kind: str, i: int, role: str) -> Person:
        rng = self.world.rng("echo360", kind, i)
        first, last = self.firsts[rng.randrange(len(self.firsts))], self.lasts[rng.randrange(len(self.lasts))]
        local = re.sub(r"[^a-z.]", "", f"{first}.{last}".lower())
        person = Person(make_uuid(rng), first, last, f"{local}{i}@{self.domain}", role)
        person.tail = (person.id, first, last, person.email, role)
        return person

    def _student(self, i: int) -> Person:
        return self._person("student", i, "Student")

    def _instructor(self, i: int) -> Person:
        return self._person("instructor", i, "Instructor")

    def _course(self, i: int) -> Course:
        rng = self.world.rng("echo360", "course", i)
        dept, code, titles = DEPARTMENTS[i % len(DEPARTMENTS)]
        number = 100 + 100 * (i // len(DEPARTMENTS) % 4) + i // (4 * len(DEPARTMENTS)) + (i % len(DEPARTMENTS))
        identifier = f"{code} {number}"
        return Course(make_uuid(rng), identifier, titles[i // len(DEPARTMENTS) % len(titles)], dept,
                      f"_{100000 + i}_1", f"{identifier.replace(' ', '')}-LMS", f"{identifier} {titles[0]}"[:60])

    def _sections(self, course_index: int, term: str) -> tuple[Section, ...]:
        """A course's one or two sections in a term, each with its instructor and roster."""
        rng = self.world.rng("echo360", "sections", course_index, term)
        course = self.course(course_index)
        return tuple(Section(make_uuid(rng), f"{n + 1:03d}", course, term,
                             self.instructor(rng.randrange(self.sizes["instructors"])), self._roster(rng))
                     for n in range(1 + (rng.random() < 0.5)))

    def _roster(self, rng) -> range:
        """roster_size distinct students, as a range with a random start and stride: no list to keep."""
        students, size = self.sizes["students"], self.roster_size
        stride = rng.randrange(1, max(1, (students - 1) // max(1, size - 1)) + 1)
        start = rng.randrange(students - (size - 1) * stride)
        return range(start, start + size * stride, stride)

    def capture_day(self, i: int) -> int:
        """The day media i was captured: spread evenly, a weekend's moved to its Friday (monotonic in i)."""
        day = self.first_day + i * self.span_days // self.media_count
        weekday = _weekday(day)
        return day - (weekday - 4) if weekday >= 5 else day

    def _first_index(self, day: int) -> int:
        """The first media index captured on or after day (media_count if none)."""
        lo, hi = 0, self.media_count
        while lo < hi:
            mid = (lo + hi) // 2
            if self.capture_day(mid) < day:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def day_media(self, day: int) -> range:
        """The indexes of the media captured on day."""
        return range(self.first_index(day), self.first_index(day + 1))

    def _media(self, i: int) -> Media:
        rng = self.world.rng("echo360", "media", i)
        day = self.capture_day(i)
        created = min(day * DAY + rng.randrange(8, 18) * 3600 + rng.randrange(0, 3600, 60), self.last_sec)
        course_index = rng.randrange(self.sizes["courses"])
        course = self.course(course_index)
        term = term_name(created)
        section = rng.choice(self.sections(course_index, term))
        kind = KIND_PATTERN[i % len(KIND_PATTERN)]
        live_slot = i % len(KIND_PATTERN) in LIVE_SLOTS
        n = 1 + (day - term_start_day(term)) * 5 // 7  # about one class a weekday since the term began
        lesson_name = f"{course.identifier} Class {day_date(created // DAY).strftime('%b %d')}"
        if kind == "video":
            duration = rng.randrange(10, 76) * 60 + rng.randrange(60)
            scheduled = int(live_slot or rng.random() < 0.5)
            media = Media(make_uuid(rng), kind, f"{course.identifier} - Lecture {n}", section, make_uuid(rng),
                          lesson_name, created, created + duration + rng.randrange(600, 7200), duration,
                          scheduled=scheduled, transcribed=int(rng.random() < 0.6),
                          device=rng.choice(SCHEDULED_DEVICES if scheduled else AD_HOC_DEVICES),
                          room=rng.choice(self.rooms) if scheduled else ("", "", ""),
                          live=live_slot)
        elif kind == "presentation":
            media = Media(make_uuid(rng), kind, f"{course.identifier} - Slides {n}", section, make_uuid(rng),
                          lesson_name, created, created, 50 * 60, slide_count=rng.randrange(10, 61))
            media.polls = [self._poll(rng, course) for _ in range(rng.choice((1, 1, 2, 3)))]
        else:
            duration = rng.randrange(5, 21) * 60 + rng.randrange(60)
            media = Media(make_uuid(rng), kind, f"{course.identifier} - Interactive Module {n}", section,
                          make_uuid(rng), lesson_name, created, created, duration)
            media.polls = [self._poll(rng, course) for _ in range(rng.randrange(1, 4))]
        media.head7 = (media.id, media.name, section.id, section.number, course.id, course.identifier, course.name)
        media.index = i
        return media

    @staticmethod
    def _poll(rng, course: Course) -> Poll:
        options = ("A", "B", "C", "D")[: rng.randrange(2, 5)]
        content = '{"type":"MultipleChoice","options":[' + ",".join(f'"{o}"' for o in options) + "]}"
        deleted_after = rng.randrange(3600, 3 * DAY) if rng.random() < 0.05 else None
        return Poll(make_uuid(rng), f"{course.identifier}: which statement about {rng.choice(TOPICS)} is true?",
                    content, options, rng.choice(options), rng.random() < 0.5, deleted_after)

    def _published_on(self, kinds: Kinds, day: int) -> tuple[list[int], list[int]]:
        """The media of kinds captured on day, by publication time: (times, indexes). A media is
        published on its capture day (class hours end at 18:00; the longest video is out by 21:20)."""
        found = sorted((self.media(i).published, i) for i in self.day_media(day) if KIND_PATTERN[i % 10] in kinds.kinds)
        return [p for p, _ in found], [i for _, i in found]

    def _lectures(self, day: int) -> list[Media]:
        """The media captured on day that hold a live stream or polls."""
        found = (self.media(i) for i in self.day_media(day) if i % len(KIND_PATTERN) in LIVE_SLOTS
                 or KIND_PATTERN[i % len(KIND_PATTERN)] != "video")
        return [m for m in found if m.live or m.polls]

    def media_before(self, t: int) -> tuple[int, list[int]]:
        """The media captured before t: (n, today), every index below n and the indexes in today
        (captured on t's day, before t, in index order)."""
        day = t // DAY
        n = self.first_index(day)
        return n, [i for i in self.day_media(day) if self.media(i).created < t]

    # --- helpers ---------------------------------------------------------------------------------

    def count(self, rng, day: int, what: str) -> int:
        weekend = _weekday(day) >= 5
        mean = DAILY[what] * self.activity * (0.5 if weekend else 1.0)
        return int(mean * (0.8 + 0.4 * rng.random()) + 0.5)

    @staticmethod
    def time_in_day(rng, day: int) -> int:
        return day * DAY + bisect_right(_HOUR_CUM, rng.random()) * 3600 + rng.randrange(3600)

    def recent(self, rng, kinds: Kinds, t: int) -> Media | None:
        """A media of kinds published at or before t, most likely a recent one (students watch this
        week's lectures): those of the days before t's, by index, then t's own by publication time."""
        day = t // DAY
        before = kinds.below(self.first_index(day))
        times, today = self.published_on(kinds, day)
        k = before + bisect_right(times, t)
        if k == 0:
            return None
        pos = k - 1 - int(rng.random() ** 2 * min(k, kinds.window))
        return self.media(today[pos - before] if pos >= before else kinds.nth(pos))

    def viewer(self, rng, media: Media) -> Person:
        roster = media.section.roster
        return self.student(roster[int(rng.random() * len(roster))])

    def day_rng(self, family: str, day: int):
        return self.world.rng("echo360", family, day_date(day).isoformat())

    # --- activity, per day -----------------------------------------------------------------------

    def video_sessions(self, day: int) -> VideoSessions:
        """Classroom / media-details / group views of one day, kept as numbers (see VideoSessions)."""
        rng = self.day_rng("video_sessions", day)
        numbers = array("q")
        for _ in range(self.count(rng, day, "video_sessions")):
            t = self.time_in_day(rng, day)
            media = self.recent(rng, self.videos, t)
            if media is None:
                continue
            ticks = min(media.duration_s // 30, 1 + int(rng.expovariate(1 / MEAN_TICKS)))
            roster = media.section.roster
            numbers.extend((t, media.index, roster[int(rng.random() * len(roster))], ticks))
        return VideoSessions(self, numbers)

    def player_sessions(self, day: int) -> Iterator[dict]:
        """Public-link, embedded and interactive view sessions with their ~30-second beacons, one at a
        time (a day's hold ~400,000 beacons at --scale 1000)."""
        rng = self.day_rng("player_sessions", day)
        for _ in range(self.count(rng, day, "player_sessions")):
            t = self.time_in_day(rng, day)
            media = self.recent(rng, self.players, t)
            if media is None:
                continue
            user = self.viewer(rng, media)
            channel = rng.choice(("public", "embed", "embed", "details" if media.kind == "interactive" else "public"))
            speed = rng.choice((100, 100, 100, 125, 150, 200))
            volume = rng.choice((100, 100, 80, 50))
            cc, transcript = ("TRUE" if rng.random() < 0.15 else "FALSE"), ("TRUE" if rng.random() < 0.1 else "FALSE")
            length = media.duration_s * 1000
            start_pos = 0 if rng.random() < 0.8 else rng.randrange(0, length // 2, 1000)
            pos, wall, played = start_pos, t, []
            beacons = []
            for _ in range(1 + int(rng.expovariate(1 / 10))):
                if pos >= length:
                    break
                if rng.random() < 0.08 and pos + 70000 < length:
                    pos += rng.randrange(10000, 60000, 1000)  # the viewer skipped forward
                a, b = pos, min(length, pos + 30000 * speed // 100)
                pos, wall = b, wall + 30
                beacons.append((wall, a, b))
                if played and played[-1][1] == a:
                    played[-1][1] = b
                else:
                    played.append([a, b])
            stale = rng.random() < 0.1
            end = wall + 48 * 3600 if stale else wall + rng.randrange(1, 25)
            yield {
                "id": make_uuid(rng), "start": t, "media": media, "user": user, "channel": channel,
                "lms": media.section.course.lms_name if channel == "embed" else "", "speed": speed, "volume": volume,
                "cc": cc, "transcript": transcript, "start_pos": start_pos, "beacons": beacons,
                "end": end, "end_status": "SESSION_STALE" if stale else "SESSION_END",
                "played": _intervals_text(played), "final_pos": pos,
            }

    def live_viewers(self, media: Media) -> list[tuple[Person, list[tuple[int, str, str]]]]:
        """Viewers of a lecture's live stream: each with (ts, scope, JOIN|LEAVE) events, in order."""
        rng = self.world.rng("echo360", "liveviews", media.id)
        roster = media.section.roster
        viewers = []
        for i in rng.sample(range(len(roster)), int(len(roster) * (0.2 + 0.3 * rng.random()))):
            join = media.created + rng.randrange(0, 600)
            stream = join + rng.randrange(2, 30)
            leave = max(stream + 60, media.created + media.duration_s - rng.randrange(0, 900))
            events = [(join, "CLASSROOM", "JOIN"), (stream, "LIVE_STREAM", "JOIN")]
            if rng.random() < 0.2 and leave - stream > 600:  # hid the stream for a while, then showed it again
                hide = stream + rng.randrange(60, (leave - stream) // 2)
                events += [(hide, "LIVE_STREAM", "LEAVE"), (hide + rng.randrange(20, 300), "LIVE_STREAM", "JOIN")]
            if rng.random() < 0.2:  # closed the window: both LEAVEs generated 32-62 s later
                auto = leave + rng.randrange(32, 63)
                events += [(auto, "LIVE_STREAM", "LEAVE"), (auto, "CLASSROOM", "LEAVE")]
            else:
                events += [(leave, "LIVE_STREAM", "LEAVE"), (leave + rng.randrange(1, 10), "CLASSROOM", "LEAVE")]
            viewers.append((self.student(roster[i]), events))
        return viewers

    def poll_responses(self, media: Media) -> list[tuple[int, Poll, str, str, str, Person]]:
        """(ts, poll, action, answerId, answer, user): in-class answers, a few edits, deletions."""
        rng = self.world.rng("echo360", "poll_responses", media.id)
        roster = media.section.roster
        out = []
        for poll in media.polls:
            asked = media.created + rng.randrange(300, max(media.duration_s, 600))
            deleted = asked + poll.deleted_after if poll.deleted_after else None
            for i in rng.sample(range(len(roster)), int(len(roster) * (0.3 + 0.5 * rng.random()))):
                user = self.student(roster[i])
                t = asked + rng.randrange(5, 120) if rng.random() < 0.85 else asked + rng.randrange(3600, 3 * DAY)
                if deleted is not None and t >= deleted:
                    continue
                answer_id, answer = make_uuid(rng), rng.choice(poll.options)
                out.append((t, poll, "Created", answer_id, answer, user))
                if poll.editable and rng.random() < 0.15:
                    t += rng.randrange(5, 120)
                    answer = rng.choice(poll.options)
                    out.append((t, poll, "Updated", answer_id, answer, user))
                if deleted is not None:
                    out.append((deleted, poll, "Deleted", answer_id, answer, user))
        return out

    def questions(self, day: int) -> list[tuple[int, str, str, str, Media, Person, str, str, Person | None]]:
        """Q&A: (ts, entity, action, questionId, media (for its section), asker, question, answerId, answerer)."""
        rng = self.day_rng("questions", day)
        rows = []
        for _ in range(self.count(rng, day, "questions")):
            t = self.time_in_day(rng, day)
            media = self.recent(rng, self.videos, t)
            if media is None:
                continue
            asker, qid = self.viewer(rng, media), make_uuid(rng)
            text = f"Could you explain {rng.choice(TOPICS)} again?"
            rows.append((t, "Question", "Created", qid, media, asker, text, "", None, ""))
            if rng.random() < 0.1:
                text2 = text + " I still do not follow it."
                rows.append((t + rng.randrange(60, 3600), "Question", "Updated", qid, media, asker, text2, "", None, ""))
            for _ in range(rng.choice((0, 1, 1, 2))):
                by = media.section.instructor if rng.random() < 0.6 else self.viewer(rng, media)
                at = t + rng.randrange(300, 2 * DAY)
                aid = make_uuid(rng)
                reply = f"See {rng.choice(TOPICS)} in the lecture notes."
                rows.append((at, "Response", "Created", qid, media, asker, text, aid, by, reply))
                if rng.random() < 0.05:
                    rows.append((at + rng.randrange(60, 3600), "Response", "Deleted", qid, media, asker, text, aid, by, reply))
        return rows

    def presentation_events(self, day: int, what: str) -> list[tuple[int, Media, Person, object]]:
        """Presentation views, confusion marks or notes of one day: (ts, presentation, user, extra)."""
        rng = self.day_rng(what, day)
        out = []
        for _ in range(self.count(rng, day, what)):
            t = self.time_in_day(rng, day)
            media = self.recent(rng, self.presentations, t)
            if media is None:
                continue
            user = self.viewer(rng, media)
            extra: object = None
            if what == "notes":
                words = [rng.choice(WORDS) for _ in range(rng.randrange(1, 25))]
                extra = ('{"slideNumber":' + str(rng.randrange(1, media.slide_count + 1)) + ',"text":"'
                         + " ".join(words) + '"}', len(words))
            out.append((t, media, user, extra))
        return out

    def downloads(self, day: int) -> list[tuple[int, Media]]:
        rng = self.day_rng("downloads", day)
        out = []
        for _ in range(self.count(rng, day, "downloads")):
            t = self.time_in_day(rng, day)
            media = self.recent(rng, self.videos, t)
            if media is not None:
                out.append((t, media))
        return out

    # --- the asset reports -----------------------------------------------------------------------

    def engagement(self, lo: int, hi: int) -> dict[int, Engagement]:
        """Each video's figures over [lo, hi), summed from the same events the other reports list:
        a view is counted at its start (videoview session, view session BEGIN, first LIVE_STREAM
        JOIN); watched time is 30 s per videoview tick, the beacon intervals of view sessions and the
        LIVE_STREAM JOIN..LEAVE spans (counted at the JOIN), each at its own timestamp in the window."""
        figures: dict[int, Engagement] = {}  # by media index

        def get(media: Media) -> Engagement:
            e = figures.get(media.index)
            if e is None:
                e = figures[media.index] = Engagement()
            return e

        def view(e: Engagement, t: int) -> None:
            e.view_count += 1
            e.last_view = max(e.last_view, t)

        for day in range(lo // DAY - 3, (hi - 1) // DAY + 1):
            for t, media_index, _student, ticks in self.video_sessions(day):
                media = self.media(media_index)
                inside = sum(1 for j in range(ticks) if lo <= t + 30 * j < hi)
                if lo <= t < hi or inside:
                    e = get(media)
                    e.view_seconds += 30 * inside
                    if lo <= t < hi:
                        view(e, t)
            for s in self.player_sessions(day):
                if s["media"].kind != "video":
                    continue
                e = None
                if lo <= s["start"] < hi:
                    e = get(s["media"])
                    view(e, s["start"])
                    e.public += s["channel"] == "public"
                for wall, a, b in s["beacons"]:
                    if lo <= wall < hi:
                        e = e or get(s["media"])
                        e.view_seconds += (b - a) / 1000
            for media in self.lectures(day):
                if not media.live:
                    continue
                for _user, events in self.live_viewers(media):
                    joins = [ts for ts, scope, ev in events if scope == "LIVE_STREAM" and ev == "JOIN"]
                    leaves = [ts for ts, scope, ev in events if scope == "LIVE_STREAM" and ev == "LEAVE"]
                    for join, leave in zip(joins, leaves):
                        if lo <= join < hi:
                            e = get(media)
                            e.view_seconds += leave - join
                            if join == joins[0]:
                                view(e, join)
                                e.live += 1
            for t, media in self.downloads(day):
                if lo <= t < hi:
                    get(media).downloads += 1
        return figures

    def asset_batches(self, lo: int, hi: int, cutoff: int, all_videos: bool, batch: int = 5000) -> Iterator[list[tuple]]:
        """The asset report's rows: every video captured before cutoff (or only those with activity in
        [lo, hi)), in the order they were captured, in batches."""
        figures = self.engagement(lo, hi)
        if all_videos:
            indexes: Iterator[int] = (self.videos.nth(k) for k in range(self.videos.below(self.media_count)))
        else:
            indexes = iter(sorted(figures))
        rows = []
        for day, group in groupby(indexes, key=self.capture_day):
            if day > cutoff // DAY:
                break
            for media in sorted((self.media(i) for i in group), key=lambda m: (m.created, m.index)):
                if media.created >= cutoff:
                    continue
                e = figures.get(media.index) or Engagement()
                section, course = media.section, media.section.course
                owner = section.instructor
                rows.append((
                    media.name, format_ts(media.created), section.number, f"{owner.first} {owner.last}", media.id,
                    media.scheduled, course.id, self.organization, course.department, media.room[0], media.room[1],
                    media.room[2], section.term, media.transcribed, media.device, media.duration_min,
                    format_ts(e.last_view) if e.view_count else "", e.view_count, e.downloads,
                    round(e.view_seconds / 60, 2), e.public, e.view_count - e.public, e.live, e.view_count - e.live,
                    day_date(media.published // DAY).isoformat(),
                ))
            if len(rows) >= batch:
                yield rows
                rows = []
        if rows:
            yield rows


# --- events per report: (ts, head, tail), the row being head + (timestamp,) + tail ----------------

def videoview_events(w: EchoWorld, day: int) -> VideoSessions:
    return w.video_sessions(day)


def liveviews_events(w: EchoWorld, day: int) -> list:
    out = []
    for media in w.lectures(day):
        if media.live:
            for user, events in w.live_viewers(media):
                who = (media.id, media.name) + user.tail
                out.extend((ts, who + (scope, event), ()) for ts, scope, event in events)
    return out


def _session_head(s: dict) -> tuple:
    media, user = s["media"], s["user"]
    section, course = media.section, media.section.course
    return (media.id, media.name, media.duration_min, s["lms"], course.id, course.identifier, course.name,
            section.id, section.number, media.lesson_id, media.lesson_name) + user.tail


def viewsessions_events(w: EchoWorld, day: int) -> list:
    out = []
    for s in w.player_sessions(day):
        middle = _session_head(s)
        out.append((s["start"], (), (s["id"], "SESSION_BEGIN") + middle + ("", 100, 100, s["start_pos"], "FALSE", "FALSE")))
        out.append((s["end"], (), (s["id"], s["end_status"]) + middle
                    + (s["played"], s["speed"], s["volume"], s["final_pos"], s["transcript"], s["cc"])))
    return out


class SessionBeacons:
    """One day's view-session beacons as numbers (time, interval start and end, session), sorted by
    time, with each session's columns kept once: ~40 bytes a beacon instead of a ~350-byte row-to-be.
    `between` makes the viewsessiondetails events of an hour."""

    def __init__(self, sessions: list[tuple], beacons: list[tuple[int, int, int, int]]):
        beacons.sort(key=itemgetter(0))  # stable: a session's beacons stay in order
        self.sessions = sessions
        self.walls, self.starts, self.ends, self.owners = (array("q", column) for column in zip(*beacons)) if beacons \
            else (array("q") for _ in range(4))

    def between(self, lo: int, hi: int) -> list[tuple]:
        out = []
        for k in range(bisect_left(self.walls, lo), bisect_left(self.walls, hi)):
            ident, settings, flags = self.sessions[self.owners[k]]
            a, b = self.starts[k], self.ends[k]
            out.append((self.walls[k], (), ident + (f"[[{a},{b}]]",) + settings + (b,) + flags))
        return out


def viewsessiondetails_events(w: EchoWorld, day: int) -> SessionBeacons:
    sessions, beacons = [], []
    for s in w.player_sessions(day):
        owner = len(sessions)
        sessions.append(((s["id"], s["media"].id, s["media"].name, s["user"].id), (s["speed"], s["volume"]),
                         (s["transcript"], s["cc"])))
        beacons.extend((wall, a, b, owner) for wall, a, b in s["beacons"])
    return SessionBeacons(sessions, beacons)


def presentation_events(w: EchoWorld, day: int) -> list:
    return [(t, m.head7, u.tail + (m.slide_count,)) for t, m, u, _ in w.presentation_events(day, "presentation_views")]


def confused_events(w: EchoWorld, day: int) -> list:
    return [(t, m.head7, u.tail) for t, m, u, _ in w.presentation_events(day, "confused")]


def notes_events(w: EchoWorld, day: int) -> list:
    return [(t, m.head7 + extra, u.tail) for t, m, u, extra in w.presentation_events(day, "notes")]


def polling_events(w: EchoWorld, day: int) -> list:
    out = []
    for media in w.lectures(day):
        if media.kind != "presentation":
            continue
        for t, poll, action, answer_id, answer, user in w.poll_responses(media):
            if action != "Deleted":
                head = media.head7 + (poll.id, poll.prompt, poll.content, poll.solution)
                out.append((t, head, (answer_id, answer, "") + user.tail))
    return out


def pollingv2_events(w: EchoWorld, day: int) -> list:
    out = []
    for media in w.lectures(day):
        course, section = media.section.course, media.section
        base = (media.id, media.name, section.id, section.number, course.id, course.lms_id, course.identifier,
                course.lms_identifier, course.name, course.lms_name)
        for t, poll, action, answer_id, answer, user in w.poll_responses(media):
            out.append((t, base + (poll.id, poll.prompt, poll.content, poll.solution, action), (answer_id, answer) + user.tail))
    return out


def _question_parts(row) -> tuple:
    t, entity, action, qid, media, asker, text, aid, by, reply = row
    section, course = media.section, media.section.course
    question = (qid, text, section.id, section.number, course.id, course.identifier, course.name) + asker.tail
    answer = (aid, reply)
    answerer = by.tail if by is not None else ("", "", "", "", "")
    return t, entity, action, question, answer, answerer


def qanda_events(w: EchoWorld, day: int) -> list:
    out = []
    for row in w.questions(day):
        t, entity, action, question, answer, answerer = _question_parts(row)
        if action == "Created":
            out.append((t, question + answer, answerer))
    return out


def qanda2_events(w: EchoWorld, day: int) -> list:
    out = []
    for row in w.questions(day):
        t, entity, action, question, answer, answerer = _question_parts(row)
        out.append((t, (entity, action) + question + answer, answerer))
    return out


HOURLY = (VideoSessions, SessionBeacons)  # a day's events kept as numbers, made into rows an hour at a time


def event_batches(w: EchoWorld, events: Callable[[EchoWorld, int], list | VideoSessions | SessionBeacons], spill_days: int,
                  lo: int, hi: int, batch: int = 20000) -> Iterator[list[tuple]]:
    """The rows of [lo, hi), day by day in time order. A day's rows come from the events of that day
    and of the `spill_days` before it (sessions that run past midnight, stale sessions, late answers).
    Video sessions and session beacons (VideoSessions, SessionBeacons: a day kept as numbers) are turned
    into rows an hour at a time, so that memory holds one hour of rows, not a day's (millions at --scale 1000)."""
    if lo >= hi:
        return
    cache: dict[int, list | VideoSessions | SessionBeacons] = {}
    for day in range(lo // DAY, (hi - 1) // DAY + 1):
        day_lo, day_hi = max(lo, day * DAY), min(hi, (day + 1) * DAY)
        for source in range(day - spill_days, day + 1):
            if source not in cache:  # what falls before the window is never written: not kept either
                made = events(w, source)
                cache[source] = made if isinstance(made, HOURLY) else [e for e in made if e[0] >= day_lo]
                del made
        for old in [d for d in cache if d < day - spill_days]:
            del cache[old]
        sources = [cache[source] for source in range(day - spill_days, day + 1)]
        step = 3600 if any(isinstance(s, HOURLY) for s in sources) else DAY
        a = day_lo
        while a < day_hi:
            b = min(day_hi, a - a % step + step)  # windows end on the hour (or at midnight)
            todays = []
            for s in sources:
                todays.extend(s.between(a, b) if isinstance(s, HOURLY) else (e for e in s if a <= e[0] < b))
            todays.sort(key=itemgetter(0))
            for i in range(0, len(todays), batch):
                yield [head + (format_ts(ts),) + tail for ts, head, tail in todays[i:i + batch]]
            a = b
        for source, events_of in cache.items():  # keep only what spills past this day
            if not isinstance(events_of, HOURLY):
                cache[source] = [e for e in events_of if e[0] >= (day + 1) * DAY]


def to_epoch_window(start: datetime, end: datetime, history_start: datetime, cutoff: datetime) -> tuple[int, int]:
    """[start, end) clipped to what the world holds: from its history's start to the request's time."""
    lo = max(epoch(start), epoch(history_start))
    hi = min(epoch(end), epoch(cutoff))
    return lo, max(lo, hi)

