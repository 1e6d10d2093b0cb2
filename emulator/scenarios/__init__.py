"""The scenarios shipped with the package, and how a scenario source becomes files.

A source is a file, a folder (every scenario file in it, in name order) or the name of a shipped
scenario (`parkup-outage`). Each shipped file opens with a one-line description comment.
"""
from __future__ import annotations

from pathlib import Path

SHIPPED = Path(__file__).resolve().parent
SUFFIXES = (".yaml", ".yml", ".json")


def shipped() -> dict[str, str]:
    """{name: one-line description} of every shipped scenario, in name order."""
    return {path.stem: _description(path) for path in sorted(SHIPPED.glob("*.yaml"))}


def _description(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0] if path.stat().st_size else ""
    return first.lstrip("#").strip()


def shipped_path(name: str) -> Path | None:
    """The shipped file called `name` (no folder, no suffix), or None."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    path = SHIPPED / f"{name}.yaml"
    return path if path.is_file() else None


def files(source: str | Path) -> list[Path]:
    """The files a source names: a folder's scenario files in name order, a shipped name's file, or
    the path itself (an existing path wins over a shipped name; a missing one is left for the reader
    to refuse, naming it)."""
    path = Path(source)
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not path.exists():
        named = shipped_path(str(source))
        if named is not None:
            return [named]
    return [path]
