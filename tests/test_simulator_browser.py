"""The web chat simulator in a real headless Chromium (Debian's package, via Playwright)."""

from __future__ import annotations

import pytest

from bot.web import create_app
from tests.browser import chromium, needs_chromium, screenshot
from tests.conftest import served

pytestmark = needs_chromium


@pytest.fixture
def server(config):
    with served(create_app(config)) as url:
        yield url


@pytest.fixture
def page(tmp_path):
    with chromium(tmp_path) as page:
        yield page


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
    screenshot(page, "simulator.png")
