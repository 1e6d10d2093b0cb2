"""CSV writers shared by every report.

`render_csv` is the small in-memory writer of the synchronous reports (Strigo): strings quoted,
numbers and booleans bare (`true`/`false`), None as an empty field. Streaming gzip writers for large
asynchronous reports (Echo360) live here too.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def csv_field(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    return _quote(str(value))


def render_csv(header: Sequence[str], rows: Iterable[Sequence[Any]], quote_header: bool = True,
               line_end: str = "\n") -> str:
    """A whole CSV document: the header row (quoted or bare), then one line per row."""
    lines = [",".join(_quote(h) if quote_header else h for h in header)]
    lines.extend(",".join(csv_field(v) for v in row) for row in rows)
    return line_end.join(lines) + line_end
