"""The admin pages in a real headless Chromium (Playwright driving the Debian executable).

Screenshots of the overview and a learner page go to test-artifacts/ for review.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.admin_app import TOKEN, make_app
from tests.browser import chromium, needs_chromium, screenshot
from tests.conftest import served

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def served_admin(tmp_path_factory) -> Iterator[tuple[str, object]]:
    app, services, sender = make_app(tmp_path_factory.mktemp("admin"))
    with served(app) as url:
        yield url, (services, sender)


@pytest.fixture(scope="module")
def page(served_admin, tmp_path_factory):
    home = tmp_path_factory.mktemp("chromium-home")
    with chromium(home, accept_downloads=True, viewport={"width": 1280, "height": 900}) as page:
        yield page


def test_admin_in_a_browser(served_admin, page, tmp_path: Path) -> None:
    base, (services, sender) = served_admin

    # Sign in.
    page.goto(f"{base}/admin")
    page.fill("input[name=token]", TOKEN)
    page.fill("input[name=name]", "Lead")
    page.click("button[type=submit]")
    course = page.locator("#course-demo")
    assert course.locator('[data-figure="enrolled"]').inner_text() == "3"
    assert course.locator('[data-figure="completed"]').inner_text() == "1"
    assert course.locator('[data-figure="completion_rate"]').inner_text() == "33.3 %"
    assert course.locator("svg.funnel rect.bar").count() == 4
    trend = course.locator("figure.chart-columns").first  # inline SVG passes the CSP
    assert trend.locator("svg").bounding_box()["height"] > 150
    assert trend.locator("svg rect.bar").count() == 12
    assert trend.locator("table").is_hidden()  # the data table waits in a <details>
    screenshot(page, "admin-overview.png")

    # Filter the learner table.
    page.click("nav >> text=Learners")
    page.wait_for_load_state("load")  # admin.js attaches the live filter on load
    page.fill("input[name=q]", "hopper")  # live filter, no round trip
    expect(page.locator("#learners tbody tr:visible")).to_have_count(1)
    page.fill("input[name=q]", "")
    with page.expect_navigation():
        page.select_option("select[name=status]", "in_progress")  # submits on change
    rows = page.locator("#learners tbody tr")
    assert rows.count() == 1 and "Grace Hopper" in rows.first.inner_text()
    assert "status=in_progress" in page.url

    # Open a learner and send a nudge.
    page.click("text=Grace Hopper")
    assert "Topic 3" in page.locator("li.current").inner_text()
    page.click("text=Send a nudge now")
    assert page.locator(".banner.ok").inner_text().startswith("Nudge queued")
    services.engagement.run_due()  # the clock's tick
    assert [key for key, _ in sender.sent] == ["slack:T1:U2"]
    assert "nudge" in page.locator("section", has_text="Audit").last.inner_text()
    screenshot(page, "admin-learner-nudged.png")
    page.goto(f"{base}/admin/learners/whatsapp:+15550000001")
    assert "What is a Gold partner?" in page.content()
    assert "63016" in page.locator("ol.timeline").inner_text()
    screenshot(page, "admin-learner.png")
    for name in ("certification", "content", "languages"):
        page.click(f"nav >> text={name.title()}")
        screenshot(page, f"admin-{name}.png")

    # Import a CSV with one bad row.
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "name;phone;role;course\nBola;+234 803 123 4567;installer;demo\nBad;12;installer;demo\n",
        encoding="utf-8",
    )
    page.click("nav >> text=Import")
    page.set_input_files("input[name=roster]", str(roster))
    page.click("form[enctype] button[type=submit]")
    assert page.locator('[data-figure="created"]').inner_text() == "1"
    errors = page.locator("#import-errors tbody tr")
    assert errors.count() == 1 and errors.first.inner_text().startswith("3")
    assert services.store.load("whatsapp:+2348031234567") is not None

    # Download an export.
    page.click("nav >> text=Overview")
    with page.expect_download() as download:
        page.click("a[href$='progress.csv']")
    path = tmp_path / "progress.csv"
    download.value.save_as(path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("key,course,name") and "Bola" in text
