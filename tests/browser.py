"""What the browser tests share: the Debian Chromium and where screenshots go.

Playwright drives the system's `chromium` (it never downloads a browser); each launch gets
its own XDG folders so Chromium writes nothing under the real home.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@contextmanager
def chromium(home: Path, **context_options) -> Iterator[object]:
    """A new page in a headless Chromium whose config and cache live under `home`."""
    from playwright.sync_api import sync_playwright

    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
    }
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, env=env, args=FLAGS)
        context = browser.new_context(**context_options)
        context.set_default_timeout(10_000)
        try:
            yield context.new_page()
        finally:
            browser.close()


def screenshot(page, name: str) -> None:
    """Save a full-page screenshot to test-artifacts/ for review."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
