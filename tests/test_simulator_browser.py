"""The web chat simulator in a real headless Chromium (Debian's package, via Playwright)."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from bot.web import create_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture
def server(config):
    app = create_app(config)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


@pytest.fixture
def page(tmp_path, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield browser.new_page()
        browser.close()


def test_learn_in_the_browser(server, page):
    page.goto(f"{server}/simulator")
    page.fill("#name", "Ada")
    page.dispatch_event("#name", "change")
    page.click("button.course >> text=Partner Onboarding")
    page.wait_for_selector(".msg.bot >> text=Welcome, Ada")
    page.wait_for_selector(".msg.bot >> text=Session 1: Welcome to Solaro")
    page.click(".msg.bot .buttons button >> text=Next")
    page.wait_for_selector(".msg.bot >> text=Session 2: The three Solaro kits")
    image = page.locator(".msg.bot img").first
    image.wait_for()
    assert page.evaluate("(img) => img.naturalWidth", image.element_handle()) > 0
    page.fill("#text", "menu")
    page.press("#text", "Enter")
    page.wait_for_selector(".msg.bot >> text=Progress: 1/7 sessions completed")
    page.fill("#text", "<img src=x onerror=alert(1)>")
    page.press("#text", "Enter")
    page.wait_for_selector(".msg.me >> text=<img src=x onerror=alert(1)>")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "simulator.png"), full_page=True)
