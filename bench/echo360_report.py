"""Echo360 report generation: rows per second and peak memory of a 7-day videoview report, gzip CSV.

Runs the same code a submitted request runs in the background (the seeded world, the per-day event
generator, the streaming gzip writer) at a world scale where a 7-day videoview report passes one
million rows, and prints rows/s and the process's peak resident memory.

    python bench/echo360_report.py [--scale 50] [--days 7] [--report videoview] [--plain]
                                   [--students N] [--media N] [--courses N]

--students, --media and --courses set a size as a scenario's `world: {echo360: {...}}` does (not
multiplied by the scale); the others are the defaults times --scale.
"""
from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from datetime import datetime, timedelta, timezone

from emulator.core.csvout import write_csv_file
from emulator.core.world import World
from emulator.vendors.echo360 import data
from emulator.vendors.echo360.reports import REPORTS


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=50)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--report", default="videoview", choices=list(REPORTS),
                        help="asset is all time (--days is ignored), as a request for it is")
    parser.add_argument("--plain", action="store_true", help="no gzip")
    for size in ("students", "media", "courses"):
        parser.add_argument(f"--{size}", type=int, help=f"{size} in the world (default: {data.BASE_SIZES[size]} x scale)")
    parser.add_argument("--level", type=int, default=data.GZIP_LEVEL, help="gzip level (default: what the emulator uses)")
    args = parser.parse_args()

    anchor = datetime(2026, 1, 15, tzinfo=timezone.utc)
    world = World(1, anchor, args.scale)
    started = time.perf_counter()
    section = {size: getattr(args, size) for size in ("students", "media", "courses") if getattr(args, size) is not None}
    sizes = data.world_sizes(section, args.scale)
    echo = data.EchoWorld(world, sizes)
    built = time.perf_counter() - started
    spec = REPORTS[args.report]
    if spec.dated:
        lo, hi = data.to_epoch_window(anchor - timedelta(days=args.days), anchor, world.history_start, anchor)
    else:
        lo, hi = data.epoch(world.history_start), data.epoch(anchor)
    if spec.events is None:  # the asset reports: every video (asset) or those seen in the window
        batches = echo.asset_batches(lo, hi, data.epoch(anchor), all_videos=not spec.dated)
    else:
        batches = data.event_batches(echo, spec.events, spec.spill_days, lo, hi)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "report.csv" + ("" if args.plain else ".gz"))
        started = time.perf_counter()
        rows = write_csv_file(path, spec.columns, batches, compress=not args.plain, level=args.level)
        elapsed = time.perf_counter() - started
        size = os.path.getsize(path)
    fmt = "plain" if args.plain else f"gzip level {args.level}"
    span = f"{args.days} days" if spec.dated else "all time"
    print(f"echo360 {args.report}, {span}, scale {args.scale} "
          f"({', '.join(f'{k} {v:,}' for k, v in sizes.items())}), {fmt}: "
          f"{rows:,} rows in {elapsed:.1f} s = {rows / elapsed:,.0f} rows/s; file {size / 1e6:.1f} MB; "
          f"world built in {built:.2f} s; peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
