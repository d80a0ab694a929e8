"""Markdown rendered for WhatsApp, Slack and HTML through markdown-it-py."""

from __future__ import annotations

import pytest

from bot.render import images, to_html, to_slack, to_whatsapp

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
