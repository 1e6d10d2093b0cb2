"""Regular expressions that come from outside (a scenario's `path_regex`, the journal's count and near
misses), run by RE2: time linear in the text, whatever the pattern.

Python's `re` backtracks: `^/v1/(a+)+$` against `/v1/` + 26 `a` + `!` took 2.8 s and held the
interpreter, so every other client waited as long, and each extra character doubled it. RE2 (the
`google-re2` package) never backtracks. In exchange it has no backreferences and no lookaround; a
pattern that needs them is refused when it is loaded, with RE2's reason.
"""
from __future__ import annotations

import re2

# RE2's memory budget for one compiled pattern (its own default, made explicit): a pattern that needs
# more is refused at load ("pattern too large"), so no pattern can make matching slow or large.
MAX_PATTERN_MEMORY = 8 * 1024 * 1024

_OPTIONS = re2.Options()
_OPTIONS.max_mem = MAX_PATTERN_MEMORY
_OPTIONS.log_errors = False  # a refused pattern is the caller's 400, not a line on standard error

# What RE2's messages mean, for the constructs Python's `re` has and RE2 does not.
_HINTS = (("invalid perl operator: (?=", "lookahead"), ("invalid perl operator: (?!", "lookahead"),
          ("invalid perl operator: (?<=", "lookbehind"), ("invalid perl operator: (?<!", "lookbehind"),
          *((f"invalid escape sequence: \\{digit}", "backreferences") for digit in range(1, 10)),
          ("invalid escape sequence: \\Z", "\\Z (write \\z)"))


def compile_regex(pattern: str):
    """The pattern compiled by RE2, or ValueError with the reason it cannot run (RE2 syntax, linear time)."""
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        raise ValueError(_reason(exc)) from None
    except UnicodeEncodeError:
        raise ValueError("the pattern is not valid Unicode text (a lone surrogate)") from None


def search(compiled, text: str) -> bool:
    """Whether the compiled pattern occurs in text (text that is not valid Unicode never matches)."""
    try:
        return compiled.search(text) is not None
    except UnicodeEncodeError:
        return False


def _reason(exc: Exception) -> str:
    detail = exc.args[0] if exc.args else str(exc)
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    for start, construct in _HINTS:
        if detail.startswith(start):
            return f"RE2 cannot run this pattern: {detail} (RE2 runs every pattern in linear time and has no {construct})"
    return f"RE2 cannot run this pattern: {detail}"
