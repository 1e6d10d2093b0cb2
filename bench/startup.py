"""`report-emulator serve` start to first 200 on /_emulator/health (target <= 0.5 s median)."""
from __future__ import annotations

import argparse

from _common import start_server, stop_server, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    times = []
    for _ in range(args.runs):
        proc, _url, seconds = start_server()
        times.append(seconds)
        stop_server(proc)
    print(f"serve start to first 200: {summary(times)}")


if __name__ == "__main__":
    main()
