"""The settings model (bot/settings.py), `.env.example` and the README's configuration table
name exactly the same variables, so a setting cannot ship undocumented, and nothing in
`bot/` reads one of them around the model (issue 19: twelve were read ad hoc)."""

from __future__ import annotations

import re

from bot.config import VARIABLES
from tests.conftest import ROOT

LISTED = re.compile(r"^#?\s*([A-Z][A-Z0-9_]{2,})=", re.M)
NAME = re.compile(r"`([A-Z][A-Z0-9_]{2,})`")


def model() -> set[str]:
    return set(VARIABLES.values())


def readme_table() -> set[str]:
    """The names in the first column of the table under "## Configuration"."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in NAME.findall(row)}


def test_env_example_lists_exactly_the_settings_of_the_model():
    listed = set(LISTED.findall((ROOT / ".env.example").read_text(encoding="utf-8")))
    assert model() - listed == set(), "in the settings model but missing from .env.example"
    assert listed - model() == set(), "in .env.example but not in the settings model"


def test_the_readme_table_lists_exactly_the_settings_of_the_model():
    table = readme_table()
    assert model() - table == set(), "in the settings model but missing from the README"
    assert table - model() == set(), "in the README's table but not in the settings model"


def test_no_code_reads_a_setting_around_the_model():
    """`config.extra` is gone; `os.environ` / `getenv` are for other tools' variables
    (REQUESTS_CA_BUNDLE, XDG_CACHE_HOME), never for the bot's own settings."""
    raw = re.compile(r"""(?:environ\.get|environ\[|getenv)\(?\s*['"]([A-Z][A-Z0-9_]+)['"]""")
    for path in [*(ROOT / "bot").rglob("*.py"), ROOT / "app.py"]:
        text = path.read_text(encoding="utf-8")
        assert ".extra" not in text.replace("**extra", ""), path
        assert set(raw.findall(text)) & model() == set(), path
