"""Falkor state and data generation: pathways, their activities, and every user's log. Never imports Flask.

A pathway's activities, enrolled users and each user's plan for each activity (when they enrolled,
started and completed it) are generated once per world from (seed, pathway). What a request sees is
that plan read at the emulator's "now": a step planned after now has not happened yet, so moving the
clock forward lets users progress and nothing after now is ever shown.
"""
from __future__ import annotations

import re
import string
import uuid
from array import array
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ...core.vendor import VendorModel

DEFAULT_PATHWAY_COUNT = 6
DEFAULT_UTC_OFFSET = "+02:00"  # the account's offset, as in the document's timestamps
EMAIL_DOMAIN = "example.com"

# Activity types (vendor-notes.md): display name -> (type on the wire, fulfilment kinds it allows).
ACTIVITY_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "Article": ("article", ("view",)),
    "Audio": ("audio", ("view",)),
    "Certificate": ("certificate", ("view",)),
    "Milestone": ("milestone", ("view",)),
    "Podcast Episode": ("podcast-episode", ("view",)),
    "Reward": ("reward", ("view",)),
    "Stream Snippet": ("stream-snippet", ("view",)),
    "Video": ("video", ("view",)),
    "YouTube Video": ("youtube-video", ("view",)),
    "Assessment": ("assessment", ("view", "complete")),
    "Story": ("story", ("view", "complete")),
    "Survey": ("survey", ("view", "complete")),
    "Classroom": ("classroom", ("check-in", "qr-code")),
    "Event": ("event", ("check-in", "qr-code")),
    "Confirmation": ("confirmation", ("honor", "upload", "upload-review")),
    "Physical Activity": ("physical-activity", ("honor", "upload", "upload-review", "qr-code")),
    "Connect Pathway": ("connect-pathway", ("enrollment",)),
    # The document's example answers a Data Tracking activity with type "data", fulfilmentType "tracking".
    "Data Checkpoint": ("data", ("data-checkpoint",)),
    "Data Tracking": ("data", ("data-tracking",)),
    "Web Activity": ("web-activity", ("visit", "web-tracking")),
}


@dataclass(frozen=True)
class FulfilmentKind:
    wire: str  # the activity's fulfilmentType
    type: str  # the fulfilment object's "type"
    payload: str | None  # the key of the fulfilment's own data, if any
    gradual: bool  # whether a user can be "in progress" (otherwise not started -> completed at once)


FULFILMENT_KINDS = {
    "view": FulfilmentKind("view", "view", None, True),
    "complete": FulfilmentKind("complete", "story", "story", True),
    "check-in": FulfilmentKind("check-in", "check-in", "checkin", False),
    "qr-code": FulfilmentKind("qr-code", "qr-code", "qrcode", False),
    "honor": FulfilmentKind("honor", "honor", "honor", False),
    "upload": FulfilmentKind("upload", "upload", "upload", False),
    "upload-review": FulfilmentKind("upload-review", "upload-review", "upload", True),
    "enrollment": FulfilmentKind("enrollment", "enrollment", "enrollment", False),
    "visit": FulfilmentKind("visit", "visit", "visit", False),
    "web-tracking": FulfilmentKind("tracking", "tracking", "tracking", True),
    "data-checkpoint": FulfilmentKind("checkpoint", "data", "data", True),
    "data-tracking": FulfilmentKind("tracking", "data", "data", True),
}

STATES = ("not started", "in progress", "completed")

PATHWAY_NAMES = (
    "Become A Store Owner", "Customer Service Essentials", "Health & Safety Induction", "New Manager Onboarding",
    "Sales Excellence", "Visual Merchandising", "Food Safety Basics", "Leadership Foundations",
    "Product Knowledge: Footwear", "Wellness Challenge", "Cash Handling", "Digital Skills for the Floor",
    "Brand Ambassador Programme", "Stock Control Mastery", "Inclusive Workplace",
)
GROUPS = (
    "Store Managers", "Sales Floor", "Head Office", "New Starters", "Cape Town Region",
    "Gauteng Region", "KwaZulu-Natal Region", "Warehouse", "Regional Trainers",
)
PLACES = (  # (country, city, dialling code)
    ("South Africa", "Cape Town", "+27"), ("South Africa", "Johannesburg", "+27"), ("South Africa", "Durban", "+27"),
    ("South Africa", "Pretoria", "+27"), ("Namibia", "Windhoek", "+264"), ("Botswana", "Gaborone", "+267"),
    ("Kenya", "Nairobi", "+254"), ("United Kingdom", "London", "+44"),
)
DATA_CATEGORIES = ("Current Score", "Sales Target", "Steps", "Units Sold", "Customer Rating", "Hours Logged")
PATHWAYS_KEPT = 2  # generated pathways kept per world (the last used), each up to ~60 MB at --scale 1000
ROSTER_SIZE = 120  # people on the account, times the world's scale; pathways enrol some of them


def make_id(rng) -> str:
    """An ID in the document's form, EV67-ZCNS-56AD: EV + two, four, then two digits and two letters."""
    upper, alnum = string.ascii_uppercase, string.ascii_uppercase + string.digits
    return "EV{}-{}-{}{}".format(
        "".join(rng.choice(alnum) for _ in range(2)),
        "".join(rng.choice(upper) for _ in range(4)),
        "".join(rng.choice(string.digits) for _ in range(2)),
        "".join(rng.choice(upper) for _ in range(2)),
    )


def normalise(text: str) -> str:
    """Lower case, single spaces for - _ and blanks, plural folded: "Stories" and "story" both give "story"."""
    words = re.sub(r"[\s_\-]+", " ", text.strip().lower()).split(" ")
    last = words[-1]
    if last.endswith("ies") and len(last) > 4:
        last = last[:-3] + "y"
    elif last.endswith("s") and not last.endswith("ss") and len(last) > 3:
        last = last[:-1]
    return " ".join(words[:-1] + [last])


def _type_aliases() -> dict[str, set[str]]:
    """Every name the `types` filter accepts -> the activity display names it selects."""
    aliases: dict[str, set[str]] = {}
    for display, (wire, _) in ACTIVITY_TYPES.items():
        for name in (display, wire):
            aliases.setdefault(normalise(name), set()).add(display)
    # The document filters by "Data Target", a name the type table lacks: both data activities.
    aliases.setdefault(normalise("Data Target"), set()).update({"Data Checkpoint", "Data Tracking"})
    return aliases


TYPE_ALIASES = _type_aliases()


class PathwayNotFound(Exception):
    def __init__(self, pathway: str):
        shown = pathway if len(pathway) <= 200 else pathway[:200] + "..."  # never echo a huge input whole
        super().__init__(f"Pathway '{shown}' was not found (give a pathway's ID or name)")


@dataclass(frozen=True)
class Person:
    firstname: str
    lastname: str
    email: str
    telephone: str
    country: str
    city: str
    groups: tuple[str, ...]

    @property
    def full_name(self) -> str:
        return f"{self.firstname} {self.lastname}"


@dataclass(frozen=True)
class Activity:
    id: str
    name: str
    display: str  # the activity type's display name ("Data Tracking")
    type: str
    kind: str  # key of FULFILMENT_KINDS
    required: bool
    level: int
    detail: dict[str, Any]  # what every log of this activity shares (story ID, data category, URL, ...)

    @property
    def fulfilment(self) -> FulfilmentKind:
        return FULFILMENT_KINDS[self.kind]


@dataclass(frozen=True)
class Plan:
    """One user's course through one activity: started/completed instants are None if it never happens."""
    started: datetime | None
    completed: datetime | None
    progress: float  # while in progress
    values: dict[str, Any]  # per-user fulfilment values (score, current, distance, guid, ...)


NEVER = -1  # a Plans column's "started" or "completed" for a step that never happens


class Plans:
    """Every user's plan for every activity of one pathway, kept in compact columns (about 40 bytes a plan).

    `plans[(a, u)]` gives activity a's Plan for user u, rebuilt from the columns on the fly: at
    --scale 1000 a pathway holds over a million plans, which as objects would take gigabytes.
    Instants are whole seconds after `start` (every planned instant is), values one column per key.
    """

    def __init__(self, start: datetime, activities: int):
        self.start = start
        self.started = [array("q") for _ in range(activities)]
        self.completed = [array("q") for _ in range(activities)]
        self.progress = [array("b") for _ in range(activities)]
        self.values: list[dict[str, Any]] = [{} for _ in range(activities)]  # key -> array or list, per activity
        self.kinds: list[dict[str, type]] = [{} for _ in range(activities)]

    def _offset(self, instant: datetime | None) -> int:
        return NEVER if instant is None else (instant - self.start) // timedelta(seconds=1)

    def _instant(self, offset: int) -> datetime | None:
        return None if offset == NEVER else self.start + timedelta(seconds=offset)

    def add(self, a: int, plan: Plan) -> None:
        """Append user u's plan for activity a (users in order)."""
        self.started[a].append(self._offset(plan.started))
        self.completed[a].append(self._offset(plan.completed))
        self.progress[a].append(int(plan.progress))
        columns, kinds = self.values[a], self.kinds[a]
        u = len(self.started[a]) - 1
        for key, value in plan.values.items():
            if key not in columns:
                kinds[key] = type(value)
                columns[key] = [""] * u if isinstance(value, str) else array("q", bytes(8 * u))
            columns[key].append(value)
        for key, column in columns.items():
            if len(column) <= u:  # a plan that never starts has no values
                column.append("" if kinds[key] is str else 0)

    def __getitem__(self, key: tuple[int, int]) -> Plan:
        a, u = key
        values = {name: self.kinds[a][name](column[u]) for name, column in self.values[a].items()}
        started = self.started[a][u]
        if started == NEVER:
            return Plan(None, None, 0, {})
        return Plan(self._instant(started), self._instant(self.completed[a][u]), float(self.progress[a][u]), values)

    def completed_by(self, a: int, u: int, now_offset: int) -> bool:
        """Whether user u completed activity a at or before now (given as seconds after start)."""
        completed = self.completed[a][u]
        return completed != NEVER and completed <= now_offset


@dataclass
class Pathway:
    id: str
    name: str
    activities: list[Activity] = field(default_factory=list)
    enrolled: list[tuple[Person, datetime]] = field(default_factory=list)
    plans: Plans | None = None  # plans[(activity index, user index)]



def pathway_total(section: dict, scale: int) -> int:
    """How many pathways a world's `falkor` section makes: pathway_count x scale, and at least the named ones."""
    return max(int(section.get("pathway_count", DEFAULT_PATHWAY_COUNT)) * scale, len(section.get("pathways") or []))

class FalkorModel(VendorModel):
    name = "falkor"
    default_credentials = {"token": "ZW11bGF0b3I6ZmFsa29yLXRva2Vu"}

    # -- the world -------------------------------------------------------------------------------

    def _overrides(self) -> dict[str, Any]:
        return dict(self.world.overrides.get("falkor") or {})

    def pathway_headers(self) -> list[tuple[str, str]]:
        """(ID, name) of every pathway: the scenario's named ones first, then generated ones."""

        def make() -> list[tuple[str, str]]:
            overrides = self._overrides()
            named = list(overrides.get("pathways") or [])
            count = pathway_total(overrides, self.world.scale)
            rng = self.world.rng("falkor", "pathways")
            used_ids = {p["ID"] for p in named if p.get("ID")}
            used_names = {p["name"] for p in named}
            headers: list[tuple[str, str]] = []
            names = [n for n in PATHWAY_NAMES if n not in used_names]
            rng.shuffle(names)
            for i in range(count):
                if i < len(named):
                    name, wanted = named[i]["name"], named[i].get("ID")
                else:
                    j = i - len(named)
                    name = names[j % len(names)] + (f" {j // len(names) + 1}" if j >= len(names) else "")
                    wanted = None
                pathway_id = wanted
                while pathway_id is None:
                    pathway_id = make_id(rng)
                    pathway_id = None if pathway_id in used_ids else pathway_id
                used_ids.add(pathway_id)
                headers.append((pathway_id, name))
            return headers

        return self.world.cached(("falkor", "pathway_headers"), make)

    def roster(self) -> list[Person]:
        """The account's people: names from the world's Faker pools, e-mails unique."""

        def make() -> list[Person]:
            rng = self.world.rng("falkor", "roster")
            firsts, lasts = self.world.pool("first_name"), self.world.pool("last_name")
            people, emails = [], set()
            for _ in range(ROSTER_SIZE * self.world.scale):
                first, last = rng.choice(firsts), rng.choice(lasts)
                local = re.sub(r"[^a-z0-9.]", "", f"{first}.{last}".lower())
                email, n = f"{local}@{EMAIL_DOMAIN}", 1
                while email in emails:
                    n += 1
                    email = f"{local}{n}@{EMAIL_DOMAIN}"
                emails.add(email)
                country, city, code = rng.choice(PLACES)
                telephone = "" if rng.random() < 0.4 else f"{code} {rng.randint(60, 89)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}"
                groups = tuple(sorted(rng.sample(GROUPS, rng.choice((1, 1, 2, 2, 3)))))
                people.append(Person(first, last, email, telephone, country, city, groups))
            return people

        return self.world.cached(("falkor", "roster"), make)

    def pathway(self, index: int) -> Pathway:
        """A pathway with its plans; the few used last are kept (at --scale 1000 one holds a million plans)."""
        return self.world.cached_recent(("falkor", "pathway", index), lambda: self._make_pathway(index), PATHWAYS_KEPT)

    def _make_pathway(self, index: int) -> Pathway:
        headers = self.pathway_headers()
        pathway_id, name = headers[index]
        rng = self.world.rng("falkor", "pathway", pathway_id)
        pathway = Pathway(pathway_id, name)
        used_ids = {h[0] for h in headers}

        displays = rng.sample(list(ACTIVITY_TYPES), rng.randint(8, 14))
        letters: dict[str, int] = {}
        specs = []
        for display in displays:
            for _ in range(rng.choice((1, 1, 1, 2))):
                wire, kinds = ACTIVITY_TYPES[display]
                letter = string.ascii_uppercase[letters.get(display, 0)]
                letters[display] = letters.get(display, 0) + 1
                specs.append((rng.randint(1, 4), display, wire, rng.choice(kinds), f"{display} {letter}"))
        specs.sort(key=lambda s: s[0])  # levels in order, as a learner meets them
        for level, display, wire, kind, activity_name in specs:
            activity_id = make_id(rng)
            while activity_id in used_ids:
                activity_id = make_id(rng)
            used_ids.add(activity_id)
            detail = self._activity_detail(rng, kind, activity_name, index)
            pathway.activities.append(
                Activity(activity_id, activity_name, display, wire, kind, rng.random() < 0.75, level, detail)
            )

        start, anchor = self.world.history_start, self.world.anchor
        span = (anchor - start).total_seconds()
        pathway.plans = plans = Plans(start, len(pathway.activities))
        people = rng.sample(self.roster(), min(rng.randint(10, 60) * self.world.scale, len(self.roster())))
        for u, person in enumerate(people):
            # Most enrol during the year; a few just before the anchor have barely begun.
            enrolled = start + timedelta(seconds=int(rng.uniform(0, span * 0.97)))
            pathway.enrolled.append((person, enrolled))
            zeal = rng.random()  # how far through the pathway this user gets
            cursor = enrolled
            for a, activity in enumerate(pathway.activities):
                cursor += timedelta(seconds=int(rng.expovariate(1 / (3 * 86400))))
                if rng.random() > 0.35 + 0.6 * zeal:
                    plans.add(a, Plan(None, None, 0, {}))
                    continue
                started = cursor
                gradual = activity.fulfilment.gradual
                if gradual:
                    cursor += timedelta(seconds=int(rng.uniform(300, 5 * 86400)))
                completed = cursor if (not gradual or rng.random() < 0.4 + 0.55 * zeal) else None
                progress = float(rng.randint(5, 95))
                values = self._log_values(rng, activity, progress)
                plans.add(a, Plan(started, completed, progress, values))
        return pathway

    def _activity_detail(self, rng, kind: str, name: str, pathway_index: int) -> dict[str, Any]:
        if kind == "complete":
            return {"storyID": make_id(rng)}
        if kind in ("data-checkpoint", "data-tracking"):
            return {"category": rng.choice(DATA_CATEGORIES), "target": rng.choice((10, 50, 100, 159, 500, 1000))}
        if kind in ("check-in", "qr-code"):
            return {"eventID": make_id(rng)}
        if kind in ("visit", "web-tracking"):
            slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
            return {"url": f"https://learn.{EMAIL_DOMAIN}/{slug}", "seconds": rng.choice((60, 120, 300, 600))}
        if kind == "enrollment":
            headers = self.pathway_headers()
            other = headers[(pathway_index + 1 + rng.randrange(max(len(headers) - 1, 1))) % len(headers)]
            return {"pathwayID": other[0], "name": other[1]}
        return {}

    def _log_values(self, rng, activity: Activity, progress: float) -> dict[str, Any]:
        kind, detail = activity.kind, activity.detail
        if kind == "complete":
            return {"score": rng.randint(40, 100), "partial": int(progress)}
        if kind in ("data-checkpoint", "data-tracking"):
            target = detail["target"]
            return {"current": target + rng.randint(0, target * 3), "partial": int(target * progress / 100)}
        if kind == "check-in":
            virtual = rng.random() < 0.2
            return {"virtual": virtual, "guid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    "distance": -1 if virtual else rng.randint(0, 20000)}
        if kind == "qr-code":
            return {"code": "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(8))}
        if kind in ("upload", "upload-review"):
            ext = rng.choice(("jpg", "png", "pdf"))
            return {"filename": f"evidence-{rng.randint(1000, 9999)}.{ext}", "size": rng.randint(20_000, 4_000_000)}
        if kind == "visit":
            return {"visits": rng.randint(1, 6)}
        if kind == "web-tracking":
            return {"seconds": detail["seconds"] + rng.randint(0, 900)}
        return {}

    # -- requests --------------------------------------------------------------------------------

    def find_pathway(self, key: str) -> int:
        """The index of the pathway whose ID or name (either case-insensitive) is key."""
        wanted = key.strip().lower()
        for i, (pathway_id, name) in enumerate(self.pathway_headers()):
            if wanted in (pathway_id.lower(), name.lower()):
                return i
        raise PathwayNotFound(key)

    def pathway_logs(self, pathway: str, activities=None, types=None, groups=None, users=None,
                     utc_offset: timezone | None = None) -> list[dict[str, Any]]:
        """The `data` of a pathway-logs answer as one list (what `pathway_log_stream` streams), for tests and tools."""
        stream = self.pathway_log_stream(pathway, activities, types, groups, users, utc_offset)
        return [{"pathway": stream.pathway, "activities": [
            {**activity, "logs": list(logs)} for activity, logs in stream.activities()]}]

    def pathway_log_stream(self, pathway: str, activities=None, types=None, groups=None, users=None,
                           utc_offset: timezone | None = None) -> "PathwayLogStream":
        """One pathway item, its activities and logs, as of now, to be written as it is generated.

        Filters combine (all must hold); within one filter any value may match. `activities` and
        `types` choose activities; `users` and `groups` choose the logs shown, and each activity's
        `stats` count the logs shown. An unknown pathway raises PathwayNotFound here, before anything
        is generated; the pathway's plans are generated when the activities are first read.
        """
        index = self.find_pathway(pathway)
        pathway_id, name = self.pathway_headers()[index]
        wanted_types = None
        if types is not None:
            wanted_types = set()
            for value in types:
                wanted_types |= TYPE_ALIASES.get(normalise(value), set())
        return PathwayLogStream(
            self, index, {"name": name, "type": "pathway", "id": pathway_id}, self.clock.now(),
            utc_offset or parse_offset(DEFAULT_UTC_OFFSET),
            {v.strip().lower() for v in activities} if activities is not None else None, wanted_types,
            {v.strip().lower() for v in groups} if groups is not None else None,
            {v.strip().lower() for v in users} if users is not None else None,
        )

    def _log(self, activity: Activity, plan: Plan, person: Person, enrolled: datetime, now: datetime,
             tz: timezone) -> dict[str, Any]:
        if plan.completed is not None and plan.completed <= now:
            state, progress, when = "completed", 100, plan.completed
        elif plan.started is not None and plan.started <= now:
            state, progress, when = "in progress", plan.progress, plan.started
        else:
            state, progress, when = "not started", 0, enrolled
        timestamp = when.astimezone(tz).isoformat(timespec="seconds")
        progress = int(progress) if float(progress).is_integer() else progress
        fulfilment: Any = []  # what the vendor sends for a log with nothing fulfilled yet
        if state != "not started":
            fulfilment = {"type": activity.fulfilment.type, "state": state, "progress": progress}
            payload = self._payload(activity, plan, state == "completed")
            if activity.fulfilment.payload is not None:
                fulfilment[activity.fulfilment.payload] = payload
            fulfilment["timestamp"] = timestamp
        return {
            "firstname": person.firstname,
            "lastname": person.lastname,
            "email": person.email,
            "telephone": person.telephone,
            "country": person.country,
            "city": person.city,
            "groups": list(person.groups),
            "status": {"complete": state == "completed", "progress": progress, "state": state, "timestamp": timestamp},
            "fulfilment": fulfilment,
        }

    def _payload(self, activity: Activity, plan: Plan, done: bool) -> dict[str, Any] | None:
        """The fulfilment's own data, keyed by attribute name (schemas.py gives the wire names)."""
        kind, detail, values = activity.kind, activity.detail, plan.values
        if kind == "complete":
            return {"id": detail["storyID"], "name": activity.name, "score": values["score"] if done else values["partial"]}
        if kind in ("data-checkpoint", "data-tracking"):
            return {"category": detail["category"], "current": values["current"] if done else values["partial"],
                    "target": detail["target"]}
        if kind == "check-in":
            return {"event_id": detail["eventID"], "virtual": values["virtual"], "guid": values["guid"],
                    "distance": values["distance"]}
        if kind == "qr-code":
            return {"event_id": detail["eventID"], "code": values["code"]}
        if kind == "honor":
            return {"confirmed": True}
        if kind == "upload":
            return {"filename": values["filename"], "size": values["size"]}
        if kind == "upload-review":
            return {"filename": values["filename"], "size": values["size"],
                    "review": "approved" if done else "pending"}
        if kind == "enrollment":
            return {"pathway_id": detail["pathwayID"], "name": detail["name"]}
        if kind == "visit":
            return {"url": detail["url"], "visits": values["visits"]}
        if kind == "web-tracking":
            seconds = values["seconds"] if done else int(detail["seconds"] * plan.progress / 100)
            return {"url": detail["url"], "seconds": seconds, "target": detail["seconds"]}
        return None

    def world_summary(self) -> dict[str, Any]:
        return {"pathways": [{"ID": pathway_id, "name": name} for pathway_id, name in self.pathway_headers()]}

    def utc_offset(self) -> timezone:
        """The account's UTC offset: a scenario's `falkor: {utc_offset: "+05:30"}`, else +02:00."""
        return parse_offset(str(self.emulator.knobs("falkor").get("utc_offset", DEFAULT_UTC_OFFSET)))


def parse_offset(text: str) -> timezone:
    match = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", text.strip())
    if not match or int(match.group(2)) > 14 or int(match.group(3)) > 59:
        raise ValueError(f"utc_offset must look like +02:00, not {text!r}")
    sign = 1 if match.group(1) == "+" else -1
    return timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))


class PathwayLogStream:
    """A pathway-logs answer's data, read once in order: `pathway`, then `activities()`.

    Each activity comes with its `stats` first (a first pass over the plans counts the logs shown
    and those completed), then its logs one by one, so no list of logs is ever built.
    """

    def __init__(self, model: FalkorModel, index: int, pathway: dict[str, str], now: datetime, tz: timezone,
                 wanted_activities, wanted_types, wanted_groups, wanted_users):
        self.model, self.index, self.pathway, self.now, self.tz = model, index, pathway, now, tz
        self.wanted_activities, self.wanted_types = wanted_activities, wanted_types
        self.wanted_groups, self.wanted_users = wanted_groups, wanted_users

    def _shown_users(self, item: Pathway) -> list[int]:
        shown = []
        for u, (person, enrolled) in enumerate(item.enrolled):
            if enrolled > self.now:
                continue
            if self.wanted_groups is not None and not self.wanted_groups & {g.lower() for g in person.groups}:
                continue
            if self.wanted_users is not None and not self.wanted_users & {
                person.email.lower(), person.firstname.lower(), person.lastname.lower(), person.full_name.lower()
            }:
                continue
            shown.append(u)
        return shown

    def activities(self):
        """(activity without its logs, its logs as an iterator) for each activity shown, in order."""
        item = self.model.pathway(self.index)
        shown = self._shown_users(item)
        plans = item.plans
        now_offset = (self.now - plans.start) // timedelta(seconds=1)
        for a, activity in enumerate(item.activities):
            if self.wanted_activities is not None and not self.wanted_activities & {activity.id.lower(), activity.name.lower()}:
                continue
            if self.wanted_types is not None and activity.display not in self.wanted_types:
                continue
            completed = sum(1 for u in shown if plans.completed_by(a, u, now_offset))
            yield {
                "id": activity.id,
                "name": activity.name,
                "type": activity.type,
                "fulfilment_type": activity.fulfilment.wire,
                "required": activity.required,
                "level": activity.level,
                "stats": {"total": len(shown), "completed": completed},
            }, self._logs(item, a, activity, shown)

    def _logs(self, item: Pathway, a: int, activity: Activity, shown: list[int]):
        for u in shown:
            person, enrolled = item.enrolled[u]
            yield self.model._log(activity, item.plans[(a, u)], person, enrolled, self.now, self.tz)
