"""Markdown (course bodies and the bot's own words) rendered for each channel.

One token walk over markdown-it-py's parse serves WhatsApp and Slack, which differ only in
their markers; HTML uses markdown-it's own renderer with raw HTML disabled. Images are not
part of the text: channels send them as media. Videos are links on every channel, written
as a link or as an image (`![Demo](https://youtu.be/…)`, `![Demo](media/demo.mp4)`): no
chat shows a YouTube page as an image, and Slack refuses a message whose image is a video.
Links to course files (`media/prices.pdf`) point at the course's media route.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.token import Token

VIDEO_HOSTS = ("youtube.com", "youtu.be", "vimeo.com")
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".webm", ".3gp")
VIDEO_MARK = "▶️"
# What a browser shows in an <img>; a file with another extension (a PDF) written as an
# image is an attachment link on the web, not a broken image.
BROWSER_IMAGES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif", ".svg", ".bmp")
ATTACHMENT_MARK = "📄"


def is_video(src: str) -> bool:
    """A YouTube or Vimeo address, or a video file."""
    parts = urlsplit(src)
    host = (parts.hostname or "").lower()
    on_host = any(host == h or host.endswith("." + h) for h in VIDEO_HOSTS)
    return on_host or parts.path.lower().endswith(VIDEO_EXTENSIONS)


def _href(href: str, media_base: str) -> str:
    """A link target, course files (`media/x.pdf`) resolved against the course's media
    route so that they open from a chat too."""
    parts = urlsplit(href)
    if not media_base or parts.scheme or parts.netloc or href.startswith(("#", "/")):
        return href
    return f"{media_base.rstrip('/')}/{href}"


def is_attachment(src: str) -> bool:
    """A file named with an extension that no browser shows as an image (`media/x.pdf`)."""
    name = urlsplit(src).path.lower().rsplit("/", 1)[-1]
    return "." in name and not name.endswith(BROWSER_IMAGES)


def _video_label(alt: str) -> str:
    return f"{VIDEO_MARK} {alt.strip() or 'Video'}"


@lru_cache(maxsize=2)
def _parser(breaks: bool = False) -> MarkdownIt:
    # Chat messages keep their line breaks (`breaks`), as chat apps show them.
    options = {"html": False, "linkify": False, "breaks": breaks}
    return MarkdownIt("commonmark", options).enable("strikethrough")


@dataclass(frozen=True)
class Style:
    """How a chat app marks up inline text."""

    bold: str
    italic: str
    strike: str
    link: str  # format with {text} and {href}
    escape: Callable[[str], str] = str  # applied to the author's text (not to the markers)


def slack_escape(text: str) -> str:
    """Slack's three control characters: a literal `<` or `&` in a course would otherwise
    start a link or mention (`<!channel>`)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


WHATSAPP = Style(bold="*", italic="_", strike="~", link="{text} ({href})")
SLACK = Style(bold="*", italic="_", strike="~", link="<{href}|{text}>", escape=slack_escape)


def _wrap(marker: str, inner: str) -> str:
    # Chat markers only work hugging non-space text: "*bold *" is not bold on WhatsApp.
    stripped = inner.strip()
    if not stripped:
        return inner
    lead = inner[: len(inner) - len(inner.lstrip())]
    trail = inner[len(inner.rstrip()) :]
    return f"{lead}{marker}{stripped}{marker}{trail}"


def _inline(children: list[Token], style: Style, media_base: str = "") -> str:
    """Render inline tokens; nested spans are rendered innermost first."""
    stack: list[tuple[str, list[str], str]] = [("", [], "")]
    closers = {"strong_close", "em_close", "s_close", "link_close"}
    for tok in children:
        if tok.type == "strong_open":
            stack.append((style.bold, [], ""))
        elif tok.type == "em_open":
            stack.append((style.italic, [], ""))
        elif tok.type == "s_open":
            stack.append((style.strike, [], ""))
        elif tok.type == "link_open":
            stack.append(("link", [], _href(str(tok.attrs.get("href", "")), media_base)))
        elif tok.type == "image" and is_video(src := str(tok.attrs.get("src", ""))):
            label = style.escape(_video_label(tok.content))
            stack[-1][1].append(style.link.format(text=label, href=_href(src, media_base)))
        elif tok.type in closers and len(stack) > 1:
            marker, parts, href = stack.pop()
            inner = "".join(parts)
            if marker == "link":
                text = inner.strip() or href
                rendered = text if text == href else style.link.format(text=text, href=href)
            else:
                rendered = _wrap(marker, inner)
            stack[-1][1].append(rendered)
        elif tok.type == "text":
            stack[-1][1].append(style.escape(tok.content))
        elif tok.type == "code_inline":
            stack[-1][1].append(f"`{style.escape(tok.content)}`")
        elif tok.type in ("softbreak", "hardbreak"):
            stack[-1][1].append("\n")
    return "".join(stack[0][1])


@lru_cache(maxsize=1024)  # the same sessions and menus are rendered for every learner
def to_chat(markdown: str, style: Style, media_base: str = "") -> str:
    """Markdown as WhatsApp or Slack text: paragraphs, headings, lists, quotes and code.

    Blocks are separated by a blank line; a whole list (nested ones indented) is one block.
    `media_base` is the course's media route, for links to course files.
    """
    blocks: list[str] = []
    list_lines: list[str] = []
    lists: list[list[int]] = []  # per open list: [next number], or [] for bullets
    item_prefix: str | None = None
    heading = False
    quote = 0
    for tok in _parser().parse(markdown):
        kind = tok.type
        if kind in ("bullet_list_open", "ordered_list_open"):
            lists.append([int(tok.attrs.get("start", 1) or 1)] if kind[0] == "o" else [])
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
            if not lists:
                blocks.append("\n".join(list_lines))
                list_lines = []
        elif kind == "list_item_open":
            numbering, indent = lists[-1], "  " * (len(lists) - 1)
            item_prefix = f"{indent}{numbering[0]}. " if numbering else f"{indent}• "
            if numbering:
                numbering[0] += 1
        elif kind == "heading_open":
            heading = True
        elif kind == "heading_close":
            heading = False
        elif kind in ("blockquote_open", "blockquote_close"):
            quote += 1 if kind.endswith("open") else -1
        elif kind == "inline":
            text = _inline(tok.children or [], style, media_base)
            if not text.strip():
                continue
            text = "> " * quote + (_wrap(style.bold, text) if heading else text)
            if lists:
                lead = item_prefix if item_prefix is not None else "  " * len(lists)
                list_lines.append(lead + text)
                item_prefix = None
            else:
                blocks.append(text)
        elif kind in ("fence", "code_block"):
            blocks.append(f"```\n{style.escape(tok.content.rstrip())}\n```")
    return "\n\n".join(blocks)


def to_whatsapp(markdown: str, media_base: str = "") -> str:
    """WhatsApp text (`*bold*`, `_italic_`, `~strike~`, links as "text (url)")."""
    return to_chat(markdown, WHATSAPP, media_base)


def to_slack(markdown: str, media_base: str = "") -> str:
    """Slack mrkdwn (`*bold*`, `_italic_`, `<url|text>`)."""
    return to_chat(markdown, SLACK, media_base)


def to_html(markdown: str, media_url: str = "") -> str:
    """Safe HTML: raw HTML in the source is escaped, line breaks are kept as in a chat, and
    relative image paths are served from `media_url` (the course's media route)."""
    parser = _parser(breaks=True)
    tokens = parser.parse(markdown)
    for tok in tokens:
        children: list[Token] = []
        for child in tok.children or []:
            src = str(child.attrs.get("src", ""))
            if child.type == "image" and is_video(src):
                children += _html_link(_href(src, media_url), _video_label(child.content))
                continue
            if child.type == "image" and is_attachment(src):
                name = child.content.strip() or src.rsplit("/", 1)[-1]
                link = _html_link(_href(src, media_url), f"{ATTACHMENT_MARK} {name}")
                link[0].attrs["class"] = "attachment"
                children += link
                continue
            if (
                child.type == "image"
                and media_url
                and not src.startswith(("http://", "https://", "/"))
            ):
                child.attrs["src"] = f"{media_url.rstrip('/')}/{src}"
            if child.type == "link_open":
                child.attrs["href"] = _href(str(child.attrs.get("href", "")), media_url)
                child.attrs["target"] = "_blank"
                child.attrs["rel"] = "noopener"
            children.append(child)
        if tok.children is not None:
            tok.children = children
    return parser.renderer.render(tokens, parser.options, {})


def _inline_tokens(markdown: str) -> list[tuple[Token, int]]:
    """Every inline token of a Markdown text with its 0-based source line."""
    return [
        (child, tok.map[0] if tok.map else 0)
        for tok in _parser().parse(markdown)
        for child in tok.children or []
    ]


def _html_link(href: str, label: str) -> list[Token]:
    """Tokens of `<a href target=_blank>label</a>`."""
    opening = Token("link_open", "a", 1, attrs={"href": href, "target": "_blank"})
    opening.attrs["rel"] = "noopener"
    return [opening, Token("text", "", 0, content=label), Token("link_close", "a", -1)]


def images(markdown: str) -> list[tuple[str, str, int]]:
    """Every image in a Markdown text as (src, alt, 0-based source line); videos written
    as images are links (`links`)."""
    return [
        (src, tok.content, line)
        for tok, line in _inline_tokens(markdown)
        if tok.type == "image" and not is_video(src := str(tok.attrs.get("src", "")))
    ]


def links(markdown: str) -> list[tuple[str, int]]:
    """Every link target in a Markdown text as (href, 0-based source line), videos written
    as images included."""
    return [
        (str(tok.attrs.get("href" if tok.type == "link_open" else "src", "")), line)
        for tok, line in _inline_tokens(markdown)
        if tok.type == "link_open"
        or (tok.type == "image" and is_video(str(tok.attrs.get("src", ""))))
    ]
