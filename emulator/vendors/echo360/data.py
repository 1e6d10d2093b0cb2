"""The Echo360 world and its activity. Never imports Flask.

Entities (institution, courses, sections per term, lessons, media, students, instructors) are made
once per world from the seed. Activity is generated per day from (seed, family, day) - or, for
activity tied to one lecture (live views, poll responses), from (seed, family, media) and filed
under the day of that lecture - so the same window gives the same rows and overlapping windows
agree on their common days. Every report row is an event `(ts, head, tail)`: the row is
`head + (timestamp,) + tail`, with the tuples prebuilt per media and per person, so that a row
costs two tuple concatenations and no Faker call.

Times are whole epoch seconds (UTC); a day is an epoch-day number.
"""
from __future__ import annotations

import re
from array import array
import uuid
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import itemgetter
from typing import Callable, Iterator, Sequence

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

@dataclass(slots=True)
class Person:
    id: str
    first: str
    last: str
    email: str
    role: str

    @property
    def tail(self) -> tuple:
        return (self.id, self.first, self.last, self.email, self.role)


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
    roster: Sequence[int]  # indexes into students, an array: at --scale 1000 there are a million of them


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


class EchoWorld:
    def __init__(self, world, sizes: dict[str, int]):
        self.world = world
        self.sizes = sizes
        self.activity = sizes["students"] / BASE_SIZES["students"]
        rng = world.rng("echo360", "entities")
        firsts, lasts = world.pool("first_name", 500), world.pool("last_name", 500)
        self.organization = f"{lasts[rng.randrange(len(lasts))]} University"
        domain = re.sub(r"[^a-z]", "", self.organization.split()[0].lower()) + ".edu"

        def person(i: int, role: str) -> Person:
            first, last = firsts[rng.randrange(len(firsts))], lasts[rng.randrange(len(lasts))]
            local = re.sub(r"[^a-z.]", "", f"{first}.{last}".lower())
            return Person(make_uuid(rng), first, last, f"{local}{i}@{domain}", role)

        self.students = [person(i, "Student") for i in range(sizes["students"])]
        self.instructors = [person(i, "Instructor") for i in range(sizes["instructors"])]
        self.rooms = [(f"{building.split()[0]} {100 + 10 * r + b}", building, campus)
                      for campus, buildings in CAMPUSES.items() for b, building in enumerate(buildings) for r in range(3)]

        self.courses: list[Course] = []
        for i in range(sizes["courses"]):
            dept, code, titles = DEPARTMENTS[i % len(DEPARTMENTS)]
            number = 100 + 100 * (i // len(DEPARTMENTS) % 4) + i // (4 * len(DEPARTMENTS)) + (i % len(DEPARTMENTS))
            identifier = f"{code} {number}"
            self.courses.append(Course(make_uuid(rng), identifier, titles[i // len(DEPARTMENTS) % len(titles)], dept,
                                       f"_{100000 + i}_1", f"{identifier.replace(' ', '')}-LMS", f"{identifier} {titles[0]}"[:60]))

        # Sections: one or two per course and term over the history (and the weeks before it).
        first_sec = epoch(world.history_start) - 60 * DAY
        last_sec = epoch(world.anchor) - 6 * 3600
        terms = sorted({term_name(s) for s in (*range(first_sec - 3 * DAY, last_sec, 10 * DAY), last_sec)})
        per_term = max(1, len(self.courses)) * 1.5
        roster_size = max(5, min(len(self.students), int(len(self.students) * 4 / per_term)))
        self.sections: dict[tuple[str, str], list[Section]] = {}
        for course in self.courses:
            for term in terms:
                count = 1 + (rng.random() < 0.5)
                self.sections[(course.id, term)] = [
                    Section(make_uuid(rng), f"{n + 1:03d}", course, term,
                            self.instructors[rng.randrange(len(self.instructors))],
                            array("l", rng.sample(range(len(self.students)), roster_size)))
                    for n in range(count)
                ]

        # Media: lectures captured on weekdays in class hours, spread evenly over the history, kinds
        # interleaved in a fixed pattern, so every week has lectures of each kind (live-streamed ones,
        # presentations with polls) whatever the seed.
        self.media: list[Media] = []
        counters: dict[tuple[str, str], int] = {}
        span_days = (last_sec - first_sec) // DAY
        count = sizes["media"]
        for i in range(count):
            day = first_sec // DAY + i * span_days // count
            if day_date(day).weekday() >= 5:
                day -= day_date(day).weekday() - 4
            created = min(day * DAY + rng.randrange(8, 18) * 3600 + rng.randrange(0, 3600, 60), last_sec)
            course = self.courses[rng.randrange(len(self.courses))]
            section = rng.choice(self.sections[(course.id, term_name(created))])
            kind = KIND_PATTERN[i % len(KIND_PATTERN)]
            live_slot = i % len(KIND_PATTERN) in LIVE_SLOTS
            n = counters[(section.id, kind)] = counters.get((section.id, kind), 0) + 1
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
            self.media.append(media)
        self.media.sort(key=lambda m: m.created)
        self.by_id = {m.id: m for m in self.media}

        def index(kinds: tuple[str, ...]):
            items = sorted((m for m in self.media if m.kind in kinds), key=lambda m: m.published)
            return [m.published for m in items], items, max(1, len(items) * 60 // max(span_days, 1))

        self.videos = index(("video",))
        self.presentations = index(("presentation",))
        self.players = index(("video", "interactive"))  # media seen through public links and embeds
        self.lectures_by_day: dict[int, list[Media]] = {}
        for m in self.media:
            if m.live or m.polls:
                self.lectures_by_day.setdefault(m.created // DAY, []).append(m)

    @staticmethod
    def _poll(rng, course: Course) -> Poll:
        options = ("A", "B", "C", "D")[: rng.randrange(2, 5)]
        content = '{"type":"MultipleChoice","options":[' + ",".join(f'"{o}"' for o in options) + "]}"
        deleted_after = rng.randrange(3600, 3 * DAY) if rng.random() < 0.05 else None
        return Poll(make_uuid(rng), f"{course.identifier}: which statement about {rng.choice(TOPICS)} is true?",
                    content, options, rng.choice(options), rng.random() < 0.5, deleted_after)

    # --- helpers ---------------------------------------------------------------------------------

    def count(self, rng, day: int, what: str) -> int:
        weekend = day_date(day).weekday() >= 5
        mean = DAILY[what] * self.activity * (0.5 if weekend else 1.0)
        return int(mean * (0.8 + 0.4 * rng.random()) + 0.5)

    @staticmethod
    def time_in_day(rng, day: int) -> int:
        return day * DAY + bisect_right(_HOUR_CUM, rng.random()) * 3600 + rng.randrange(3600)

    @staticmethod
    def recent(rng, index, t: int) -> Media | None:
        """A media published before t, most likely a recent one (students watch this week's lectures)."""
        published, items, window = index
        k = bisect_right(published, t)
        if k == 0:
            return None
        return items[k - 1 - int(rng.random() ** 2 * min(k, window))]

    def viewer(self, rng, media: Media) -> Person:
        roster = media.section.roster
        return self.students[roster[int(rng.random() * len(roster))]]

    def day_rng(self, family: str, day: int):
        return self.world.rng("echo360", family, day_date(day).isoformat())

    # --- activity, per day -----------------------------------------------------------------------

    def video_sessions(self, day: int) -> list[tuple[int, Media, Person, int]]:
        """Classroom / media-details / group views: (start, media, user, number of 30-second ticks)."""
        rng = self.day_rng("video_sessions", day)
        sessions = []
        for _ in range(self.count(rng, day, "video_sessions")):
            t = self.time_in_day(rng, day)
            media = self.recent(rng, self.videos, t)
            if media is None:
                continue
            ticks = min(media.duration_s // 30, 1 + int(rng.expovariate(1 / MEAN_TICKS)))
            sessions.append((t, media, self.viewer(rng, media), ticks))
        return sessions

    def player_sessions(self, day: int) -> list[dict]:
        """Public-link, embedded and interactive view sessions with their ~30-second beacons."""
        rng = self.day_rng("player_sessions", day)
        sessions = []
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
            sessions.append({
                "id": make_uuid(rng), "start": t, "media": media, "user": user, "channel": channel,
                "lms": media.section.course.lms_name if channel == "embed" else "", "speed": speed, "volume": volume,
                "cc": cc, "transcript": transcript, "start_pos": start_pos, "beacons": beacons,
                "end": end, "end_status": "SESSION_STALE" if stale else "SESSION_END",
                "played": _intervals_text(played), "final_pos": pos,
            })
        return sessions

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
            viewers.append((self.students[roster[i]], events))
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
                user = self.students[roster[i]]
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

    def lectures(self, day: int) -> list[Media]:
        return self.lectures_by_day.get(day, [])

    # --- the asset reports -----------------------------------------------------------------------

    def engagement(self, lo: int, hi: int) -> dict[str, Engagement]:
        """Each video's figures over [lo, hi), summed from the same events the other reports list:
        a view is counted at its start (videoview session, view session BEGIN, first LIVE_STREAM
        JOIN); watched time is 30 s per videoview tick, the beacon intervals of view sessions and the
        LIVE_STREAM JOIN..LEAVE spans (counted at the JOIN), each at its own timestamp in the window."""
        figures: dict[str, Engagement] = {}

        def get(media: Media) -> Engagement:
            e = figures.get(media.id)
            if e is None:
                e = figures[media.id] = Engagement()
            return e

        def view(e: Engagement, t: int) -> None:
            e.view_count += 1
            e.last_view = max(e.last_view, t)

        for day in range(lo // DAY - 3, (hi - 1) // DAY + 1):
            for t, media, _user, ticks in self.video_sessions(day):
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

    def asset_rows(self, lo: int, hi: int, cutoff: int, all_videos: bool) -> list[tuple]:
        figures = self.engagement(lo, hi)
        rows = []
        for media in self.media:
            if media.kind != "video" or media.created >= cutoff:
                continue
            e = figures.get(media.id)
            if e is None and not all_videos:
                continue
            e = e or Engagement()
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
        return rows


# --- events per report: (ts, head, tail), the row being head + (timestamp,) + tail ----------------

def videoview_events(w: EchoWorld, day: int) -> list:
    out = []
    for t, media, user, ticks in w.video_sessions(day):
        tail = (media.duration_min,) + user.tail
        out.extend((t + 30 * j, media.head7, tail) for j in range(ticks))
    return out


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


def viewsessiondetails_events(w: EchoWorld, day: int) -> list:
    out = []
    for s in w.player_sessions(day):
        ident = (s["id"], s["media"].id, s["media"].name, s["user"].id)
        settings = (s["speed"], s["volume"])
        flags = (s["transcript"], s["cc"])
        out.extend((wall, (), ident + (f"[[{a},{b}]]",) + settings + (b,) + flags) for wall, a, b in s["beacons"])
    return out


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


def event_batches(w: EchoWorld, events: Callable[[EchoWorld, int], list], spill_days: int,
                  lo: int, hi: int, batch: int = 20000) -> Iterator[list[tuple]]:
    """The rows of [lo, hi), day by day in time order. A day's rows come from the events of that day
    and of the `spill_days` before it (sessions that run past midnight, stale sessions, late answers)."""
    if lo >= hi:
        return
    cache: dict[int, list] = {}
    for day in range(lo // DAY, (hi - 1) // DAY + 1):
        day_lo, day_hi = max(lo, day * DAY), min(hi, (day + 1) * DAY)
        todays = []
        for source in range(day - spill_days, day + 1):
            if source not in cache:
                cache[source] = events(w, source)
            todays.extend(e for e in cache[source] if day_lo <= e[0] < day_hi)
        for old in [d for d in cache if d <= day - spill_days]:
            del cache[old]
        todays.sort(key=itemgetter(0))
        for i in range(0, len(todays), batch):
            yield [head + (format_ts(ts),) + tail for ts, head, tail in todays[i:i + batch]]


def to_epoch_window(start: datetime, end: datetime, history_start: datetime, cutoff: datetime) -> tuple[int, int]:
    """[start, end) clipped to what the world holds: from its history's start to the request's time."""
    lo = max(epoch(start), epoch(history_start))
    hi = min(epoch(end), epoch(cutoff))
    return lo, max(lo, hi)

