"""Course media cannot run script on the bot's origin (issue 16).

On main a course file `media/x.html` was served inline as `text/html` from the app's own
origin: its script ran with a signed-in admin's cookies and could read the admin pages'
CSRF token, so any course author could act as admin. `content check` accepted it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.config import Config
from bot.content import check
from bot.web import create_app
from tests.conftest import SAMPLE

SCRIPT = b"<script>fetch('/admin').then(r => r.text()).then(t => alert(t))</script>"
PNG = (SAMPLE / "partner-onboarding" / "media" / "partner-tiers.png").read_bytes()


def add_bad_files(root: Path) -> Path:
    """What a hostile (or careless) course author might put in `media/`."""
    media = root / "partner-onboarding" / "media"
    (media / "x.html").write_bytes(SCRIPT)
    (media / "x.svg").write_bytes(b'<svg xmlns="http://www.w3.org/2000/svg">' + SCRIPT + b"</svg>")
    (media / "x.js").write_bytes(b"alert(1)")
    (media / "guide.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    (media / "disguised.png").write_bytes(SCRIPT)  # an image name, HTML inside
    return root


@pytest.fixture
def content(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    shutil.copytree(SAMPLE, root)
    return add_bad_files(root)


@pytest.fixture
def client(tmp_path: Path):
    """The app serving a valid course whose `media/` gains the files after it loaded (the
    running bot keeps serving the last good version, so the route itself must refuse)."""
    root = tmp_path / "served"
    shutil.copytree(SAMPLE, root)
    config = Config.from_env({"CONTENT_DIR": str(root)}, dotenv=None)
    app = create_app(config)
    add_bad_files(root)
    return app.test_client()


URL = "/media/partner-onboarding/media/"


@pytest.mark.parametrize("name", ["x.html", "x.svg", "x.js"])
def test_pages_and_scripts_in_media_are_not_served(client, name: str):
    """Regression (issue 16): on main `x.html` came back 200 `text/html`, inline."""
    response = client.get(URL + name)
    assert response.status_code == 404
    assert b"<script" not in response.data


def test_allowed_media_are_sandboxed_and_never_sniffed(client):
    """Regression (issue 16): on main media had no CSP and no nosniff, so a file named
    `.png` holding HTML could be sniffed into a page by old browsers and plugins."""
    for name in ("partner-tiers.png", "disguised.png"):
        response = client.get(URL + name)
        assert response.status_code == 200
        assert response.mimetype == "image/png"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Security-Policy"].startswith("sandbox")
        assert response.headers["Content-Disposition"].startswith("inline")
    assert client.get(URL + "partner-tiers.png").data == PNG


def test_documents_are_attachments(client):
    """A PDF is not shown in place from our origin: it downloads (WhatsApp and Slack fetch
    it the same way)."""
    response = client.get(URL + "guide.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["Content-Security-Policy"].startswith("sandbox")


def test_content_check_reports_files_that_are_not_media(content: Path):
    """Regression (issue 16): on main `content check` accepted `media/x.html`."""
    errors = [p for p in check(content).errors]
    flagged = sorted(Path(p.path).name for p in errors)
    assert flagged == ["x.html", "x.js", "x.svg"]
    assert all("not an allowed media type" in p.message for p in errors)


def test_a_session_referencing_a_page_is_an_error(content: Path):
    session = next((content / "partner-onboarding").glob("01-*.md"))
    session.write_text(session.read_text() + "\n![x](media/x.html)\n")
    messages = [p.message for p in check(content).errors if Path(p.path) == session]
    assert messages and "not an allowed media type" in messages[0]
