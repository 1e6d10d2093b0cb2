"""CSV writers shared by every report.

`render_csv` is the small in-memory writer of the synchronous reports (Strigo): strings quoted,
numbers and booleans bare (`true`/`false`), None as an empty field. Streaming gzip writers for large
asynchronous reports (Echo360) live here too.
"""
from __future__ import annotations

import csv
import fcntl
import gzip
import io
import os
import threading
from typing import Any, Callable, Iterable, Sequence


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


# --- Streaming writers for large asynchronous reports (Echo360) ----------------------------------

DELIMITERS = (",", "\t", "|")


class Cancelled(Exception):
    """The report being written was cancelled (e.g. by a reset); its partial file is removed."""


def write_csv_file(path: str, header: Sequence[str], batches: Iterable[Iterable[Sequence[Any]]], *,
                   delimiter: str = ",", compress: bool = True, level: int = 6,
                   cancelled: Callable[[], bool] | None = None) -> int:
    """Stream a CSV (gzipped or plain, UTF-8) to path, batch by batch; returns the number of rows.

    Strings are quoted and numbers bare (the vendor's sample: `"Alice","home",2,"2020-02-02"`),
    lines end with `\\n`. Memory stays at one batch whatever the size of the report. The gzip member
    carries no file name or time, so the same rows give the same bytes. The file appears complete
    or not at all (written to a part file of this process and thread, then renamed), so two processes
    writing the same report at once both leave the same complete bytes. The part file is locked
    (flock) until it is renamed, so another process tells it from one left by a writer that died
    (`being_written`); it is readable by its user only (FILE_MODE, whatever the umask).
    """
    if delimiter not in DELIMITERS:
        raise ValueError(f"delimiter must be one of {DELIMITERS!r}, not {delimiter!r}")
    part = f"{path}.{os.getpid()}-{threading.get_ident()}.part"
    rows = 0
    owner = os.open(part, os.O_RDWR | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        fcntl.flock(owner, fcntl.LOCK_EX)
        os.fchmod(owner, FILE_MODE)
        with open(part, "wb") as raw:
            sink = gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=level, mtime=0) if compress else raw
            with io.TextIOWrapper(sink, encoding="utf-8", newline="") as text:
                writer = csv.writer(text, delimiter=delimiter, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
                writer.writerow(header)
                for batch in batches:
                    if cancelled is not None and cancelled():
                        raise Cancelled(path)
                    if not isinstance(batch, list):
                        batch = list(batch)
                    writer.writerows(batch)
                    rows += len(batch)
        os.replace(part, path)  # still locked: nobody removes it half-way
    except BaseException:
        try:
            os.remove(part)
        except OSError:
            pass
        raise
    finally:
        os.close(owner)
    return rows


FILE_MODE = 0o600  # report files: readable by their user only


def being_written(part: str) -> bool:
    """Whether a live process is writing this part file (it holds its lock), whatever PID namespace it runs in."""
    try:
        fd = os.open(part, os.O_RDONLY)
    except OSError:  # gone: renamed or removed meanwhile
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False
