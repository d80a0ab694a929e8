"""The web chat simulator in a real headless Chromium (Debian's package, via Playwright)."""

from __future__ import annotations

import shutil

import pytest

from bot.web import create_app
from tests.browser import chromium, needs_chromium, screenshot
from tests.conftest import SAMPLE, served

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


# --- issue 17: what the page got wrong ------------------------------------------------

SMALL = {"viewport": {"width": 420, "height": 560}}
# Every messages poll answers 1.6 s late, longer than the page's 1.5 s polling interval:
# the timer's poll and a send's poll overlap on every turn (they once showed a reply twice).
SLOW_POLLS = """
const realFetch = window.fetch;
window.fetch = async (...args) => {
  const response = await realFetch(...args);
  if (String(args[0]).includes("/api/messages")) await new Promise((ok) => setTimeout(ok, 1600));
  return response;
};
"""
NEWEST_IN_VIEW = """() => {
  const log = document.getElementById("log");
  const box = log.getBoundingClientRect();
  const last = log.lastElementChild.getBoundingClientRect();
  return last.bottom <= Math.min(box.bottom, window.innerHeight) + 1 && last.bottom > box.top;
}"""


def bot_bubbles(page) -> int:
    return page.locator(".msg.bot").count()


def type_and_send(page, text: str) -> None:
    page.fill("#text", text)
    page.press("#text", "Enter")


def enroll(page, server: str) -> None:
    page.goto(f"{server}/simulator")
    page.fill("#name", "Ada")
    page.dispatch_event("#name", "change")
    page.click("button.course >> text=Partner Onboarding")
    page.wait_for_selector(".msg.bot >> text=Session 1: Welcome to Solaro")


@pytest.fixture
def small_page(tmp_path):
    with chromium(tmp_path, **SMALL) as page:
        yield page


def test_the_newest_message_is_in_view_after_every_send(server, small_page):
    """`.phone{min-height:100vh}` let the page grow past the window, so scrolling the log
    did nothing and replies arrived below the fold."""
    page = small_page
    enroll(page, server)
    page.wait_for_function(NEWEST_IN_VIEW, timeout=3000)
    for text in ("menu", "next", "progress", "help", "menu", "next"):
        before = bot_bubbles(page)
        type_and_send(page, text)
        page.wait_for_function(f"() => document.querySelectorAll('.msg.bot').length > {before}")
        page.wait_for_function(NEWEST_IN_VIEW, timeout=3000)
    assert page.evaluate("document.getElementById('log').scrollTop") > 0
    assert page.evaluate("document.documentElement.scrollHeight <= window.innerHeight + 1")
    screenshot(page, "simulator-small.png")


def test_one_bubble_per_message_when_polls_race(server, tmp_path):
    with chromium(tmp_path) as page:
        page.add_init_script(SLOW_POLLS)
        enroll(page, server)
        for text in ("menu", "progress", "next"):
            type_and_send(page, text)
            page.wait_for_timeout(700)
        page.wait_for_selector(".msg.bot >> text=Session 2: The three Solaro kits")
        page.wait_for_timeout(3500)  # every poll still in flight lands
        learner = page.evaluate("localStorage.getItem('trainbot.learner')")
        api = f"{server}/simulator/api/messages?learner={learner}&after=0"
        seqs = [m["seq"] for m in page.request.get(api).json()]
        assert len(seqs) == len(set(seqs)) == 5  # welcome, session 1, menu, progress, session 2
        assert bot_bubbles(page) == len(seqs)


def test_buttons_of_earlier_messages_are_disabled(server, page):
    enroll(page, server)
    first = page.locator(".msg.bot", has_text="Session 1: Welcome to Solaro").first.locator(
        "button"
    )
    assert first.count() > 0 and all(b.is_enabled() for b in first.all())
    first.filter(has_text="Next").click()
    assert all(b.is_disabled() for b in first.all())  # at once, before the reply
    page.wait_for_selector(".msg.bot >> text=Session 2: The three Solaro kits")
    session_2 = page.locator(".msg.bot", has_text="Session 2: The three Solaro kits").first
    newest = session_2.locator("button")
    assert page.locator(".msg.bot").last.locator("button").count() == newest.count() > 0
    assert newest.count() > 0 and all(b.is_enabled() for b in newest.all())
    enabled = page.locator(".msg .buttons button:enabled")
    assert enabled.count() == newest.count()
    type_and_send(page, "menu")
    page.wait_for_selector(".msg.bot >> text=Progress: 1/7 sessions completed")
    assert all(b.is_disabled() for b in newest.all())


@pytest.fixture
def pdf_server(config, tmp_path):
    """The sample course with a PDF written as an image and a bare address in session 1."""
    content = tmp_path / "content"
    shutil.copytree(SAMPLE, content)
    course = content / "partner-onboarding"
    (course / "media" / "prices.pdf").write_bytes(PDF)
    welcome = course / "01-welcome.md"
    welcome.write_text(
        welcome.read_text()
        + "\n\n![Price list](media/prices.pdf)\n\nMore at https://solaro.example/partners.\n"
    )
    with served(create_app(config.replace(content_dir=content))) as url:
        yield url


PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n%%EOF\n"


def test_a_pdf_is_an_attachment_and_addresses_are_safe_links(pdf_server, page):
    enroll(page, pdf_server)
    assert page.locator(".msg img[src$='.pdf']").count() == 0
    card = page.locator(".msg.bot a.attachment")
    assert card.text_content() == "📄 Price list"
    href = card.get_attribute("href")
    assert href.endswith("/media/partner-onboarding/media/prices.pdf")
    response = page.request.get(pdf_server + href)
    assert response.ok and response.headers["content-type"] == "application/pdf"

    link = page.locator(".msg.bot a[href='https://solaro.example/partners']")
    assert link.text_content() == "https://solaro.example/partners"  # the full stop stays text
    assert link.get_attribute("rel") == "noopener noreferrer"
    assert link.get_attribute("target") == "_blank"

    type_and_send(page, "see https://a.example/x?y=1 or javascript:alert(1) <b>x</b>")
    mine = page.locator(".msg.me").last
    mine.locator("a[href='https://a.example/x?y=1']").wait_for()
    assert mine.locator("a").count() == 1 and mine.locator("b").count() == 0
    assert "javascript:alert(1) <b>x</b>" in mine.text_content()
