"""`trainbot content preview`: a session and its quiz as a channel would show them.

The replies are the ones learners get (`session_reply`, `quiz_replies`), rendered by the
channel's renderer with button labels fitted as the channel fits them (`bot.lint`); the
right answers are marked so an author can check a quiz without taking it.
"""

from __future__ import annotations

from bot.channels.registry import CHANNELS
from bot.lint import shown_label
from flows.course import Course, Question
from flows.events import Reply
from flows.machine import quiz_replies, session_reply
from flows.quiz import option_order, right_positions

RENDERERS = {channel.name: channel.render for channel in CHANNELS}


def _buttons(reply: Reply, channel: str) -> str:
    count = len(reply.buttons)
    return "  ".join(f"[{shown_label(channel, b.title, count)}]" for b in reply.buttons)


def _key(question: Question, reply: Reply) -> str:
    """The right answer(s) numbered as in the reply, or the rubric of a written answer."""
    if question.kind == "text":
        return f"✔ graded by rubric: {question.rubric or '(none: cannot be graded)'}"
    if question.kind == "multi":  # answered by typing numbers: no option buttons
        labels = [f"{n}) {o}" for n, o in enumerate(question.options, 1)]
    else:
        labels = [b.title for b in reply.buttons]
    right = right_positions(question, option_order(question, "", False))
    return "✔ right: " + " · ".join(labels[n - 1] for n in right)


def session_preview(course: Course, number: int, channel: str) -> str:
    """Session `number` and then each of its own quiz questions, as `channel` shows them."""
    render = RENDERERS[channel]
    reply = session_reply(course, number)
    text = render(reply.text)
    lines = [f"── {course.id} · session {number} · {channel} · {len(text)} characters", text]
    lines += [f"[media] {media.path} ({media.alt})" for media in reply.media]
    lines.append(_buttons(reply, channel) + "\n")
    questions = course.session(number).quiz
    for index, (question, asked) in enumerate(
        zip(questions, quiz_replies(course, number), strict=True), 1
    ):
        lines += [f"── quiz question {index} of {len(questions)}", render(asked.text)]
        lines += [_buttons(asked, channel), _key(question, asked)]
        if question.explain:
            lines.append(f"  explain: {question.explain}")
        lines.append("")
    return "\n".join(lines)
