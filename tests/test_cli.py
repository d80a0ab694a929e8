"""The `trainbot` command as a user runs it (a real subprocess)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import SAMPLE, trainbot


def test_chat_done_when_scenario():
    result = trainbot(
        "chat", "--name", "Ada", stdin="I am a new partner\nnext\nmenu\nsection 2\nexit\n"
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Welcome, Ada" in out
    assert "Session 1: Welcome to Solaro" in out
    assert "Session 2: The three Solaro kits" in out
    assert "Progress: 1/7 sessions completed" in out
    assert "Current: Session 2" in out
    assert "progress is saved" in out
    assert "Traceback" not in result.stderr


def test_content_check_sample_is_clean():
    result = trainbot("content", "check", str(SAMPLE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 error(s), 0 warning(s)" in result.stdout


def test_content_check_broken_course_exits_1(tmp_path: Path):
    course = tmp_path / "broken"
    course.mkdir()
    (course / "course.yaml").write_text("title: Broken\nenroll: [go broken]\ncolour: red\n")
    (course / "01-a.md").write_text("---\ntitle: [unclosed\n---\nBody\n")
    result = trainbot("content", "check", str(tmp_path))
    assert result.returncode == 1
    assert f"{course / 'course.yaml'}:3: unknown key 'colour'" in result.stdout
    assert f"{course / '01-a.md'}:" in result.stdout


def test_content_preview_per_channel():
    whatsapp = trainbot("content", "preview", str(SAMPLE), "2", "--course", "partner-onboarding")
    assert whatsapp.returncode == 0, whatsapp.stderr
    assert "*Session 2: The three Solaro kits*" in whatsapp.stdout
    assert "[media] media/kit-comparison.png" in whatsapp.stdout
    assert "[Next ➡️]" in whatsapp.stdout
    html = trainbot(
        "content", "preview", str(SAMPLE / "partner-onboarding"), "pricing", "--channel", "web"
    )
    assert "<strong>Session 3: How pricing works</strong>" in html.stdout
    missing = trainbot("content", "preview", str(SAMPLE / "sales-basics"), "9")
    assert missing.returncode == 1 and "has no session '9' (1-4 or an id)" in missing.stderr


def test_content_preview_shows_the_quiz_with_the_right_answers(tmp_path: Path):
    """Failed before: preview printed the session only, never its quiz."""
    course = tmp_path / "c"
    course.mkdir()
    (course / "course.yaml").write_text("title: C\n")
    (course / "01-a.md").write_text(
        "---\ntitle: A\nquiz:\n"
        "  - q: Which margin do we quote?\n"
        "    options: [Ours, The retailer's own margin this quarter]\n    answer: 2\n"
        "    explain: Always theirs.\n"
        "  - q: Pick the Gold perks\n    options: [Credit, Stand, Nothing]\n    answer: [1, 2]\n"
        "  - q: Say hello\n    type: text\n    rubric: Mentions the shop.\n---\nBody.\n"
    )
    whatsapp = trainbot("content", "preview", str(tmp_path), "1")
    assert whatsapp.returncode == 0, whatsapp.stderr
    out = whatsapp.stdout
    assert "── quiz question 1 of 3" in out and "Which margin do we quote?" in out
    assert "2) The retailer's own margin this quarter" in out  # the question's text
    assert "[1) Ours]  [2) The retailer's…]" in out  # WhatsApp's 20-character buttons
    assert "✔ right: 2) The retailer's own margin this quarter" in out
    assert "explain: Always theirs." in out
    assert "✔ right: 1) Credit · 2) Stand" in out
    assert "✔ graded by rubric: Mentions the shop." in out
    slack = trainbot("content", "preview", str(tmp_path), "1", "--channel", "slack").stdout
    assert "[2) The retailer's own margin this quarter]" in slack  # Slack fits 75


def test_chat_console_controls_and_end_of_input():
    result = trainbot("chat", "--as", "bo", stdin="/help\n/bogus\nhelp\n/quit\nnext\n")
    assert result.returncode == 0
    assert "Console controls: /exit, /help, /quit" in result.stdout
    assert "Unknown console control /bogus" in result.stdout
    assert "How this works" in result.stdout
    assert "To start a course" not in result.stdout  # nothing after /quit was read
