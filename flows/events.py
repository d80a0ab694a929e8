"""Channel-neutral inbound events, replies and effects.

Channel adapters translate their wire formats into `Inbound` and render `Reply` values;
`flows` never sees a Twilio form or a Slack payload.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flows.course import Media
from flows.state import Learner


@dataclass(frozen=True)
class Graded:
    """A grader's verdict on a written quiz answer, fed back into `step` as an `Inbound`'s
    `grade` (the answer to a `Grade` effect).

    Only `bot.conversation.Conversations` sets it; it clears the field on everything a
    channel hands in, so no text or button payload a learner sends can forge a verdict.
    `mode` is "model" (`score` 0–1 and one-sentence `feedback` from the model) or
    "keywords" (the model failed or timed out: the keyword verdict stands, and is said so).
    """

    session_id: str
    attempt: int
    question_id: str
    score: float = 0.0
    feedback: str = ""
    mode: str = "keywords"


@dataclass(frozen=True)
class Inbound:
    """One message from a learner: typed text or a pressed button's payload.

    `model_grading` says whether a model grades written quiz answers (set by
    `Conversations` from the configuration, so `flows` never reads it); `grade` carries a
    grader's verdict instead of a learner's message (see `Graded`)."""

    key: str
    channel: str
    text: str = ""
    payload: str | None = None
    name: str = ""
    message_id: str = ""
    at: datetime | None = None
    media_count: int = 0  # attachments the channel received (photos, voice notes)
    model_grading: bool = False
    grade: Graded | None = None


@dataclass(frozen=True)
class Button:
    """A quick reply; pressing it sends `payload` as if it were typed."""

    title: str
    payload: str


@dataclass(frozen=True)
class Reply:
    """One message to the learner: Markdown text, optional buttons and media.

    `course_id` tells the renderer which course folder `media` paths are relative to.
    `kind` says what the message is ("session", "answer"; "" for anything else) and `title`
    is the heading its text starts with, for channels that show them apart (Slack: a header
    block, answers in the session's thread); other channels just send `text`.
    """

    text: str
    buttons: tuple[Button, ...] = ()
    media: tuple[Media, ...] = ()
    course_id: str | None = None
    kind: str = ""
    title: str = ""
    proactive: bool = False  # not an answer to the learner (reminder): suppressed after STOP


@dataclass(frozen=True)
class Ask:
    """Effect: answer `question` about a session (the assistant runs outside the webhook).

    `then` is sent after the answer: the quiz question a learner asked about is put again."""

    question: str
    course_id: str
    session_id: str
    then: tuple[Reply, ...] = ()


@dataclass(frozen=True)
class Grade:
    """Effect: grade a written (`type: text`) quiz answer with the model.

    Emitted only when `Inbound.model_grading` is on. The quiz waits ("Checking your
    answer…") until `bot/` feeds the verdict back as a `Graded`; `keyword_correct` is the
    rubric's keyword verdict, which stands if the model fails."""

    course_id: str
    session_id: str
    question_id: str
    attempt: int
    question: str
    rubric: str
    answer: str
    keyword_correct: bool


@dataclass(frozen=True)
class CourseCompleted:
    """Effect: the learner has just completed a course (all sessions, or its final exam).

    Emitted once per completion, for the certificate and engagement work to act on."""

    course_id: str


@dataclass(frozen=True)
class SendCertificate:
    """Effect: the learner asked for their certificate of a completed course."""

    course_id: str


@dataclass(frozen=True)
class Link:
    """Effect: the learner typed `link` (no `code`: issue a one-time code) or `link 123456`
    on another channel (redeem `code`: that channel's address joins the code's learner).

    Codes need randomness, a clock and the store, so `bot/` does both and answers.
    `address` is the channel address the learner wrote from: `flows` only sees learner
    keys, so `bot/` fills it in when it commits the effect."""

    code: str = ""
    address: str = ""


Effect = Ask | Grade | CourseCompleted | SendCertificate | Link


@dataclass(frozen=True)
class Outcome:
    """What one event did: the new state, what to say, and what to do next."""

    learner: Learner
    replies: tuple[Reply, ...] = ()
    effects: tuple[Effect, ...] = ()
