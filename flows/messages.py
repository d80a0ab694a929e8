"""The bot's own words, in one catalog that a course may override key by key.

Templates are Markdown (`**bold**`, `_italic_`) with `{placeholders}`; `course.yaml` may
give a `messages:` map that replaces any of them for that course (the validator checks keys
and placeholders).
"""

from __future__ import annotations

import string
from collections.abc import Mapping

from flows.course import Course
from flows.messages_fr import FR

CATALOG: dict[str, str] = {
    "welcome": (
        "👋 Welcome, {name}! You're enrolled in **{course}**: {total} short sessions. "
        "Read one at a time, reply **next** when you're ready for the next one, and ask me "
        "anything about what you read."
    ),
    "welcome_back": (
        "👋 Welcome back, {name}! You're already in **{course}**; here is where you were."
    ),
    "session": "📚 **Session {number}: {title}**\n\n{body}\n\n{hint}",
    "hint_next": (
        "👉 Reply **next** for Session {next}, **menu** for options, or ask me a question."
    ),
    "hint_last": (
        "👉 This is the last session. Reply **complete** when you have finished it, "
        "or ask me a question."
    ),
    "marked_complete": "✅ Session {number} marked complete. Reply **next** for Session {next}.",
    "marked_complete_last": "✅ Session {number} marked complete.",
    "course_complete": (
        "🎉 Congratulations, {name}! You have completed **{course}**: all {total} sessions. "
        "Reply **menu** to review any session or **courses** to see what else you can take."
    ),
    "course_already_complete": (
        "🎓 You have already completed **{course}**. Reply **section N** to review a session, "
        "**restart** to take it again, or **courses** for other courses."
    ),
    "remaining": (
        "📌 You're on the last session, but {count} still to finish: {sessions}. "
        "Reply **section N** to go to one."
    ),
    "at_first": "You're at Session 1, the first one. Reply **next** to continue.",
    "locked": (
        "🔒 Session {target} is locked: sessions open in order. "
        "Finish Session {open} first, or reply **section {open}** to go there."
    ),
    "out_of_range": "There is no session “{given}”. Choose a number from 1 to {total}.",
    "menu": (
        "**{course}**\n"
        "📊 Progress: {done}/{total} sessions completed\n"
        "📍 Current: Session {number}: {title}\n\n"
        "**next** · **previous** · **section N** · **complete**\n"
        "**progress** · **courses** · **help** · **restart** · **exit**"
    ),
    "progress_line": "• **{course}**: {done}/{total} sessions completed{state}",
    "progress_state_current": ", now on Session {number}",
    "progress_state_paused": ", paused on Session {number}",
    "progress_state_done": " 🎓",
    "progress": "**Your progress**\n{lines}",
    "progress_none": "You haven't started a course yet. Reply **courses** to see them.",
    "courses": "**Courses**\n{lines}\n\nSend a course's phrase to start it.",
    "course_line": "• **{title}**: {description} Say “{phrase}”.",
    "courses_none": "There are no courses available here yet. Please check back later.",
    "help": (
        "**How this works**\n"
        "Read one session at a time and ask me anything about it.\n\n"
        "• **next** / **previous**: move between sessions\n"
        "• **section N**: jump to session N\n"
        "• **complete**: mark this session done\n"
        "• **menu** or **progress**: see where you are\n"
        "• **courses**: see all courses\n"
        "• **restart**: start this course over\n"
        "• **exit**: pause; **resume** to come back\n"
        "• **STOP** / **START**: turn reminders off / on"
    ),
    "not_enrolled": (
        "👋 Hi{name_part}! I'm your training assistant. To start a course, send its phrase:\n"
        "{phrases}\n\nReply **courses** for details or **help** for how this works."
    ),
    "paused": (
        "⏸️ You've paused **{course}**. Reply **resume** to continue at Session {number}, "
        "or **courses** to see other courses."
    ),
    "exit": (
        "👋 You've left **{course}**. Your progress is saved: {done}/{total} sessions completed. "
        "Reply **resume** any time to pick up at Session {number}."
    ),
    "resume": "▶️ Welcome back, {name}! Picking up **{course}** where you left off.",
    "nothing_to_resume": "There's nothing to resume. Reply **courses** to start a course.",
    "restart_confirm": (
        "🔄 Restart **{course}** from Session 1? Your completed sessions will be cleared. "
        "Reply **yes** to restart or **no** to keep your progress."
    ),
    "restart_done": "🔄 **{course}** restarted from the beginning.",
    "restart_cancelled": "👍 Kept your progress in **{course}**.",
    "nothing_to_confirm": "There's nothing to confirm right now. Reply **menu** for options.",
    "stop": (
        "🔕 You won't get reminders or other messages you didn't ask for. "
        "Reply **START** to turn them back on. You can keep learning any time."
    ),
    "start": "🔔 Reminders are back on.",
    "empty_message": "I didn't catch anything there. Reply **help** to see what you can do.",
    "media_only": (
        "📎 I can read text only for now. Type your question or a command such as **menu**."
    ),
    "course_empty": (
        "⚠️ **{course}** has no sessions yet, so there's nothing to read. I've taken you out of "
        "training; reply **courses** to choose another course."
    ),
    "course_gone": (
        "⚠️ The course you were taking is no longer available. Your progress is kept. "
        "Reply **courses** to choose another course."
    ),
    "session_moved": (
        "ℹ️ The session you were on has been removed from the course, so I've moved you "
        "to Session {number}."
    ),
    "not_offered": "**{course}** isn't offered on this channel.",
    "answer_passage": (
        "📖 Here is the part of **Session {number}: {title}** that best matches your question "
        "(a passage from the course, not a personal answer):\n\n{passage}"
    ),
    "answer_none": (
        "🤔 I couldn't find that in **{course}**. Try asking with other words, or reply **menu** "
        "for options."
    ),
    "button_previous": "⬅️ Previous",
    "button_next": "Next ➡️",
    "button_complete": "✅ Complete",
    "button_menu": "📋 Menu",
    "button_resume": "▶️ Resume",
    "button_yes": "Yes, restart",
    "button_no": "No, keep it",
    "nudge": (
        "👋 Hi {name}, a reminder from your trainer: **{course}** is waiting for you at "
        "Session {number}. Reply **menu** to see where you are."
    ),
    "invitation": (
        "👋 Hi {name}! You've been signed up for **{course}**. Reply “{phrase}” to start "
        "your first short session whenever you're ready."
    ),
}


def placeholders(template: str) -> set[str]:
    """The `{names}` a template uses (to check that an override keeps them)."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


class _Blank(dict):
    # An override that omits a placeholder must not crash a learner's conversation.
    def __missing__(self, key: str) -> str:
        return ""


def say(key: str, course: Course | None = None, /, **values: object) -> str:
    """The catalog text for `key`, the course's override first, filled with `values`."""
    overrides: Mapping[str, str] = course.messages if course else {}
    template = overrides.get(key) or catalog_for(course).get(key) or CATALOG[key]
    return template.format_map(_Blank(values))


LANGUAGES: dict[str, Mapping[str, str]] = {"en": CATALOG, "fr": FR}  # shipped catalogs


def catalog_for(course: Course | None) -> Mapping[str, str]:
    """The catalog in the course's `language:` (English when absent or not shipped); keys
    a translation lacks fall back to English in `say`."""
    language = str(course.settings.get("language") or "en") if course else "en"
    return LANGUAGES.get(language.split("-")[0].lower(), CATALOG)


def untranslated(translation: Mapping[str, str]) -> list[str]:
    """Catalog keys a translation lacks or whose placeholders differ from English."""
    return [
        key
        for key, text in CATALOG.items()
        if key not in translation or placeholders(translation[key]) != placeholders(text)
    ]
