"""`--log-requests`: one line per vendor call, made from its journal entry."""
from __future__ import annotations

import sys


def format_request_line(entry: dict) -> str:
    """`GET /api/v1/health?x=1 200 1.4 ms`, then `rule <name>` when a scenario rule answered;
    a call that got no answer (a connection reset) shows `-` and the fault."""
    query = f"?{entry['query']}" if entry.get("query") else ""
    status = entry.get("status")
    answer = str(status) if status is not None else f"- ({entry.get('fault') or 'no answer'})"
    line = f"{entry['method']} {entry['path']}{query} {answer} {entry.get('duration_ms', 0):.1f} ms"
    return f"{line} rule {entry['rule']}" if entry.get("rule") else line


def log_request(entry: dict) -> None:
    """Write the line in one call, so lines from concurrent requests never interleave."""
    sys.stdout.write(format_request_line(entry) + "\n")
    sys.stdout.flush()
