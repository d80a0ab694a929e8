"""WhatsApp messages (each one billed by Twilio) for one learner completing the sample
course, with the course's `whatsapp.combine_replies` off (the default) and on.

The learner enrolls, reads every session, passes every quiz (answering right) and
finishes; the real `twilio` client sends to the local fake Twilio API, which counts.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bench.table import Figure
from bot.content import check
from flows.course import Question
from tests.fakes.twilio_api import FakeTwilio
from tests.harness import ACCOUNT, ENROL, TOKEN, Served, bodies_to, message, phone

ROOT = Path(__file__).resolve().parent.parent
COURSE = "partner-onboarding"
LEARNER = phone(7)


def _content(combine: bool) -> str:
    """The sample courses, quiz options unshuffled (answers by number), combining on/off."""
    folder = Path(tempfile.mkdtemp(prefix="bench-content-")) / "content"
    shutil.copytree(ROOT / "content", folder)
    path = folder / COURSE / "course.yaml"
    text = path.read_text(encoding="utf-8").replace("shuffle: true", "shuffle: false")
    path.write_text(text + f"whatsapp: {{combine_replies: {str(combine).lower()}}}\n")
    return str(folder)


def _answer(question: Question) -> str:
    """The right answer, typed as a learner would."""
    if question.kind == "true_false":
        return "true" if question.answer else "false"
    if question.kind == "text":
        return f"{question.rubric} What do you need?"
    return ",".join(str(n) for n in question.answer or ())


def complete_course(combine: bool) -> tuple[int, int]:
    """Messages sent and learner messages it took to complete the course."""
    content = _content(combine)
    (course,) = [c for c in check(Path(content)).courses if c.id == COURSE]
    questions = [q for s in course.sessions for q in s.quiz]
    with FakeTwilio(ACCOUNT, TOKEN) as fake:
        bot = Served(fake, CONTENT_DIR=content, DATA_DIR=":memory:")
        said, seen = 0, 0
        text = ENROL
        while said < 200:
            bot.post(message(said, LEARNER, text))
            said += 1
            progress = (bot.store.load(LEARNER) or {})["progress"][COURSE]
            if progress.get("completed_at"):
                break
            new = "\n".join(bodies_to(fake, LEARNER)[seen:])
            seen = len(bodies_to(fake, LEARNER))
            asked = [q for q in questions if q.prompt[:40] in new]
            text = _answer(asked[-1]) if asked else "next"
        return len(bodies_to(fake, LEARNER)), said


def section() -> list[Figure]:
    before, said = complete_course(combine=False)
    after, said_after = complete_course(combine=True)
    name = "WhatsApp messages, one learner completing the sample course"
    conditions = f"{said} learner messages; {said_after} with combining"
    return [
        Figure("whatsapp messages", f"{name}, combine_replies off (default)", str(before)),
        Figure(
            "whatsapp messages",
            f"{name}, combine_replies on",
            f"{after} ({(before - after) / before:.0%} fewer)",
            conditions=conditions,
        ),
    ]


if __name__ == "__main__":
    for figure in section():
        print(f"{figure.name}: {figure.value}")
