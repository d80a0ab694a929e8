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
class Inbound:
    """One message from a learner: typed text or a pressed button's payload."""

    key: str
    channel: str
    text: str = ""
    payload: str | None = None
    name: str = ""
    message_id: str = ""
    at: datetime | None = None
    media_count: int = 0  # attachments the channel received (photos, voice notes)


@dataclass(frozen=True)
class Button:
    """A quick reply; pressing it sends `payload` as if it were typed."""

    title: str
    payload: str


@dataclass(frozen=True)
class Reply:
    """One message to the learner: Markdown text, optional buttons and media.

    `course_id` tells the renderer which course folder `media` paths are relative to.
    """

    text: str
    buttons: tuple[Button, ...] = ()
    media: tuple[Media, ...] = ()
    course_id: str | None = None
    proactive: bool = False  # not an answer to the learner (reminder): suppressed after STOP


@dataclass(frozen=True)
class Ask:
    """Effect: answer `question` about a session (the assistant runs outside the webhook)."""

    question: str
    course_id: str
    session_id: str


@dataclass(frozen=True)
class CourseCompleted:
    """Effect: the learner just finished a course (issue its certificate, tell managers)."""

    course_id: str


@dataclass(frozen=True)
class SendCertificate:
    """Effect: the learner asked for their certificate of a completed course."""

    course_id: str


Effect = Ask | CourseCompleted | SendCertificate


@dataclass(frozen=True)
class Outcome:
    """What one event did: the new state, what to say, and what to do next."""

    learner: Learner
    replies: tuple[Reply, ...] = ()
    effects: tuple[Effect, ...] = ()
