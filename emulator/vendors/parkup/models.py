"""ParkUp state and data generation: customers, their users, each user's usage events, the business
behind the credentials and the access tokens issued to it. Never imports Flask.

Events are generated per (seed, user, day), so two windows that overlap agree on their common days.
An event's id is derived from its day, its user and its rank within that user's day, so it is the
same in every window that contains it and no two events share one.
"""
from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from ...core.vendor import VendorModel, same_secret

DEFAULT_CUSTOMER_COUNT = 4
DEFAULT_USERS_PER_CUSTOMER = 6
MAX_EVENTS_PER_DAY = 16  # per user; also the width of a user's id block in a day
FIRST_EVENT_ID = 500_000
WEEKEND_FACTOR = 0.3  # weekend days see this share of a weekday's usage
ACCESS_TOKEN_SECONDS = 3600  # an issued access token's life on the emulator clock (knob access_token_seconds)
MAX_ACCESS_TOKENS = 1000  # issued access tokens kept per store; those soonest to expire beyond it are dropped
GRANT_TYPE = "refresh_token"
# Where a business's brand image lives: invented (vendor-notes only say `brandimagen` is returned).
BRAND_IMAGE_URL = "https://api.parkup.cl/images/business/{id}/brand.png"


class UserNotFound(Exception):
    pass


class TokenRefused(Exception):
    """A refresh token or an access token that is missing, unknown, expired or of the wrong grant (the message says which)."""


@dataclass(frozen=True)
class Business:
    """The business behind the credentials, as `validate` answers it."""

    id: int
    name: str
    brandimagen: str


@dataclass(frozen=True)
class User:
    ref_id: str
    customer_id: int
    ordinal: int  # position in the world's user list: the user's slot in each day's id block
    weekday_rate: float  # mean events on a weekday



def customers_and_users(section: dict, scale: int) -> tuple[int, int]:
    """A world's `parkup` section: how many customers it makes (customer_count x scale), and users for each."""
    return (int(section.get("customer_count", DEFAULT_CUSTOMER_COUNT)) * scale,
            int(section.get("users_per_customer", DEFAULT_USERS_PER_CUSTOMER)))

class ParkUpModel(VendorModel):
    name = "parkup"
    # `token` is a fixed bearer token that never expires; `refresh_token` is swapped for access tokens.
    default_credentials = {"token": "parkup-emulator-token", "refresh_token": "parkup-emulator-refresh-token"}

    # Issued access tokens live in the store: `parkup:access_tokens` maps a token to its expiry (epoch seconds).
    TOKENS = "parkup:access_tokens"

    # --- tokens ------------------------------------------------------------------------------------

    def issue_access_token(self, refresh_token: str, grant_type: str) -> str:
        """A new access token for the credentials' refresh token, which stays usable (it is not single-use)."""
        if grant_type != GRANT_TYPE:
            raise TokenRefused(f"unsupported grant_type {grant_type!r}: use {GRANT_TYPE!r}")
        if not same_secret(refresh_token, self.credentials()["refresh_token"]):
            raise TokenRefused("unknown refresh_token")
        seconds = int(self.emulator.knobs("parkup").get("access_token_seconds") or ACCESS_TOKEN_SECONDS)
        token = f"{self.draw_rng('access_token').getrandbits(256):064x}"
        now = self.clock.now()
        self.store.map_put(self.TOKENS, token, (now + timedelta(seconds=seconds)).timestamp())
        self._forget_expired(now)
        return token

    def authenticate(self, token: str) -> None:
        """Accept the fixed `token` credential or an access token issued and not yet expired."""
        if not token:
            raise TokenRefused("missing token: send 'Authorization: Bearer <token>'")
        if same_secret(token, self.credentials()["token"]):
            return
        expires_at = self.store.map_get(self.TOKENS, token)
        if expires_at is None:
            raise TokenRefused("unknown token: use the ParkUp token or an access token from POST /api/v3/business/oauth/access_token")
        expires = datetime.fromtimestamp(expires_at, timezone.utc)
        if self.clock.now() >= expires:
            raise TokenRefused(f"access token expired at {expires.isoformat()}: swap the refresh token for a new one")

    def _forget_expired(self, now: datetime) -> None:
        """Drop tokens that expired over a day ago, and the soonest to expire beyond MAX_ACCESS_TOKENS
        (the store stays bounded however many are issued, even on a clock that stands still)."""
        tokens = self.store.map_all(self.TOKENS)
        if len(tokens) > 100:
            cutoff = now.timestamp() - 86400
            by_expiry = sorted(tokens, key=tokens.get)
            expired = sum(1 for t in by_expiry if tokens[t] < cutoff)
            self.store.map_delete(self.TOKENS, by_expiry[: max(expired, len(by_expiry) - MAX_ACCESS_TOKENS)])

    def business(self) -> Business:
        """The business the credentials belong to: the scenario's `world: {parkup: {business: ...}}`, else seeded."""

        def make() -> Business:
            named = dict(self._overrides().get("business") or {})
            rng = self.world.rng("parkup", "business")
            business_id = int(named["id"]) if named.get("id") is not None else rng.randint(100, 999)
            name = named.get("name") or self.world.faker("parkup", "business").company()
            image = named.get("brandimagen") or BRAND_IMAGE_URL.format(id=business_id)
            return Business(business_id, name, image)

        return self.world.cached(("parkup", "business"), make)

    # --- the world ---------------------------------------------------------------------------------

    def _overrides(self) -> dict[str, Any]:
        return dict(self.world.overrides.get("parkup") or {})

    def users(self) -> list[User]:
        """Every user: the scenario's named ones first, then each generated customer's users."""

        def make() -> list[User]:
            overrides = self._overrides()
            rng = self.world.rng("parkup", "customers")
            customer_count, per_customer = customers_and_users(overrides, self.world.scale)
            named = list(overrides.get("users") or [])
            customers: list[int] = []
            seen: set[int] = set()  # customers' members, for a membership test that does not grow with scale
            named_ids = {u.get("customerId") for u in named}
            # Four-digit ids, as ParkUp's are, while they are plentiful; a wider range past half of
            # them, so that drawing distinct ones always ends (a scenario may ask for a million).
            top = 9999 if customer_count <= 4500 else 1000 + 2 * customer_count + len(named_ids)
            while len(customers) < customer_count:
                candidate = rng.randint(1000, top)
                if candidate not in seen and candidate not in named_ids:
                    customers.append(candidate)
                    seen.add(candidate)
            pairs: list[tuple[str, int]] = []
            taken = {u["refId"] for u in named}
            for u in named:
                customer = u.get("customerId")
                pairs.append((u["refId"], int(customer) if customer is not None else (customers or [rng.randint(1000, 9999)])[0]))
            # refIds: two letters and four digits (26 * 26 * 9,000 of them), more digits past half of those.
            digits_top = 9999 if len(customers) * per_customer <= 3_000_000 else 2 * len(customers) * per_customer
            for customer in customers:
                for _ in range(per_customer):
                    ref_id = None
                    while ref_id is None or ref_id in taken:
                        ref_id = "".join(rng.choice(string.ascii_uppercase) for _ in range(2)) + str(rng.randint(1000, digits_top))
                    taken.add(ref_id)
                    pairs.append((ref_id, customer))
            return [User(ref_id, customer, i, round(rng.uniform(0.3, 4.0), 2)) for i, (ref_id, customer) in enumerate(pairs)]

        return self.world.cached(("parkup", "users"), make)

    def find_user(self, ref_id: str, customer_id: int | None) -> User:
        index = self.world.cached(("parkup", "by_ref"), lambda: {u.ref_id: u for u in self.users()})
        user = index.get(ref_id)
        if user is None or (customer_id is not None and user.customer_id != customer_id):
            raise UserNotFound(ref_id)
        return user

    def day_events(self, user: User, day: date) -> list[tuple[int, datetime]]:
        """One user's events on one UTC day, oldest first: (id, instant to the second)."""
        rng = self.world.rng("parkup", "events", user.ref_id, day.isoformat())
        rate = user.weekday_rate * (WEEKEND_FACTOR if day.weekday() >= 5 else 1.0)
        count = 0
        # A Poisson draw by counting exponential gaps within one day.
        gap = rng.expovariate(1.0)
        while gap < rate and count < MAX_EVENTS_PER_DAY:
            count += 1
            gap += rng.expovariate(1.0)
        if not count:
            return []
        # Usage clusters in the afternoon and evening (UTC), as in the document's example.
        seconds = sorted(rng.sample(range(10 * 3600, 86400), count))
        day_index = (day - self.world.history_start.date()).days
        base = FIRST_EVENT_ID + (day_index * len(self.users()) + user.ordinal) * MAX_EVENTS_PER_DAY
        midnight = datetime.combine(day, time(0), tzinfo=timezone.utc)
        return [(base + n, midnight + timedelta(seconds=s)) for n, s in enumerate(seconds)]

    def user_events(self, ref_id: str, customer_id: int | None, start: datetime, until: datetime) -> list[dict[str, Any]]:
        """A user's events with start <= dateEvent <= until and not after now, oldest first."""
        return list(self.user_event_stream(ref_id, customer_id, start, until)())

    def user_event_stream(self, ref_id: str, customer_id: int | None, start: datetime, until: datetime):
        """A function that gives `user_events` one by one, generated day by day as they are read (as often
        as it is called: a streamed answer may be generated twice). An unknown user raises here."""
        user = self.find_user(ref_id, customer_id)
        start, end = max(start, self.world.history_start), min(until, self.clock.now())

        def events():
            for day in self.world.days(start, end):
                for event_id, when in self.day_events(user, day):
                    if start <= when <= end:
                        yield {"id": event_id, "date_event": when}

        return events

    def world_summary(self) -> dict[str, Any]:
        return {"users": [{"refId": u.ref_id, "customerId": u.customer_id} for u in self.users()]}
