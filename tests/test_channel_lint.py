"""Channel lint (`bot.lint`) in `content check`, and quiz labels fitted per channel."""

from __future__ import annotations

import os
from pathlib import Path

from bot.channels.slack_blocks import to_messages
from bot.content import check
from flows.machine import quiz_replies
from tests.test_content import GOOD_COURSE, problems, write

LONG = "The retailer's own margin this quarter"  # 38 characters: fits Slack, not WhatsApp
LONGER = "x" * 80  # over Slack's 75 too


def quiz(options: list[str], answer: int = 1) -> str:
    quoted = ", ".join(f'"{o}"' for o in options)
    return (
        f"---\ntitle: A\nquiz:\n  - q: Pick one\n    options: [{quoted}]\n"
        f"    answer: {answer}\n---\nBody.\n"
    )


def found(tmp_path: Path, files: dict[str, str | bytes]) -> list[str]:
    write(tmp_path / "c", {"course.yaml": GOOD_COURSE, **files})
    return [p.replace(str(tmp_path) + os.sep, "") for p in problems(tmp_path)]


def test_quiz_labels_are_whole_and_slack_shows_75_characters(tmp_path: Path):
    """Failed before: the flows cut every option button to WhatsApp's 20 characters, so
    Slack (75 allowed) showed '1) The retailer's o…' too."""
    write(tmp_path / "c", {"course.yaml": GOOD_COURSE, "01-a.md": quiz([LONG, LONGER, "No"])})
    course = check(tmp_path).courses[0]
    [reply] = quiz_replies(course, 1)
    assert [b.title for b in reply.buttons] == [f"1) {LONG}", f"2) {LONGER}", "3) No"]
    [message] = to_messages(reply, "https://bot.example")
    labels = [
        e["text"]["text"]
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ]
    assert labels[0] == f"1) {LONG}"
    assert len(labels[1]) == 75 and labels[1].endswith("…")


def test_cut_labels_are_warnings_at_the_question(tmp_path: Path):
    """Failed before: labels were cut silently; now the author sees what WhatsApp and Slack
    will show, on the line of the question's options, as a warning (the quiz still works:
    the options are numbered in full in the text)."""
    listed = found(tmp_path, {"01-a.md": quiz([LONG, LONGER, "No"])})
    whatsapp = (
        "c/01-a.md:5: warning: WhatsApp cuts a reply button to 20 characters: "
        f"'1) {LONG}' shows as '1) The retailer's…'"
    )
    assert any(p.startswith(whatsapp) for p in listed), listed
    assert any(p.startswith("c/01-a.md:5: warning: Slack cuts a button to 75") for p in listed)
    assert check(tmp_path).errors == []
    rows = found(tmp_path, {"01-a.md": quiz(["One", "Two", "Three", "Four: a long option here"])})
    assert any("WhatsApp cuts a list row to 24 characters" in p for p in rows), rows


def test_slack_block_and_section_limits_and_long_questions(tmp_path: Path):
    """Failed before: nothing checked Slack's 50 blocks a message or 3,000 characters a
    section, nor a question too long for a WhatsApp interactive message (1,024)."""
    images = "\n\n".join("![chart](media/chart.png)" for _ in range(55))
    paragraph = "word " * 700
    question = (
        "---\ntitle: A\nquiz:\n  - q: "
        + "Why? " * 220
        + "\n    options: [a, b]\n    answer: 1\n---\nB\n"
    )
    listed = found(
        tmp_path,
        {
            "01-a.md": f"---\ntitle: A\n---\nText.\n\n{images}\n",
            "02-b.md": f"---\ntitle: B\n---\n{paragraph}\n",
            "03-c.md": question,
            "media/chart.png": b"\x89PNG\r\n\x1a\n",
        },
    )
    assert any(p.startswith("c/01-a.md:1: warning: Slack: 5") and "2 messages" in p for p in listed)
    assert any(p.startswith("c/02-b.md:1: warning: Slack: a paragraph of 3499 ") for p in listed), (
        listed
    )
    assert any(p.startswith("c/03-c.md:5: warning: WhatsApp: the 1") for p in listed), listed


def test_an_image_address_slack_refuses_is_an_error(tmp_path: Path):
    """Failed before (unchecked): Slack refuses a whole message whose image URL is over
    3,000 characters, so the session would never arrive there."""
    url = "https://img.example/" + "a" * 3000 + ".png"
    listed = found(tmp_path, {"01-a.md": f"---\ntitle: A\n---\nText.\n\n![x]({url})\n"})
    assert any(p.startswith("c/01-a.md:1: Slack refuses a message") for p in listed), listed
    assert check(tmp_path).courses == []


def test_media_types_and_sizes_whatsapp_takes(tmp_path: Path):
    """Failed before (unchecked): a GIF or SVG-like type WhatsApp refuses, or an image over
    its 5 MB, failed only later at WhatsApp. A type it does not show is a warning (learners
    get a link); a file over the size limit is an error."""
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * 5_000_001
    session = "---\ntitle: A\n---\nText.\n\n![Spin](media/spin.gif)\n\n![Big](media/big.png)\n"
    listed = found(
        tmp_path,
        {
            "01-a.md": session,
            "media/spin.gif": b"GIF89a" + b"\0" * 20,
            "media/big.png": big,
        },
    )
    gif = [p for p in listed if "media/spin.gif" in p]
    assert gif and "warning" in gif[0] and "WhatsApp learners get a link" in gif[0], listed
    png = [p for p in listed if "media/big.png" in p and "refuses" in p]
    assert png and "5,000,009 bytes is over WhatsApp's 5 MB" in png[0], listed
    assert "warning" not in png[0] and check(tmp_path).courses == []  # an error
