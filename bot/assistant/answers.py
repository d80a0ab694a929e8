"""The `Assistant`: answers `Ask` effects, always, and records every question with how it
was answered (the learner's history, their daily token use, the questions log)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openai

from bot import tokens
from bot.assistant.grading import Grading
from bot.assistant.model import (
    Settings,
    _failure_reason,
)
from bot.assistant.prompt import (
    HISTORY_ANSWER,
    MAX_QUESTION,
    Prompting,
    Template,
    _clean_question,
    trim,
)
from bot.retrieval import Hit, Passage, index
from flows.course import Course
from flows.events import Ask, Button, Reply
from flows.messages import say
from flows.state import from_doc

log = logging.getLogger(__package__)  # "bot.assistant", as before the split


# --- what an answer is made of -------------------------------------------------------


@dataclass
class Answer:
    """How one question was answered: the text, its source, and what it cost."""

    text: str
    mode: str  # model | passage | budget | none | empty
    reason: str = ""  # why a model answer was not used (no_key, timeout, rate_limited…)
    source: Passage | None = None
    prompt_tokens: int = 0
    answer_tokens: int = 0
    passages: list[str] = field(default_factory=list)  # session ids sent to the model

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.answer_tokens


def _today(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%d")


def used_today(doc: Mapping[str, Any] | None, now: datetime) -> int:
    """Tokens a learner spent on the assistant today (UTC)."""
    return int(((doc or {}).get("assistant_usage") or {}).get(_today(now), 0))


def history_of(doc: Mapping[str, Any] | None, course_id: str, session_id: str) -> list[dict]:
    """The stored turns of a learner's conversation about one session, oldest first."""
    turns = ((doc or {}).get("history") or {}).get(course_id, {}).get(session_id, [])
    return [t for t in turns if isinstance(t, dict) and t.get("q") and t.get("a")]


# --- the assistant -------------------------------------------------------------------
class Assistant(Prompting, Grading):
    """Answers `Ask` effects, and grades free-text quiz answers."""

    def __init__(
        self,
        settings: Settings | None = None,
        store: Any = None,
        folder_of: Callable[[str], Path | None] = lambda course_id: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings or Settings()
        self.store = store
        self.folder_of = folder_of
        self.clock = clock
        self._client: openai.OpenAI | None = None
        self._lock = threading.Lock()
        self._calls = ThreadPoolExecutor(max_workers=8, thread_name_prefix="openai")
        self._prompts: dict[Path, tuple[int, Template]] = {}

    # --- public ----------------------------------------------------------------------

    def prepare(self, courses: tuple[Course, ...]) -> None:
        """Split and index the courses now rather than at their first question."""
        for course in courses:
            index(course)

    def answer(self, course: Course, ask: Ask, learner: str | None = None) -> Reply:
        """A reply to the learner's question, always (never None, never an exception)."""
        now = self.clock()
        doc = self.store.load(learner) if self.store is not None and learner else None
        question = _clean_question(ask.question)
        truncated = len(question) > MAX_QUESTION
        question = trim(question, MAX_QUESTION) if truncated else question
        try:
            outcome = self._outcome(course, ask, question, doc, now)
        except Exception:  # a bug here must still leave the learner with an answer
            log.exception("assistant: answering failed")
            outcome = Answer(say("answer_none", course, course=course.title), "none", "error")
        reply = self._reply(course, ask, outcome, doc)
        if truncated:
            note = say("answer_truncated", course, limit=MAX_QUESTION)
            reply = replace(reply, text=f"{note}\n\n{reply.text}")
        self._record(course, ask, learner, question, outcome, doc, now)
        return reply

    def search(self, course: Course, question: str, session_id: str | None = None) -> list[Hit]:
        """The passages that best match a question (what `content search` prints)."""
        return index(course).search(_clean_question(question)[:MAX_QUESTION], session_id)

    # --- deciding the answer ---------------------------------------------------------

    def _outcome(
        self, course: Course, ask: Ask, question: str, doc: Mapping | None, now: datetime
    ) -> Answer:
        if not question:
            return Answer(say("answer_empty", course), "empty")
        history = history_of(doc, course.id, ask.session_id)[-self.settings.history_turns :]
        hits = self.retrieve(course, ask, question, history)
        if not self.settings.api_key:
            return self._passage(course, hits, "passage", "no_key")
        budget = self.settings.daily_tokens
        if budget and used_today(doc, now) >= budget:
            return self._passage(course, hits, "budget", "daily_budget")
        messages, sent = self.build_prompt(course, ask, question, hits, history)
        prompt_tokens = tokens.count_messages(messages, self.settings.model)
        try:
            text, usage = self._call(messages)
            answer, source = self._check(course, text, hits, sent)
        except Exception as exc:
            reason = _failure_reason(exc)
            log.warning("assistant: model answer not used (%s); sending a passage", reason)
            fallback = self._passage(course, hits, "passage", reason)
            fallback.prompt_tokens = prompt_tokens
            return fallback
        used_prompt = getattr(usage, "prompt_tokens", None) or prompt_tokens
        used_answer = getattr(usage, "completion_tokens", None) or tokens.count(
            text, self.settings.model
        )
        sessions = [p.session_id for p in sent]
        if answer is None:
            return Answer(
                say("answer_off_course", course, course=course.title),
                "model",
                "off_course",
                None,
                used_prompt,
                used_answer,
                sessions,
            )
        return Answer(answer, "model", "", source, used_prompt, used_answer, sessions)

    def _passage(self, course: Course, hits: list[Hit], mode: str, reason: str) -> Answer:
        if not hits:
            return Answer(say("answer_none", course, course=course.title), "none", reason)
        best = hits[0].passage
        return Answer(best.text, mode, reason, best)

    # --- the reply and the records ---------------------------------------------------

    def _reply(self, course: Course, ask: Ask, outcome: Answer, doc: Mapping | None) -> Reply:
        source = outcome.source
        if source is None:
            return Reply(outcome.text, course_id=course.id)
        values = {"number": source.session_number, "title": source.title}
        if outcome.mode == "model":
            text = say("answer_model", course, answer=outcome.text, **values)
        else:
            text = say("answer_passage", course, passage=outcome.text, **values)
            if outcome.mode == "budget":
                text = f"{say('answer_budget', course)}\n\n{text}"
            elif outcome.reason not in ("no_key", ""):
                text = f"{say('answer_unavailable', course)}\n\n{text}"
        buttons: tuple[Button, ...] = ()
        if source.session_id != ask.session_id:
            if _reachable(course, doc, source.session_id):
                text += "\n\n" + say("answer_elsewhere", course, **values)
                buttons = (
                    Button(
                        say("button_session", course, number=source.session_number),
                        f"section {source.session_number}",
                    ),
                )
            else:
                text += "\n\n" + say("answer_later", course, **values)
        return Reply(text, buttons, course_id=course.id)

    def _record(
        self,
        course: Course,
        ask: Ask,
        learner: str | None,
        question: str,
        outcome: Answer,
        doc: Mapping | None,
        now: datetime,
    ) -> None:
        if self.store is None or not learner:
            return
        try:
            if doc is not None and outcome.mode in ("model", "passage", "budget"):
                turn = {"q": question, "a": trim(outcome.text, HISTORY_ANSWER), "at": now}
                self.store.record_assistant_turn(
                    learner,
                    course.id,
                    ask.session_id,
                    turn,
                    self.settings.history_kept,
                    _today(now),
                    outcome.tokens,
                    stale_days=[d for d in (doc.get("assistant_usage") or {}) if d != _today(now)],
                )
            source = outcome.source
            self.store.log_question(
                {
                    "at": now,
                    "learner": learner,
                    "course": course.id,
                    "session": ask.session_id,
                    "question": question,
                    "answer": outcome.text[:2000],
                    "mode": outcome.mode,
                    "reason": outcome.reason,
                    "source_session": source.session_id if source else None,
                    "passages": outcome.passages,
                    "prompt_tokens": outcome.prompt_tokens,
                    "answer_tokens": outcome.answer_tokens,
                    "day": _today(now),
                }
            )
        except Exception:
            log.exception("assistant: could not record the question")


def _reachable(course: Course, doc: Mapping | None, session_id: str) -> bool:
    """Whether `section N` would take the learner to that session now."""
    if course.navigation != "sequential" or doc is None:
        return True
    progress = from_doc(str(doc.get("_id", "")), doc).progress_in(course.id)
    for session in course.sessions:
        if session.id == session_id:
            return True
        if session.id not in progress.completed:
            return False
    return True
