"""The command line: `report-emulator serve ...` (also `python -m emulator`), built on click.

Every option is also an EMULATOR_* environment variable (the flag wins). Every refusal is one line
on standard error with exit status 2, before anything starts.
"""
from __future__ import annotations

import difflib
import functools
import ipaddress
import os
import sys
from datetime import datetime

import click
from click.core import ParameterSource

from . import __version__
from .settings import FALSE_WORDS, LIMITS, TRUE_WORDS, Settings, check_allowed_host, parse_admin_auth, parse_instant

PROG = "report-emulator"


class WholeRange(click.IntRange):
    """A whole number within a range: "'x' is not a whole number", not click's "valid integer range"."""

    name = "integer"

    def convert(self, value, param, ctx):
        if not isinstance(value, int):
            try:
                value = int(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not a whole number", param, ctx)
        return super().convert(value, param, ctx)


def _range(name: str) -> click.IntRange:
    low, high = next((low, high) for field, low, high in LIMITS if field == name)
    return WholeRange(low, high)


# Every option of `serve` shows its EMULATOR_* variable in --help.
option = functools.partial(click.option, show_envvar=True)


def _default_credentials() -> dict[str, dict[str, str]]:
    from .vendors import VENDORS

    return {vendor.name: dict(vendor.model.default_credentials) for vendor in VENDORS}


class Instant(click.ParamType):
    name = "ISO8601"

    def convert(self, value, param, ctx):
        if isinstance(value, datetime):
            return value
        try:
            return parse_instant(value)
        except ValueError:
            self.fail(f"not an ISO 8601 timestamp: {value!r}", param, ctx)


class StrictBool(click.types.BoolParamType):
    """1/0, true/false, yes/no (any case): `EMULATOR_STRICT=treu` is refused, not read as false.
    (A BoolParamType, so that click treats the option as a boolean flag.)"""

    def convert(self, value, param, ctx):
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in TRUE_WORDS or word in FALSE_WORDS:
            return word in TRUE_WORDS
        self.fail(f"{value!r} is not one of {', '.join(TRUE_WORDS + FALSE_WORDS)}", param, ctx)


class Host(click.ParamType):
    """An IP address or a host name; something shaped like an address must be one (999.1.1.1 is not),
    and a name must be one the resolver accepts (labels of 1 to 63 characters, as RFC 1035 sets)."""

    name = "HOST"

    def convert(self, value, param, ctx):
        text = str(value).strip()
        looks_numeric = all(c.isdigit() or c == "." for c in text) or ":" in text
        if not text or (looks_numeric and not _is_address(text)):
            self.fail(f"{value!r} is not an IP address or a host name", param, ctx)
        if not looks_numeric:
            problem = _host_name_problem(text)
            if problem:
                self.fail(f"{value!r} is not a host name: {problem}", param, ctx)
        return text


def _host_name_problem(text: str) -> str | None:
    """Why the resolver would refuse a host name (it encodes names with the idna codec), or None."""
    labels = text.removesuffix(".").split(".")
    if any(not label for label in labels):
        return "it has an empty label (two dots in a row, or a dot first)"
    longest = max(labels, key=len)
    if len(longest) > 63:
        return f"a label has {len(longest)} characters; at most 63"
    try:
        text.encode("idna")
    except UnicodeError as exc:
        return str(exc.__cause__ or exc).removeprefix("encoding with 'idna' codec failed ")
    return None


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class ScenarioSource(click.ParamType):
    """A scenario file, a folder of them, or a shipped scenario's name; EMULATOR_SCENARIO joins several with ':'."""

    name = "FILE|DIR|NAME"
    envvar_list_splitter = os.pathsep

    def convert(self, value, param, ctx):
        return str(value)  # checked with the files' contents, so that one line names every problem


class Credential(click.ParamType):
    """VENDOR.KEY=VALUE, the vendor and the key among the documented default credentials."""

    name = "VENDOR.KEY=VALUE"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        vendor_key, sep, secret = value.partition("=")
        vendor, dot, key = vendor_key.partition(".")
        if not (sep and dot and vendor and key):
            self.fail(f"expected VENDOR.KEY=VALUE (e.g. strigo.api_key=abc), not {value!r}", param, ctx)
        known = _default_credentials()
        if vendor not in known:
            self.fail(f"unknown vendor {vendor!r} in {value!r}; vendors: {', '.join(known)}", param, ctx)
        if key not in known[vendor]:
            self.fail(f"{vendor} has no credential {key!r}; its keys: {', '.join(known[vendor])}", param, ctx)
        return vendor, key, secret


class AdminAuth(click.ParamType):
    """USER:PASSWORD for HTTP Basic on the admin API; a refusal never repeats the password."""

    name = "USER:PASSWORD"

    def convert(self, value, param, ctx):
        try:
            parse_admin_auth(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        return str(value)


class AllowedHost(click.ParamType):
    """A host name or IP address the admin API also answers to (`*`: any)."""

    name = "HOST"

    def convert(self, value, param, ctx):
        try:
            return check_allowed_host(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class StateUrl(click.ParamType):
    """memory, sqlite:PATH or redis://HOST:PORT/DB (the store layer checks the rest and reaches it)."""

    name = "memory|sqlite:PATH|redis://HOST:PORT/DB"

    def get_metavar(self, param, ctx=None):
        return self.name  # as written: `memory` and `sqlite:` are lower case on the command line

    def convert(self, value, param, ctx):
        text = str(value).strip()
        if text == "memory" or (text.startswith("sqlite:") and len(text) > 7) or text.startswith("redis://"):
            return text
        self.fail(f"expected memory, sqlite:PATH or redis://HOST:PORT/DB, not {value!r}", param, ctx)


class Commands(click.Group):
    """The command group; a mistyped command gets the close ones suggested (`serv`: did you mean `serve`?)."""

    def resolve_command(self, ctx, args):
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            close = difflib.get_close_matches(name, self.list_commands(ctx), n=3)
            hint = (f"Did you mean {' or '.join(repr(c) for c in close)}?" if close
                    else f"Commands: {', '.join(self.list_commands(ctx))}.")
            ctx.fail(f"No such command {name!r}. {hint}")
        return super().resolve_command(ctx, args)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name=PROG, message="%(prog)s %(version)s")
def cli() -> None:
    """A local stand-in for the reporting APIs of Strigo, Echo360, Falkor and ParkUp."""


@cli.command()
@option("--host", type=Host(), default="127.0.0.1", show_default=True, envvar="EMULATOR_HOST",
        help="interface to listen on")
@option("--port", type=_range("port"), default=8080, show_default=True, envvar="EMULATOR_PORT",
        help="port (0 picks a free one)")
@option("--seed", type=_range("seed"), default=1, show_default=True, envvar="EMULATOR_SEED", help="world seed")
@option("--scenario", "scenarios", type=ScenarioSource(), multiple=True, envvar="EMULATOR_SCENARIO",
        help="a scenario file, a folder (its files in name order) or a shipped name; repeatable")
@option("--clock", type=click.Choice(["real", "manual"]), default="real", show_default=True,
        envvar="EMULATOR_CLOCK", help="clock mode")
@option("--now", type=Instant(), default=None, envvar="EMULATOR_NOW", help="start time (default: the real time)")
@option("--scale", type=_range("scale"), default=1, show_default=True, envvar="EMULATOR_SCALE",
        help="world size multiplier")
@option("--strict", is_flag=True, type=StrictBool(), default=False, envvar="EMULATOR_STRICT",
        help="refuse requests that break the vendor contract")
@option("--journal-cap", type=_range("journal_cap"), default=1000, show_default=True,
        envvar="EMULATOR_JOURNAL_CAP", help="most journal entries kept")
@option("--threads", type=_range("threads"), default=32, show_default=True, envvar="EMULATOR_THREADS",
        help="work threads per process: they make the answers; waits (delays, slow transfers, slow clients) hold none")
@option("--credential", "credentials", type=Credential(), multiple=True, envvar="EMULATOR_CREDENTIAL",
        help="override a default credential, e.g. strigo.api_key=secret; repeatable")
@option("--state", type=StateUrl(), default="memory", show_default=True, envvar="EMULATOR_STATE",
        help="where state lives: memory, sqlite:PATH or redis://HOST:PORT/DB")
@option("--workers", type=_range("workers"), default=1, show_default=True, envvar="EMULATOR_WORKERS",
        help="worker processes (more than 1 needs a sqlite: or redis:// state)")
@option("--pin-cpus", is_flag=True, type=StrictBool(), default=False, envvar="EMULATOR_PIN_CPUS",
        help="keep each process on one of the CPUs it may use (worker i on the i-th): faster where a hand-off "
             "between CPUs is costly (a VM); give each server its own CPUs (taskset, a container's cpuset)")
@option("--log-requests", is_flag=True, type=StrictBool(), default=False, envvar="EMULATOR_LOG_REQUESTS",
        help="print one line per vendor call")
@option("--admin-auth", type=AdminAuth(), default=None, envvar="EMULATOR_ADMIN_AUTH",
        help="require HTTP Basic with these credentials on /_emulator/* and the dashboard")
@option("--allowed-host", "allowed_hosts", type=AllowedHost(), multiple=True, envvar="EMULATOR_ALLOWED_HOST",
        help="another Host name the admin API answers to (besides localhost and the bound address); "
             "repeatable; * allows any (EMULATOR_ALLOWED_HOST: space-separated)")
@option("--replay", type=click.Path(file_okay=False), default=None, envvar="EMULATOR_REPLAY",
        help="a recording folder (report-emulator record): its requests get their recorded answers")
@option("--max-tenants", type=_range("max_tenants"), default=1000, show_default=True,
        envvar="EMULATOR_MAX_TENANTS", help="most tenants (/tenants/<tenant>/...) besides default")
@option("--tenant-idle-hours", type=click.FloatRange(0, 24 * 365, min_open=True), default=24.0,
        show_default=True, envvar="EMULATOR_TENANT_IDLE_HOURS", help="remove a tenant unused this long")
@option("--snapshot", type=click.Path(exists=True, dir_okay=False), default=None, envvar="EMULATOR_SNAPSHOT",
        help="start every new tenant from this snapshot (GET /_emulator/snapshot)")
def serve(**options) -> None:
    """Run the emulator (the default command)."""
    settings = settings_from_options(options)
    check_scenarios(settings.scenarios)
    if settings.replay:
        from .fidelity.cli import check_replay

        check_replay(settings.replay)
    run(settings, given_setup_flags(click.get_current_context()))


# The flags that set up an empty store; a store that already holds state is resumed and ignores them.
SETUP_FLAGS = (("seed", "--seed"), ("now", "--now"), ("clock", "--clock"), ("scale", "--scale"),
               ("scenarios", "--scenario"))


def given_setup_flags(ctx: click.Context) -> list[str]:
    """The set-up flags given on the command line or by their EMULATOR_* variable, as the banner names them."""
    envvars = {param.name: param.envvar for param in ctx.command.params}
    given = []
    for name, flag in SETUP_FLAGS:
        source = ctx.get_parameter_source(name)
        if source == ParameterSource.COMMANDLINE:
            given.append(flag)
        elif source == ParameterSource.ENVIRONMENT:
            given.append(f"{flag} ({envvars[name]})")
    return given


def settings_from_options(options: dict) -> Settings:
    options = dict(options)
    credentials: dict[str, dict[str, str]] = {}
    for vendor, key, value in options.pop("credentials"):
        credentials.setdefault(vendor, {})[key] = value
    scenarios = list(options.pop("scenarios"))
    options["allowed_hosts"] = list(options.pop("allowed_hosts", ()))
    try:
        return Settings(**options, scenarios=scenarios, credentials=credentials)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def parse_settings(argv: list[str]) -> Settings:
    """The Settings `report-emulator serve ARGV` would run with (flags, then EMULATOR_* variables)."""
    with serve.make_context("serve", list(argv)) as ctx:
        return settings_from_options(ctx.params)


def check_scenarios(sources: list[str]) -> None:
    """Refuse bad scenarios before start-up, naming every missing file and wrong field (one line)."""
    from .core.scenarios import ScenarioError, load
    from .scenarios import files, shipped

    problems = []
    for source in sources:
        if not all(path.exists() for path in files(source)):
            problems.append(f"no file, folder or shipped scenario called {source!r} (shipped: {', '.join(shipped())})")
            continue
        try:
            load(source)
        except ScenarioError as exc:
            problems.append(exc.message)
    if not problems and len(sources) > 1:
        try:
            load(sources)
        except ScenarioError as exc:
            problems.append(f"the scenarios together: {exc.message}")
    if problems:
        raise click.UsageError("invalid scenario: " + " | ".join(problems))


def scenario_names(sources: list[str]) -> list[str]:
    """The files loaded, in order; a shipped one by its name."""
    from .scenarios import SHIPPED, files

    return [path.stem if path.parent == SHIPPED else str(path) for source in sources for path in files(source)]


def banner(url: str, settings: Settings, emulator, given: list[str] = ()) -> str:
    """What the server runs with; on a resumed store, what it resumed, and every set-up flag it ignored."""
    if emulator.resumed:
        active = emulator.scenario
        loaded = [f"{active.get('name') or 'unnamed'} (resumed)"] if active else []
    else:
        loaded = scenario_names(settings.scenarios)
    strict = "on" if emulator.strict else "off"
    lines = [f"{PROG} {__version__} listening on {url}",
             f"  dashboard: {url}/_emulator/ui (also {url}/)",
             f"  docs: {url}/_emulator/docs (admin: {url}/_emulator/health)",
             f"  state: {emulator.describe_state()}; workers: {settings.workers}"
             f"{' (each kept on one CPU: --pin-cpus)' if settings.pin_cpus else ''}; strict mode: {strict}",
             f"  scenarios: {', '.join(loaded) if loaded else 'none'}",
             f"  clock: {emulator.clock.mode}, now {emulator.clock.now().isoformat()}; seed {emulator.world.seed}; "
             f"scale {emulator.world.scale}"]
    if emulator.resumed and given:
        lines.append(f"  ignored: {', '.join(given)}: the store already holds state, which was resumed "
                     "(these set up an empty store; reset returns to the store's own start)")
    for name, model in emulator.vendors.items():
        lines.append(f"  {name}: " + ", ".join(f"{k}={v}" for k, v in model.credentials().items()))
    lines.append("  admin API: " + admin_access_line(settings))
    if settings.log_requests:
        lines.append("  logging each vendor call: method, path, status, milliseconds, rule")
    return "\n".join(lines)


def admin_access_line(settings: Settings) -> str:
    """Who may call the admin API, for the banner (the password is never printed)."""
    auth = (f"HTTP Basic as {settings.admin_auth.partition(':')[0]}" if settings.admin_auth
            else "open to anyone who reaches the port (close it with --admin-auth USER:PASSWORD)")
    every_interface = settings.host in ("0.0.0.0", "::")
    names = ["localhost", "loopback addresses", *([] if every_interface else [settings.host]), *settings.allowed_hosts,
             *(["this machine's name and addresses"] if every_interface else [])]
    hosts = "any Host name" if "*" in settings.allowed_hosts else "Host " + ", ".join(dict.fromkeys(names))
    return f"{auth}; {hosts}"


def run(settings: Settings, given: list[str] = ()) -> None:
    from .app import create_app
    from .server import serve as serve_app

    try:
        app = create_app(settings)
    except ValueError as exc:  # e.g. a state URL the store layer refuses or cannot reach
        raise click.UsageError(" ".join(str(exc).split())) from None
    emulator = app.extensions["emulator"]
    try:
        serve_app(settings, app, lambda url: print(banner(url, settings, emulator, given), flush=True))
    except (OSError, UnicodeError) as exc:  # UnicodeError: a host name the resolver's idna codec refuses
        reason = getattr(exc, "strerror", None) or str(exc)
        raise click.UsageError(f"cannot listen on {settings.host} port {settings.port}: {reason}") from None


@cli.command()
@click.argument("vendor")
@click.option("--output", "-o", default="-", help="file to write (default: standard output)")
def openapi(vendor: str, output: str) -> None:
    """Write a vendor's OpenAPI 3 document as JSON (`admin`: the /_emulator API's own)."""
    import json

    from .core.openapi import build_admin_document, build_document
    from .vendors import VENDORS

    specs = {v.name: v for v in VENDORS if v.contract is not None}
    if vendor != "admin" and vendor not in specs:
        raise click.UsageError(f"unknown vendor {vendor!r}; choose one of {', '.join(specs)}, admin")
    document = build_admin_document() if vendor == "admin" else build_document(specs[vendor].contract)
    text = json.dumps(document, indent=2) + "\n"
    if output == "-":
        sys.stdout.write(text)
        return
    try:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise click.UsageError(f"cannot write {output}: {exc.strerror or exc}") from None


@cli.command("scenarios")
def list_scenarios() -> None:
    """List the shipped scenarios (load one by name: --scenario NAME)."""
    from .scenarios import shipped

    items = shipped()
    width = max(map(len, items), default=0)
    for name, description in items.items():
        click.echo(f"{name.ljust(width)}  {description}")


from .fidelity.cli import drift, record  # noqa: E402  (the fidelity commands: README, "Checking the emulator ...")

cli.add_command(record)
cli.add_command(drift)


def one_line(exc: click.ClickException) -> str:
    """The refusal as one line; a value from an EMULATOR_* variable is named by the variable."""
    message = exc.format_message()
    param = getattr(exc, "param", None)
    ctx = getattr(exc, "ctx", None)
    missing = isinstance(exc, click.MissingParameter)
    if isinstance(exc, click.BadParameter) and not missing and param is not None and ctx is not None and param.opts:
        if ctx.get_parameter_source(param.name) == ParameterSource.ENVIRONMENT and param.envvar:
            message = f"Invalid value for {param.envvar} ({param.opts[0]}): {exc.message}"
        else:  # from the flag: click's "(env var: ...)" would only mislead
            message = f"Invalid value for {param.opts[0]!r}: {exc.message}"
    return " ".join(message.split())


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "serve")  # `report-emulator --port 9000` and `python -m emulator` serve
    try:
        result = cli.main(args=argv, prog_name=PROG, standalone_mode=False)
    except click.ClickException as exc:
        print(f"{PROG}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        return 1
    except KeyboardInterrupt:
        return 0
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
