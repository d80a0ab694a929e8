"""Markdown rendered for WhatsApp, Slack and HTML through markdown-it-py."""

from __future__ import annotations

import pytest

from bot.channels.slack_blocks import to_messages
from bot.render import images, links, to_html, to_slack, to_whatsapp
from flows.course import Media
from flows.events import Reply

DOC = """# Heading

Some **bold**, _italic_, ~~gone~~ and `code`, see [the kit](https://x.example/kit).

- one **b**
- two
  - nested

1. first
2. second

> quoted

![chart](media/a.png)

Last."""


def test_whatsapp():
    assert to_whatsapp(DOC) == (
        "*Heading*\n\n"
        "Some *bold*, _italic_, ~gone~ and `code`, see the kit (https://x.example/kit).\n\n"
        "• one *b*\n• two\n  • nested\n\n"
        "1. first\n2. second\n\n"
        "> quoted\n\n"
        "Last."
    )


def test_slack_links():
    assert "<https://x.example/kit|the kit>" in to_slack(DOC)
    assert "*bold*" in to_slack(DOC)


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("**bold **x", "**bold **x"),  # not emphasis in CommonMark: left alone
        ("** spaced **", "** spaced **"),
        ("**a _b_ c**", "*a _b_ c*"),
        ("a  \nb", "a\nb"),
        ("<b>raw</b>", "<b>raw</b>"),
        ("[https://a.example](https://a.example)", "https://a.example"),
        ("", ""),
    ],
)
def test_whatsapp_edge_cases(markdown, expected):
    assert to_whatsapp(markdown) == expected


def test_html_is_safe_and_rewrites_media():
    html = to_html("<script>alert(1)</script> **x**\n\n![c](media/a.png)", "/media/c")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<img src="/media/c/media/a.png" alt="c"' in html
    assert 'rel="noopener"' in to_html("[a](https://b.example)")


def test_images_with_lines():
    assert images(DOC) == [("media/a.png", "chart", 13)]


def test_html_keeps_chat_line_breaks():
    assert to_html("a\nb") == "<p>a<br />\nb</p>\n"


def test_a_pdf_written_as_an_image_is_an_attachment_link_on_the_web():
    """Failed before (issue 17): `![Price list](media/prices.pdf)` was an <img>, a broken
    image in the simulator and the admin preview."""
    html = to_html("![Price list](media/prices.pdf) ![](https://x.example/a/b.docx)", "/media/c")
    assert "<img" not in html
    assert (
        '<a href="/media/c/media/prices.pdf" target="_blank" rel="noopener" '
        'class="attachment">📄 Price list</a>'
    ) in html
    assert ">📄 b.docx</a>" in html
    for image in ("media/a.webp", "media/a.SVG", "https://x.example/chart?id=3"):
        assert "<img" in to_html(f"![a]({image})", "/media/c")


def test_videos_are_links_on_every_channel():
    """Failed before: a video written as an image (`![Demo](https://youtu.be/…)`,
    `![clip](media/demo.mp4)`) was dropped from the text and sent as an image (a broken
    image on the web, a message Slack refuses), and links to course files stayed relative
    (`media/demo.mp4`), dead in a chat."""
    text = "Intro.\n\n![Demo](https://youtu.be/abc)\n\n![clip](media/demo.mp4)\n"
    base = "https://bot.example/media/c"
    assert to_whatsapp(text, base) == (
        f"Intro.\n\n▶️ Demo (https://youtu.be/abc)\n\n▶️ clip ({base}/media/demo.mp4)"
    )
    assert "<https://youtu.be/abc|▶️ Demo>" in to_slack(text, base)
    assert f"<{base}/media/demo.mp4|▶️ clip>" in to_slack(text, base)
    html = to_html(text, "/media/c")
    assert '<a href="https://youtu.be/abc" target="_blank" rel="noopener">▶️ Demo</a>' in html
    assert '<a href="/media/c/media/demo.mp4" target="_blank" rel="noopener">▶️ clip</a>' in html
    assert "<img" not in html
    assert to_html("[Watch](https://vimeo.com/1)").count("<a href") == 1
    assert images(text) == [] and [h for h, _ in links(text)] == [
        "https://youtu.be/abc",
        "media/demo.mp4",
    ]
    reply = Reply(text, (), (Media("media/chart.png", "chart"),), "c", kind="session")
    [message] = to_messages(reply, "https://bot.example")
    assert [b["type"] for b in message["blocks"]].count("image") == 1  # the chart only
    assert any(
        f"<{base}/media/demo.mp4|▶️ clip>" in b["text"]["text"]
        for b in message["blocks"]
        if b["type"] == "section"
    )
