"""`.env.example` names every setting the code reads, and nothing else, so a new setting
cannot ship undocumented (the README's configuration table says what each means)."""

from __future__ import annotations

import re

from tests.conftest import ROOT

# How the code reads a setting: Config.from_env's get("X"), config.extra.get("X"), and the
# helpers that parse one (`_setting(extra, "X", …)`, `days("X", …)`). Not `os.environ.get`:
# other tools' conventions (REQUESTS_CA_BUNDLE, XDG_CACHE_HOME) are theirs to document.
READ = re.compile(r'(?<!environ\.)(?:\bget|_setting|days)\(\s*(?:extra,\s*)?"([A-Z][A-Z0-9_]{2,})"')
LISTED = re.compile(r"^#?\s*([A-Z][A-Z0-9_]{2,})=", re.M)


def read_by_code() -> set[str]:
    return {
        name
        for path in (ROOT / "bot").rglob("*.py")
        for name in READ.findall(path.read_text(encoding="utf-8"))
    }


def test_env_example_lists_exactly_the_settings_the_code_reads():
    listed = set(LISTED.findall((ROOT / ".env.example").read_text(encoding="utf-8")))
    read = read_by_code()
    assert read - listed == set(), "read by the code but missing from .env.example"
    assert listed - read == set(), "in .env.example but read nowhere"


def test_every_listed_setting_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = {name for name in read_by_code() if f"`{name}`" not in readme}
    assert missing == set()
