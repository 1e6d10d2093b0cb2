"""The command line: `report-emulator serve ...` (also `python -m emulator`)."""
from __future__ import annotations

import argparse
import os
import sys

from .settings import Settings, parse_instant


def _instant(text: str):
    try:
        return parse_instant(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 timestamp: {text!r}") from None


def _credential(text: str) -> tuple[str, str, str]:
    vendor_key, sep, value = text.partition("=")
    vendor, dot, key = vendor_key.partition(".")
    if not (sep and dot and vendor and key):
        raise argparse.ArgumentTypeError(f"expected VENDOR.KEY=VALUE (e.g. strigo.api_key=abc), not {text!r}")
    return vendor, key, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="report-emulator", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the emulator (the default command)")
    serve.add_argument("--host", default=None, help="interface to listen on (EMULATOR_HOST; default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (EMULATOR_PORT; default 8080; 0 picks one)")
    serve.add_argument("--seed", type=int, default=None, help="world seed (EMULATOR_SEED; default 1)")
    serve.add_argument("--scenario", action="append", default=None, metavar="FILE",
                       help="scenario file, repeatable (EMULATOR_SCENARIO, several joined by the path separator)")
    serve.add_argument("--clock", choices=("real", "manual"), default=None, help="clock mode (EMULATOR_CLOCK; default real)")
    serve.add_argument("--now", type=_instant, default=None, help="start time, ISO 8601 (EMULATOR_NOW; default the real time)")
    serve.add_argument("--scale", type=int, default=None, help="world size multiplier (EMULATOR_SCALE; default 1)")
    serve.add_argument("--strict", action="store_true", default=None, help="refuse requests that break the vendor contract (EMULATOR_STRICT)")
    serve.add_argument("--journal-cap", type=int, default=None, help="most journal entries kept (EMULATOR_JOURNAL_CAP; default 1000)")
    serve.add_argument("--state", default=None, help="memory, sqlite:PATH or redis://HOST:PORT/DB (EMULATOR_STATE; default memory)")
    serve.add_argument("--threads", type=int, default=None, help="worker threads (default 32)")
    serve.add_argument("--credential", action="append", type=_credential, default=[], metavar="VENDOR.KEY=VALUE",
                       help="override a default credential, e.g. strigo.api_key=secret (repeatable)")
    openapi = sub.add_parser("openapi", help="write a vendor's OpenAPI 3 document as JSON")
    openapi.add_argument("vendor", help="strigo, echo360, falkor or parkup")
    openapi.add_argument("--output", "-o", default="-", help="file to write (default: standard output)")
    return parser


def write_openapi(vendor: str, output: str) -> int:
    import json

    from .core.openapi import build_document
    from .vendors import VENDORS

    specs = {v.name: v for v in VENDORS if v.contract is not None}
    if vendor not in specs:
        print(f"report-emulator openapi: unknown vendor {vendor!r}; choose one of {', '.join(specs)}", file=sys.stderr)
        return 2
    text = json.dumps(build_document(specs[vendor].contract), indent=2) + "\n"
    if output == "-":
        sys.stdout.write(text)
    else:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
    return 0


def settings_from_args(args: argparse.Namespace) -> Settings:
    credentials: dict[str, dict[str, str]] = {}
    for vendor, key, value in args.credential:
        credentials.setdefault(vendor, {})[key] = value
    return Settings.from_env(
        host=args.host, port=args.port, seed=args.seed, scenarios=args.scenario, clock=args.clock,
        now=args.now, scale=args.scale, strict=args.strict, journal_cap=args.journal_cap,
        threads=args.threads, credentials=credentials or None, state=args.state,
    )


def serve(settings: Settings) -> None:
    from .app import create_app
    from .server import serve_forever

    try:
        app = create_app(settings)
    except ValueError as exc:  # a store that cannot be used (core/store/): one line, exit 2
        print(f"report-emulator: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    emulator = app.extensions["emulator"]

    def ready(server) -> None:
        lines = [f"report-emulator listening on {server.url}",
                 f"  clock: {emulator.clock.mode}, now {emulator.clock.now().isoformat()}; seed {settings.seed}; scale {settings.scale}"]
        for name, model in emulator.vendors.items():
            creds = ", ".join(f"{k}={v}" for k, v in model.credentials().items())
            lines.append(f"  {name}: {creds}")
        lines.append(f"  state: {emulator.describe_state()}")
        lines.append(f"  admin: {server.url}/_emulator/health")
        print("\n".join(lines), flush=True)

    serve_forever(app, settings.host, settings.port, settings.threads, on_ready=ready)


def check_scenarios(parser: argparse.ArgumentParser, paths: list[str]) -> None:
    """Refuse bad scenario files before start-up, naming every wrong field of each file."""
    from .core.scenarios import ScenarioError, load

    problems = []
    for path in paths:
        try:
            load(path)
        except ScenarioError as exc:
            problems.append(f"scenario file {path}:\n" + "\n".join(f"  {line}" for line in exc.lines()))
    if not problems and len(paths) > 1:
        try:
            load(paths)
        except ScenarioError as exc:
            problems.append("the scenario files together:\n" + "\n".join(f"  {line}" for line in exc.lines()))
    if problems:
        parser.error("invalid scenario\n" + "\n".join(problems))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("serve", "openapi", "-h", "--help"):
        argv.insert(0, "serve")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "serve":
        try:
            settings = settings_from_args(args)
        except ValueError as exc:
            parser.error(str(exc))
        check_scenarios(parser, settings.scenarios)
        serve(settings)
        return 0
    if args.command == "openapi":
        return write_openapi(args.vendor, args.output)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
