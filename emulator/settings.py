"""One dataclass of settings; command-line flags and EMULATOR_* environment variables fill it."""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone

CLOCK_MODES = ("real", "manual")
# (field, least, most): the command line's ranges, documented in the README.
LIMITS = (("port", 0, 65535), ("seed", 0, 2**63 - 1), ("scale", 1, 1000), ("journal_cap", 1, 1_000_000),
          ("threads", 1, 1000), ("workers", 1, 64), ("max_tenants", 0, 100_000))
TRUE_WORDS = ("1", "true", "yes")
FALSE_WORDS = ("0", "false", "no")


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 instant ("2026-01-15T00:00:00Z", "...+02:00", or a bare date); naive means UTC."""
    text = text.strip()
    if not text:
        raise ValueError("empty timestamp")
    value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(f"timestamp out of range: {text!r}") from None


def format_instant(value: datetime) -> str:
    """ISO 8601 in UTC with a Z, to the second (the admin API's form)."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    seed: int = 1
    scenarios: list[str] = field(default_factory=list)
    clock: str = "real"
    now: datetime | None = None
    scale: int = 1
    strict: bool = False
    journal_cap: int = 1000
    threads: int = 32
    # {"strigo": {"api_key": "..."}}: overrides of the documented default credentials.
    credentials: dict[str, dict[str, str]] = field(default_factory=dict)
    state: str = "memory"  # memory, sqlite:PATH or redis://HOST:PORT/DB (the store layer checks the URL)
    workers: int = 1  # worker processes; more than one needs a shared store (sqlite: or redis://)
    pin_cpus: bool = False  # serve --pin-cpus: each process kept on one CPU (server.py, docs/performance.md)
    log_requests: bool = False  # one line per vendor call on standard output
    max_tenants: int = 1000  # tenants besides `default` (core/tenants.py)
    tenant_idle_hours: float = 24.0  # a tenant unused this long (wall time) is removed
    snapshot: str | None = None  # a snapshot file every new tenant starts from (core/snapshots.py)
    # USER:PASSWORD: HTTP Basic on the admin API and the dashboard (core/access.py); None leaves it open.
    admin_auth: str | None = field(default=None, repr=False)
    allowed_hosts: list[str] = field(default_factory=list)  # more Host names the admin API answers to; "*": any
    replay: str | None = None  # a recording folder whose recorded requests get their recorded answers

    def __post_init__(self) -> None:
        if self.clock not in CLOCK_MODES:
            raise ValueError(f"clock must be one of {', '.join(CLOCK_MODES)}, not {self.clock!r}")
        for name, low, high in LIMITS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name.replace('_', ' ')} must be a whole number from {low} to {high}, not {value!r}")
        hours = self.tenant_idle_hours
        if isinstance(hours, bool) or not isinstance(hours, (int, float)) or not 0 < hours <= 24 * 365:
            raise ValueError(f"tenant idle hours must be a number above 0 and at most {24 * 365}, not {hours!r}")
        if self.admin_auth is not None:
            parse_admin_auth(self.admin_auth)
        for host in self.allowed_hosts:
            check_allowed_host(host)
        if self.pin_cpus and not hasattr(os, "sched_setaffinity"):
            raise ValueError("--pin-cpus needs a system where a process's CPUs can be set (Linux)")
        if self.workers > 1 and self.state == "memory":
            raise ValueError(f"{self.workers} workers cannot share the memory store; use --state sqlite:PATH "
                             "or --state redis://HOST:PORT/DB, which worker processes can share")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> "Settings":
        """Settings from EMULATOR_* variables; keyword overrides (the CLI's flags) win."""
        env = os.environ if environ is None else environ
        values: dict = {}
        if "EMULATOR_HOST" in env:
            values["host"] = env["EMULATOR_HOST"]
        if "EMULATOR_PORT" in env:
            values["port"] = _int(env["EMULATOR_PORT"], "EMULATOR_PORT")
        if "EMULATOR_SEED" in env:
            values["seed"] = _int(env["EMULATOR_SEED"], "EMULATOR_SEED")
        if env.get("EMULATOR_SCENARIO"):
            values["scenarios"] = [p for p in env["EMULATOR_SCENARIO"].split(os.pathsep) if p]
        if "EMULATOR_CLOCK" in env:
            values["clock"] = env["EMULATOR_CLOCK"]
        if env.get("EMULATOR_NOW"):
            values["now"] = _instant(env["EMULATOR_NOW"], "EMULATOR_NOW")
        if "EMULATOR_SCALE" in env:
            values["scale"] = _int(env["EMULATOR_SCALE"], "EMULATOR_SCALE")
        if "EMULATOR_STRICT" in env:
            values["strict"] = parse_bool(env["EMULATOR_STRICT"], "EMULATOR_STRICT")
        if "EMULATOR_JOURNAL_CAP" in env:
            values["journal_cap"] = _int(env["EMULATOR_JOURNAL_CAP"], "EMULATOR_JOURNAL_CAP")
        if "EMULATOR_THREADS" in env:
            values["threads"] = _int(env["EMULATOR_THREADS"], "EMULATOR_THREADS")
        if env.get("EMULATOR_STATE"):
            values["state"] = env["EMULATOR_STATE"]
        if "EMULATOR_WORKERS" in env:
            values["workers"] = _int(env["EMULATOR_WORKERS"], "EMULATOR_WORKERS")
        if "EMULATOR_PIN_CPUS" in env:
            values["pin_cpus"] = parse_bool(env["EMULATOR_PIN_CPUS"], "EMULATOR_PIN_CPUS")
        if "EMULATOR_MAX_TENANTS" in env:
            values["max_tenants"] = _int(env["EMULATOR_MAX_TENANTS"], "EMULATOR_MAX_TENANTS")
        if "EMULATOR_TENANT_IDLE_HOURS" in env:
            try:
                values["tenant_idle_hours"] = float(env["EMULATOR_TENANT_IDLE_HOURS"])
            except ValueError:
                raise ValueError(f"EMULATOR_TENANT_IDLE_HOURS must be a number, not {env['EMULATOR_TENANT_IDLE_HOURS']!r}") from None
        if env.get("EMULATOR_SNAPSHOT"):
            values["snapshot"] = env["EMULATOR_SNAPSHOT"]
        if "EMULATOR_LOG_REQUESTS" in env:
            values["log_requests"] = parse_bool(env["EMULATOR_LOG_REQUESTS"], "EMULATOR_LOG_REQUESTS")
        if env.get("EMULATOR_ADMIN_AUTH"):
            values["admin_auth"] = env["EMULATOR_ADMIN_AUTH"]
        if env.get("EMULATOR_ALLOWED_HOST"):
            values["allowed_hosts"] = env["EMULATOR_ALLOWED_HOST"].split()
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def parse_admin_auth(text: str) -> tuple[str, str]:
    """--admin-auth USER:PASSWORD (the password may hold colons); the ValueError never repeats the password."""
    user, sep, password = text.partition(":")
    if not sep or not user or not password:
        raise ValueError("admin auth must be USER:PASSWORD, with a user and a password that are not empty")
    return user, password


def check_allowed_host(text: str) -> str:
    """One --allowed-host value as it will be compared: `*`, an IP address or a host name (no port)."""
    value = text.strip().lower()
    if value == "*":
        return value
    bare = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        pass
    labels = value.rstrip(".").split(".")
    if value and all(0 < len(label) <= 63 and label.replace("-", "").replace("_", "").isalnum() and label.isascii()
                     for label in labels):
        return value.rstrip(".")
    raise ValueError(f"allowed host {text!r} is not a host name, an IP address or * (give it without a port or scheme)")


def parse_bool(text: str, name: str) -> bool:
    """1/0, true/false, yes/no in any case; anything else is refused rather than read as false."""
    word = text.strip().lower()
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    raise ValueError(f"{name} must be one of {', '.join(TRUE_WORDS + FALSE_WORDS)}, not {text!r}")


def _int(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {text!r}") from None


def _instant(text: str, name: str) -> datetime:
    try:
        return parse_instant(text)
    except ValueError:
        raise ValueError(f"{name} must be an ISO 8601 timestamp, not {text!r}") from None
