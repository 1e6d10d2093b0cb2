"""The documentation site builds with `mkdocs build --strict`, its generated reference is current, and
the hand-written pages name everything the code has (so the docs cannot drift from the code).
The examples on the pages run in tests/test_readme_examples.py."""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import click

from emulator.__main__ import cli

ROOT = Path(__file__).resolve().parent.parent
BIN = os.path.dirname(sys.executable)
DOCS = ROOT / "docs"


def gen_reference():
    spec = importlib.util.spec_from_file_location("gen_reference", ROOT / "scripts" / "gen_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mkdocs_build_strict_passes(tmp_path):
    done = subprocess.run([os.path.join(BIN, "mkdocs"), "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    cli_page = (tmp_path / "site" / "cli" / "index.html").read_text()
    # mkdocs-click rendered the command line from click itself
    for option in ("--workers", "--log-requests", "--journal-cap", "--output"):
        assert option in cli_page
    assert (tmp_path / "site" / "ui.png").exists()


def test_the_generated_reference_pages_are_current():
    module = gen_reference()
    for name, render in module.PAGES.items():
        assert (DOCS / "reference" / name).read_text() == render(), (
            f"docs/reference/{name} is stale: run `python scripts/gen_reference.py`")


def test_the_admin_reference_names_every_admin_route():
    from emulator.app import create_app

    app = create_app()
    try:
        rules = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r.rule) for r in app.url_map.iter_rules()
                 if r.rule.startswith("/_emulator/") and not r.rule.startswith("/_emulator/docs/")
                 and not r.rule.startswith("/_emulator/ui/static")}
    finally:
        app.extensions["emulator"].close()
    page = (DOCS / "reference" / "admin-api.md").read_text()
    missing = sorted(rule for rule in rules if f" {rule}`" not in page)
    assert not missing, f"admin routes missing from the OpenAPI document: {missing}"


def test_the_readme_is_short_and_its_links_resolve():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    assert "pip install . && report-emulator serve" in text and "pip install -e '.[test]' && pytest" in text
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
        assert (ROOT / target).exists(), target


def test_the_cli_page_lists_every_flag_with_its_variable():
    serve = cli.commands["serve"]
    page = (DOCS / "cli.md").read_text()
    table = dict(re.findall(r"^\| `(--[a-z-]+)` \| `(EMULATOR_[A-Z_]+)`", page, re.M))
    options = {p.opts[0]: p.envvar for p in serve.params if isinstance(p, click.Option)}
    options.pop("--help", None)
    assert table == options
    assert set(cli.commands) <= set(re.findall(r"`report-emulator (\w+)", page)) | {"serve"}


def test_the_scenarios_page_names_every_key_and_fault():
    import emulator.app  # noqa: F401  (the vendors register their knobs)
    from emulator.core.scenarios import FAULTS, VENDOR_KNOBS, WORLD_FIELDS, MatchSchema, RespondSchema, RuleSchema, scenario_schema

    page = (DOCS / "scenarios.md").read_text()
    names = set(scenario_schema().fields) | set(FAULTS) | set(MatchSchema().fields) | set(RespondSchema().fields)
    names |= set(RuleSchema().fields)
    names |= {knob for knobs in VENDOR_KNOBS.values() for knob in knobs}
    names |= {field for fields in WORLD_FIELDS.values() for field in fields}
    missing = sorted(name for name in names if not re.search(rf"\b{re.escape(name)}\b", page))
    assert not missing, f"docs/scenarios.md does not name: {missing}"


def test_every_vendor_has_a_page_with_its_fidelity_notes():
    from emulator.core.scenarios import VENDORS

    for vendor in VENDORS:
        page = (DOCS / "vendors" / f"{vendor}.md").read_text()
        assert "## Fidelity notes" in page
