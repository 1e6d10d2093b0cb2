"""The fidelity commands: `report-emulator record ...` and `report-emulator drift DIR` (and serve's --replay check)."""
from __future__ import annotations

import sys

import click

FORMATS = ("text", "json", "junit")


def check_replay(folder: str) -> None:
    """Refuse `serve --replay DIR` before start-up when DIR is not a folder of recordings."""
    from .replay import ReplayError, check_folder

    try:
        check_folder(folder)
    except ReplayError as exc:
        raise click.UsageError(f"--replay: {exc}") from None


@click.command()
@click.option("--upstream", required=True, help="the vendor's base URL, e.g. https://echo360.org")
@click.option("--vendor", required=True, help="which vendor it is: strigo, echo360, falkor or parkup")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="folder for the recordings")
@click.option("--host", default="127.0.0.1", show_default=True, help="interface to listen on")
@click.option("--port", type=click.IntRange(0, 65535), default=8081, show_default=True, help="port (0 picks a free one)")
@click.option("--mask-field", "mask_fields", multiple=True, help="mask this field (JSON or CSV column) in answers; repeatable")
@click.option("--timeout", type=click.FloatRange(0.1, 3600), default=30.0, show_default=True,
              help="seconds to wait for the upstream to connect and between reads")
def record(upstream: str, vendor: str, out: str, host: str, port: int, mask_fields: tuple[str, ...], timeout: float) -> None:
    """Pass requests through to the real vendor and record each exchange in OUT (one HAR file each)."""
    from types import SimpleNamespace

    from ..server import serve
    from .record import Recorder, banner

    try:
        recorder = Recorder(upstream, vendor, out, mask_fields, timeout)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    except OSError as exc:
        raise click.UsageError(f"cannot write to {out}: {exc.strerror or exc}") from None
    settings = SimpleNamespace(host=host, port=port, workers=1, threads=16)
    try:
        serve(settings, recorder.app(), lambda url: print(banner(url, recorder), flush=True))
    except OSError as exc:
        raise click.UsageError(f"cannot listen on {host} port {port}: {exc.strerror or exc}") from None


@click.command()
@click.argument("folder", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--output", "-o", default="-", help="file to write the report to (default: standard output)")
def drift(folder: str, fmt: str, output: str) -> int:
    """Compare recorded exchanges with the emulator's contract and answers. Exit 0: none; 1: drift; 2: bad input."""
    from . import drift as comparing

    report = comparing.run(folder)
    text = {"text": comparing.as_text, "json": comparing.as_json, "junit": comparing.as_junit}[fmt](report)
    if output == "-":
        sys.stdout.write(text)
    else:
        try:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            raise click.UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
    if report.bad_input:
        for name, problem in report.bad_input:
            print(f"report-emulator: bad input: {name}: {problem}", file=sys.stderr)
    return report.exit_code
