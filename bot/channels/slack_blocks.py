"""Block Kit for the Slack channel: replies, the App Home and the question modal.

Pure functions from channel-neutral values (`Reply`, `Learner`, `Catalog`) to the JSON that
Slack's Web API takes, within Slack's limits: a section's text is at most 3,000 characters,
a message at most 50 blocks (longer replies become several messages), a header 150
characters, a button's label 75 and its value 2,000, an actions block 25 elements.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import quote, urlsplit

from bot.render import slack_escape, to_slack
from flows.commands import normalize
from flows.course import Catalog, Course, Media
from flows.events import Button, Reply
from flows.messages import say
from flows.state import Learner

SECTION_LIMIT = 3000
BLOCKS_PER_MESSAGE = 50
HEADER_LIMIT = 150
BUTTON_LABEL_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
BUTTONS_PER_BLOCK = 25
ALT_LIMIT = 2000
FALLBACK_LIMIT = 3000  # the notification text that goes with blocks
HOME_BLOCK_LIMIT = 100
BAR_WIDTH = 10

ACTION_PREFIX = "trainbot:"  # action_id of every button that stands for a typed command
ACTIONS_BLOCK = "trainbot_actions"  # block_id prefix of those buttons' blocks
ASK_ACTION = "trainbot_ask"  # the "Ask a question" button (Slack only: opens a modal)
ASK_VIEW = "trainbot_ask"  # callback_id of that modal
ASK_BLOCK, ASK_INPUT = "question", "text"
ASK_LABEL = "❓ Ask a question"

PRIMARY = ("next", "complete", "resume", "yes", "quiz")

Block = dict[str, Any]
Message = dict[str, Any]  # {"text": fallback, "blocks": [...]}


# --- small blocks ------------------------------------------------------------------


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": _cut(text, limit) or " ", "emoji": True}


def section(mrkdwn: str, accessory: Block | None = None) -> Block:
    block: Block = {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn}}
    if accessory is not None:
        block["accessory"] = accessory
    return block


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, HEADER_LIMIT)}


def note(text: str) -> Block:
    return {"type": "context", "elements": [plain(text, SECTION_LIMIT)]}


def button(title: str, payload: str, action_id: str) -> Block:
    block: Block = {
        "type": "button",
        "text": plain(title, BUTTON_LABEL_LIMIT),
        "action_id": action_id,
        "value": payload[:BUTTON_VALUE_LIMIT],
    }
    if payload in PRIMARY or payload.startswith("enroll:"):
        block["style"] = "primary"
    return block


# --- splitting text ------------------------------------------------------------------


def _hard_cut(text: str, limit: int) -> tuple[str, str]:
    """Cut at the last space (or newline) before `limit`, never inside an `&amp;` entity."""
    cut = max(text.rfind(" ", 0, limit + 1), text.rfind("\n", 0, limit + 1))
    if cut < limit // 2:
        cut = limit
        amp = text.rfind("&", max(0, cut - 5), cut)
        if amp != -1 and ";" not in text[amp:cut]:
            cut = amp
    return text[:cut].rstrip(), text[cut:].lstrip()


def split_mrkdwn(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Slack text in pieces of at most `limit` characters: whole paragraphs where they fit,
    then whole lines, then words."""
    pieces: list[str] = []
    current = ""
    units: list[tuple[str, str]] = []  # (text, separator before it)
    for paragraph in text.split("\n\n"):
        if len(paragraph) <= limit:
            units.append((paragraph, "\n\n"))
            continue
        sep = "\n\n"
        for line in paragraph.split("\n"):
            while len(line) > limit:
                head, line = _hard_cut(line, limit)
                units.append((head, sep))
                sep = "\n"
            units.append((line, sep))
            sep = "\n"
    for unit, sep in units:
        if not unit.strip():
            continue
        if current and len(current) + len(sep) + len(unit) <= limit:
            current += sep + unit
        else:
            if current:
                pieces.append(current)
            current = unit
    if current.strip():
        pieces.append(current)
    return pieces


def _without_heading(markdown: str, title: str) -> str:
    """A session's text without its first paragraph when that paragraph is the title (the
    header block shows it); an author's override that words it differently is kept."""
    first, _, rest = markdown.partition("\n\n")
    if title and normalize(first) == normalize(title):
        return rest
    return markdown


# --- media ----------------------------------------------------------------------------


def media_url(base_url: str, course_id: str | None, media: Media) -> str:
    """Where a session's image is served (`/media/<course>/media/<file>`), or its own URL."""
    if media.path.startswith(("http://", "https://")):
        return media.path
    path = "/".join(quote(part) for part in media.path.split("/"))
    return f"{base_url.rstrip('/')}/media/{quote(course_id or '')}/{path}"


def publicly_reachable(base_url: str) -> bool:
    """Whether Slack's servers can fetch images from this base URL (not localhost or a
    private address): Slack refuses a whole message whose image it cannot download."""
    host = urlsplit(base_url).hostname or ""
    if host in ("", "localhost") or host.endswith((".local", ".localhost", ".internal")):
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return True
    return address.is_global


# What an image block shows (Slack's list); anything else in one, a PDF say, makes Slack
# refuse the whole message with `invalid_blocks` (issue 21).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif")


def is_image(path: str) -> bool:
    """Whether Slack can show `path` (a media path or URL) in an image block."""
    return urlsplit(path).path.lower().endswith(IMAGE_SUFFIXES)


def image_block(url: str, alt: str) -> Block:
    return {"type": "image", "image_url": url, "alt_text": _cut(alt or "image", ALT_LIMIT)}


def media_link(url: str, alt: str, icon: str = "🖼") -> Block:
    """A media item as a link in a context line: an image Slack cannot fetch, or a file
    no image block can show (a PDF, `icon` 📄)."""
    label = slack_escape(_cut(alt or url.rsplit("/", 1)[-1], 200)).replace("|", "¦")
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{icon} <{url}|{label}>"}]}


def without_images(message: Message) -> Message:
    """The same message with image blocks turned into links."""
    blocks = [
        media_link(b["image_url"], b.get("alt_text", "")) if b.get("type") == "image" else b
        for b in message["blocks"]
    ]
    return {**message, "blocks": blocks}


def has_images(message: Message) -> bool:
    return any(b.get("type") == "image" for b in message["blocks"])


# --- replies ------------------------------------------------------------------------


def actions(buttons: tuple[Button, ...], ask: bool = False) -> list[Block]:
    """Buttons as actions blocks (25 a block); `ask` adds the Slack-only question button."""
    elements = [button(b.title, b.payload, f"{ACTION_PREFIX}{i}") for i, b in enumerate(buttons)]
    if ask:
        ask_button = {"type": "button", "text": plain(ASK_LABEL, 75), "value": "ask"}
        elements.append({**ask_button, "action_id": ASK_ACTION})
    return [
        {
            "type": "actions",
            "block_id": f"{ACTIONS_BLOCK}_{n}",
            "elements": elements[start : start + BUTTONS_PER_BLOCK],
        }
        for n, start in enumerate(range(0, len(elements), BUTTONS_PER_BLOCK))
    ]


def _fallback(blocks: list[Block]) -> str:
    for block in blocks:
        if block["type"] in ("header", "section"):
            return _cut(block["text"]["text"], FALLBACK_LIMIT)
    return "Trainbot"


def to_messages(reply: Reply, base_url: str) -> list[Message]:
    """A reply as one or more Slack messages.

    A session opens with a header block ("Session 3: Running a great demo"); the text follows
    in sections of at most 3,000 characters, then its images, then the buttons (with "Ask a
    question" on sessions). Past 50 blocks the rest continues in further messages: the
    header stays on the first, the buttons go on the last.
    """
    markdown = reply.text
    head: list[Block] = []
    if reply.kind == "session" and reply.title:
        head = [header(reply.title)]
        markdown = _without_heading(markdown, reply.title)
    course_media = (
        f"{base_url.rstrip('/')}/media/{quote(reply.course_id)}" if reply.course_id else ""
    )
    body = [section(piece) for piece in split_mrkdwn(to_slack(markdown, course_media))]
    reachable = publicly_reachable(base_url)
    for media in reply.media:
        url = media_url(base_url, reply.course_id, media)
        if not is_image(media.path):
            body.append(media_link(url, media.alt, "📄"))
        else:
            body.append(image_block(url, media.alt) if reachable else media_link(url, media.alt))
    tail = actions(reply.buttons, ask=reply.kind == "session")
    messages: list[list[Block]] = []
    current = head
    for block in body:
        if len(current) >= BLOCKS_PER_MESSAGE:
            messages.append(current)
            current = []
        current.append(block)
    if current and len(current) + len(tail) > BLOCKS_PER_MESSAGE:
        messages.append(current)
        current = []
    current = current + tail
    if current:
        messages.append(current)
    return [{"text": _fallback(blocks), "blocks": blocks} for blocks in messages]


def retire_buttons(blocks: list[Block], chosen: str) -> list[Block]:
    """A pressed message's blocks with its buttons replaced by a note of the choice, so a
    stale button cannot be pressed again."""
    kept: list[Block] = []
    noted = False
    for block in blocks:
        if str(block.get("block_id", "")).startswith(ACTIONS_BLOCK):
            if not noted:
                kept.append(note(f"✔ {chosen}"))
                noted = True
            continue
        kept.append(block)
    if not noted:
        kept.append(note(f"✔ {chosen}"))
    return kept


# --- App Home -------------------------------------------------------------------------


def progress_bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    """`▰▰▰▱▱▱▱▱▱▱ 30%`"""
    share = done / total if total else 0.0
    filled = int(share * width + 0.5)  # half up: 25% of 10 shows 3
    return f"{'▰' * filled}{'▱' * (width - filled)} {round(share * 100)}%"


def _course_block(learner: Learner, course: Course, index: int) -> list[Block]:
    progress = learner.progress.get(course.id)
    total = len(course.sessions)
    done = sum(1 for s in course.sessions if progress and s.id in progress.completed)
    active = learner.active_course == course.id
    if progress is None:
        state, label, payload = "Not started", "Start", f"enroll:{course.id}"
    elif progress.completed_at is not None and not active:
        state, label, payload = "🎓 Completed", "Review", f"enroll:{course.id}"
    else:
        number = course.number_of(progress.current or "")
        where = f"Session {number}: {course.session(number).title}" if number else "the start"
        if active and learner.paused:
            state = f"⏸️ Paused at {where}"
        elif active:
            state = f"📍 Now on {where}"
        else:
            state = f"Left at {where}"
        if progress.completed_at is not None:
            state = f"🎓 Completed · {state}"
        label = say("button_resume", course) if active else "▶️ Continue"
        payload = "resume" if active else f"enroll:{course.id}"
    text = (
        f"*{slack_escape(course.title)}*\n"
        f"{progress_bar(done, total)} · {done}/{total} sessions\n{slack_escape(state)}"
    )
    blocks = [section(text, button(label, payload, f"{ACTION_PREFIX}home{index}"))]
    if course.description:
        blocks.append(note(course.description))
    return blocks


def home_view(learner: Learner, catalog: Catalog) -> dict[str, Any]:
    """The App Home tab: the learner's courses with progress bars and Resume buttons."""
    name = f", {slack_escape(learner.name)}" if learner.name else ""
    blocks: list[Block] = [
        header("🎓 Your training"),
        section(
            f"Hi{name}! Sessions arrive in the *Messages* tab, where you can also ask "
            "questions. Type `/train` anywhere to see where you are."
        ),
        {"type": "divider"},
    ]
    courses = catalog.for_channel("slack")
    active = [c for c in courses if c.id == learner.active_course]
    ordered = active + [c for c in courses if c.id != learner.active_course]
    shown = 0
    for index, course in enumerate(ordered):
        if not course.sessions:
            continue
        course_blocks = _course_block(learner, course, index)
        if len(blocks) + len(course_blocks) + 1 > HOME_BLOCK_LIMIT:
            blocks.append(note(f"…and {len(ordered) - shown} more: type `/train courses`."))
            break
        blocks += course_blocks
        shown += 1
    if not shown:
        blocks.append(section(slack_escape(say("courses_none"))))
    return {"type": "home", "blocks": blocks}


def ask_modal(private_metadata: str = "") -> dict[str, Any]:
    """The "Ask a question" modal."""
    return {
        "type": "modal",
        "callback_id": ASK_VIEW,
        "private_metadata": private_metadata,
        "title": plain("Ask a question", 24),
        "submit": plain("Ask", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            {
                "type": "input",
                "block_id": ASK_BLOCK,
                "label": plain("Your question about this session", 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ASK_INPUT,
                    "multiline": True,
                    "min_length": 2,
                    "max_length": SECTION_LIMIT,
                },
            }
        ],
    }
