"""The "Contract testing" page's worked example (docs/contract-testing.md) runs as written, and fails as the page says it would."""
from __future__ import annotations

import re
from pathlib import Path

PAGE = Path(__file__).resolve().parent.parent / "docs" / "contract-testing.md"


def section(title: str) -> str:
    return PAGE.read_text()


def worked_example() -> str:
    part = section("Contract testing")
    return re.search(r"## A client test suite in strict mode.*?```python\n(.*?)```", part, re.S).group(1)


def test_the_worked_example_passes(pytester):
    pytester.makepyfile(test_client=worked_example())
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_the_worked_example_fails_on_an_undocumented_parameter_as_the_readme_shows(pytester):
    source = worked_example().replace('params={"output": "csv"}', 'params={"output": "csv", "format": "csv"}')
    assert "format" in source
    pytester.makepyfile(test_client=source)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    # The client raises on the 422 first; the check after the test then lists the violation.
    result.assert_outcomes(failed=1, errors=1)
    shown = re.search(r"```text\n(AssertionError: 1 contract violation:\n.*?)\n```", section("Contract testing"), re.S).group(1)
    first, second = shown.splitlines()
    result.stdout.fnmatch_lines([f"*{first}*", "*" + second.strip().replace("<id>", "*") + "*"])
