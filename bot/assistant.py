"""Answering learners' questions about the course, grounded, cheap, safe and never stuck.

`Assistant.answer` runs on a background worker (never in the webhook): it retrieves the
passages that match the question (the learner's current session boosted), and with an
OpenAI key asks the model through Chat Completions with a small prompt: the rules, the
passages that fit the token budget, the last turns about this session and the question.
Without a key, past the learner's daily token budget, or when the model times out, fails,
refuses, returns nothing usable or leaks its instructions, the learner gets the best
matching passage, labelled as a passage, within the timeout. Every question is recorded
with how it was answered, for authors (`trainbot content questions`).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openai
from openai.types.chat import ChatCompletionMessageParam

from bot import tokens
from bot.leaks import leaks
from bot.retrieval import Hit, Passage, index
from bot.settings import OpenAISettings
from flows.course import Course
from flows.events import Ask, Button, Reply
from flows.messages import say
from flows.quiz import keyword_grade as quiz_keyword_grade
from flows.state import from_doc

log = logging.getLogger(__name__)

MAX_QUESTION = 1000  # characters of a question the assistant reads
MAX_ANSWER = 1200  # characters of a model answer sent (one WhatsApp message with the footer)
HISTORY_ANSWER = 400  # characters of an answer kept in history
COURSE_PROMPT = "assistant-prompt.txt"  # a course folder's own prompt
OFF_COURSE = "OFF_COURSE"
CITATION = re.compile(r"\s*[\[(](?:session\s*)?(\d{1,3})[\])]\s*\.?\s*$", re.IGNORECASE)
TAGS = re.compile(r"</?\s*(passage|system|user|assistant)\b", re.IGNORECASE)
# Reasoning models (o1, o3, o4-mini, gpt-5…; not the gpt-5 "chat" models, which do not
# reason): they spend completion tokens on hidden reasoning before the answer.
REASONING_MODEL = re.compile(r"^(o[1-9]|gpt-5)(?![\w.-]*chat)", re.IGNORECASE)


def is_reasoning_model(model: str) -> bool:
    """Whether `model` (optionally `provider/model`) reasons before answering."""
    return bool(REASONING_MODEL.match(model.rsplit("/", 1)[-1]))


@dataclass(frozen=True)
class Settings:
    """How the assistant talks to the model and how much it may spend."""

    api_key: str = ""
    base_url: str = ""
    model: str = "gpt-4o-mini"
    timeout: float = 10.0  # seconds for the whole call, retry included
    max_retries: int = 1
    prompt_tokens: int = 1000  # the whole prompt: rules, passages, history, question
    passage_tokens: int = 400  # of which passages
    history_turns: int = 3  # earlier questions and answers about this session
    history_tokens: int = 250
    answer_tokens: int = 300
    # A reasoning model's limit covers its hidden reasoning and the answer: 300 went to
    # reasoning and every answer ended `finish_reason=length` (docs/architecture.md,
    # "Reasoning models"). Low effort keeps the reasoning short for a short answer.
    reasoning_tokens: int = 2000
    reasoning_effort: str = "low"
    daily_tokens: int = 20000  # per learner per day (prompt + answer); 0 = no limit
    history_kept: int = 6  # turns stored per learner per session
    prompt_file: Path | None = None

    @classmethod
    def from_config(cls, config: OpenAISettings) -> Settings:
        """The OPENAI_* and ASSISTANT_* settings (validated at start: see bot/settings.py)."""
        return cls(
            api_key=config.openai_api_key.get_secret_value(),
            base_url=config.openai_base_url,
            model=config.openai_model,
            timeout=config.openai_timeout,
            prompt_tokens=config.assistant_prompt_tokens,
            history_turns=config.assistant_history_turns,
            daily_tokens=config.assistant_daily_tokens,
            prompt_file=config.assistant_prompt_file,
        )


# --- the prompt template -------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """A prompt file: the system message and the user message, with {placeholders}."""

    system: str
    user: str

    @classmethod
    def parse(cls, text: str, required: tuple[str, ...]) -> Template:
        parts: dict[str, list[str]] = {}
        current = None
        for line in text.splitlines():
            if line.startswith("#"):
                continue
            if line.strip() in ("[system]", "[user]"):
                current = parts.setdefault(line.strip()[1:-1], [])
            elif current is not None:
                current.append(line)
        system, user = ("\n".join(parts.get(k, [])).strip() for k in ("system", "user"))
        missing = [name for name in required if f"{{{name}}}" not in system + user]
        if not system or not user or missing:
            raise ValueError(
                "a prompt needs [system] and [user] sections and "
                + ", ".join(f"{{{n}}}" for n in required)
                + (f" (missing {', '.join(missing)})" if missing else "")
            )
        return cls(system, user)

    def render(self, **values: str) -> tuple[str, str]:
        """(system, user) with the values inserted as they are (never re-interpreted)."""

        def fill(text: str) -> str:
            return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), text)

        return fill(self.system), fill(self.user)


def shipped_prompt(name: str) -> str:
    return (Path(__file__).parent / "prompts" / name).read_text(encoding="utf-8")


ANSWER_FIELDS = ("passages", "question")
GRADE = Template.parse(shipped_prompt("grade.txt"), ("rubric", "answer"))


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


class ModelFailure(Exception):
    """The model gave nothing usable; `reason` says why (for logs and the questions log)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _failure_reason(exc: BaseException) -> str:
    if isinstance(exc, ModelFailure):
        return exc.reason
    if isinstance(exc, openai.APITimeoutError | FutureTimeout | TimeoutError):
        return "timeout"
    if isinstance(exc, openai.RateLimitError):
        return "rate_limited"
    if isinstance(exc, openai.APIStatusError):
        return "server_error" if exc.status_code >= 500 else f"http_{exc.status_code}"
    if isinstance(exc, openai.APIConnectionError):
        return "unreachable"
    if isinstance(exc, openai.APIResponseValidationError | ValueError | TypeError):
        return "malformed"
    return "error"


def _clean_question(text: str) -> str:
    """Control characters out, our own prompt tags defused; Markdown and braces kept."""
    text = "".join(ch for ch in text if ch in "\n\t" or ch.isprintable())
    return TAGS.sub(lambda m: m.group(0).replace("<", "‹"), text).strip()


def trim(text: str, limit: int) -> str:
    """`text` cut to `limit` characters at a sentence (or word) end."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "), cut.rfind("\n"))
    return cut[: end + 1].rstrip() if end > limit // 2 else cut.rsplit(" ", 1)[0] + "…"


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


class Assistant:
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

    @property
    def grades_with_model(self) -> bool:
        """Whether written quiz answers wait for the model's verdict (a key is set)."""
        return bool(self.settings.api_key)

    def grade(self, rubric: str, question: str, answer: str) -> tuple[float, str, str]:
        """Grade a free-text answer against a rubric: (score 0–1, one-sentence feedback,
        mode "model" or "keywords"). Any model failure falls back to the keyword check."""
        answer = trim(_clean_question(answer), MAX_QUESTION)
        if not answer or not self.settings.api_key:
            return keyword_grade(rubric, answer)
        system, user = GRADE.render(rubric=rubric, question=question, answer=answer)
        schema = {
            "type": "object",
            "properties": {"score": {"type": "number"}, "feedback": {"type": "string"}},
            "required": ["score", "feedback"],
            "additionalProperties": False,
        }
        try:
            text, _ = self._call(
                [{"role": "system", "content": system}, {"role": "user", "content": user}],
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": "grade", "strict": True, "schema": schema},
                },
            )
            data = json.loads(text)
            score, feedback = data["score"], data["feedback"]
            if not isinstance(score, int | float) or not 0 <= score <= 1:
                raise ModelFailure("malformed")
            if not isinstance(feedback, str) or not feedback.strip():
                raise ModelFailure("malformed")
        except Exception as exc:
            log.warning("assistant: grading fell back to keywords: %s", _failure_reason(exc))
            return keyword_grade(rubric, answer)
        return float(score), trim(feedback.strip(), 300), "model"

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

    @staticmethod
    def retrieve(course: Course, ask: Ask, question: str, history: list[dict]) -> list[Hit]:
        """Passages for a question; a short one (a follow-up) is read with the previous."""
        passages = index(course)
        context = history[-1]["q"] if history and len(passages.terms(question)) < 6 else ""
        return passages.search(question, ask.session_id, context)

    def build_prompt(
        self, course: Course, ask: Ask, question: str, hits: list[Hit], history: list[dict]
    ) -> tuple[list[ChatCompletionMessageParam], list[Passage]]:
        """The chat request: rules and passages, capped history, question, within budget;
        also the passages it carries."""
        s = self.settings
        number = course.number_of(ask.session_id) or 1
        session = course.session(number)
        template = self.template_for(course)
        model = s.model
        chosen = self._choose(hits, ask.session_id, course)
        system, user = template.render(
            course=course.title,
            session=f"Session {number}: {session.title}",
            passages="{passages}",
            question=question,
        )
        fixed = tokens.count(system, model) + tokens.count(user, model) + 12
        turns: list[ChatCompletionMessageParam] = []
        spent = 0
        for turn in reversed(history):
            asked, answered = trim(turn["q"], MAX_QUESTION), trim(turn["a"], HISTORY_ANSWER)
            pair: list[ChatCompletionMessageParam] = [
                {"role": "user", "content": asked},
                {"role": "assistant", "content": answered},
            ]
            cost = tokens.count(asked, model) + tokens.count(answered, model) + 2 * 3
            if spent + cost > s.history_tokens:
                break
            turns = pair + turns
            spent += cost
        room = min(s.passage_tokens, s.prompt_tokens - fixed - spent)
        sent: list[Passage] = []
        blocks: list[str] = []
        used = 0
        for passage in chosen if room > 0 else ():
            title = passage.title.replace('"', "'")
            block = (
                f'<passage session="{passage.session_number}" title="{title}">\n'
                f"{passage.text}\n</passage>"
            )
            cost = tokens.count(block, model) + 1
            if used + cost > room:
                if sent:
                    continue
                block = tokens.encoding(model).decode(
                    tokens.encoding(model).encode(block, disallowed_special=())[: max(room, 0)]
                )
                cost = room
            sent.append(passage)
            blocks.append(block)
            used += cost
        system = system.replace("{passages}", "\n".join(blocks))
        return (
            [{"role": "system", "content": system}, *turns, {"role": "user", "content": user}],
            sent,
        )

    @staticmethod
    def _choose(hits: list[Hit], session_id: str, course: Course) -> list[Passage]:
        """Passages worth sending: matches at least a quarter as good as the best one, or
        the current session's opening passages when nothing matched (a question in another
        language, or "explain that again")."""
        if hits:
            return [h.passage for h in hits if h.score >= hits[0].score * 0.25]
        return index(course).session_passages(session_id)[:3]

    def template_for(self, course: Course) -> Template:
        """The course folder's prompt, else ASSISTANT_PROMPT_FILE, else the shipped one; a
        broken override is logged and skipped, never served."""
        folder = self.folder_of(course.id)
        for path in (folder / COURSE_PROMPT if folder else None, self.settings.prompt_file):
            if path is None or not path.is_file():
                continue
            try:
                mtime = path.stat().st_mtime_ns
                cached = self._prompts.get(path)
                if cached and cached[0] == mtime:
                    return cached[1]
                template = Template.parse(path.read_text(encoding="utf-8"), ANSWER_FIELDS)
                self._prompts[path] = (mtime, template)
                return template
            except (OSError, ValueError) as exc:
                log.error("assistant: prompt %s not used: %s", path, exc)
        return SHIPPED_ANSWER

    def _check(
        self, course: Course, text: str, hits: list[Hit], sent: list[Passage]
    ) -> tuple[str | None, Passage | None]:
        """The answer to send and its source passage (None for an off-course question, or
        when the answer has no session to cite); raises ModelFailure when it must not be
        sent. Only a session whose passages the model was given can be cited: a number it
        made up, or the first passage when nothing matched the question (the current
        session's opening, sent for context), is no source of the answer."""
        answer = text.strip()
        if answer.strip(" .").upper() == OFF_COURSE or answer.upper().startswith(OFF_COURSE):
            return None, None
        if leaks(answer, self.template_for(course).system):
            raise ModelFailure("leak")
        cited = None
        if match := CITATION.search(answer):
            cited = int(match.group(1))
            answer = answer[: match.start()].rstrip()
        answer = answer.replace(OFF_COURSE, "").strip()
        if not answer:
            raise ModelFailure("empty")
        if cited is not None:
            source = next((p for p in sent if p.session_number == cited), None)
        else:
            source = sent[0] if sent and hits else None
        return trim(answer, MAX_ANSWER), source

    def _client_for_calls(self) -> openai.OpenAI:
        with self._lock:
            if self._client is None:
                s = self.settings
                self._client = openai.OpenAI(
                    api_key=s.api_key,
                    base_url=s.base_url or None,
                    timeout=s.timeout,
                    max_retries=s.max_retries,
                )
            return self._client

    def limits(self) -> dict[str, Any]:
        """The completion's token limit for the configured model: a reasoning model gets
        room for its reasoning and `reasoning_effort`, which other models refuse."""
        s = self.settings
        if is_reasoning_model(s.model):
            return {
                "max_completion_tokens": s.reasoning_tokens,
                "reasoning_effort": s.reasoning_effort,
            }
        return {"max_completion_tokens": s.answer_tokens}

    def _call(self, messages: list[ChatCompletionMessageParam], **extra: Any) -> tuple[str, Any]:
        """One Chat Completions call, bounded by the timeout in total (retry and any
        Retry-After wait included): past it the learner gets the fallback while the call
        finishes on its own thread."""
        client = self._client_for_calls()

        def create() -> object:  # a closure: `submit` cannot choose among create's overloads
            return client.chat.completions.create(
                model=self.settings.model,
                messages=messages,
                **self.limits(),
                **extra,
            )

        future = self._calls.submit(create)
        completion = future.result(timeout=self.settings.timeout)
        choices = getattr(completion, "choices", None)
        if not isinstance(choices, list) or not choices:
            raise ModelFailure("malformed")
        choice = choices[0]
        message = getattr(choice, "message", None)
        if getattr(message, "refusal", None):
            raise ModelFailure("refused")
        if getattr(choice, "finish_reason", None) == "length":
            raise ModelFailure("cut_off")
        if getattr(choice, "finish_reason", None) == "content_filter":
            raise ModelFailure("refused")
        content = getattr(message, "content", None)
        if not isinstance(content, str) or not content.strip():
            raise ModelFailure("empty")
        return content, getattr(completion, "usage", None)

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


SHIPPED_ANSWER = Template.parse(shipped_prompt("assistant.txt"), ANSWER_FIELDS)


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


# --- keyword grading -----------------------------------------------------------------


def keyword_grade(rubric: str, answer: str) -> tuple[float, str, str]:
    """The fallback grader: the quiz engine's keyword check (`flows.quiz.keyword_grade`, the
    one learners see without a model) as a score, a sentence and mode "keywords"."""
    if not answer.strip():
        return 0.0, "No answer was given (keyword check).", "keywords"
    checked = quiz_keyword_grade(rubric, answer)
    total = len(checked.points)
    if not total:
        return 1.0, "Answer recorded (keyword check: the question has no rubric).", "keywords"
    missed = [p.text for p in checked.points if not p.met]
    if missed:
        feedback = f"Keyword check: {checked.met} of {total} points; missing: {missed[0]}."
    else:
        feedback = f"Keyword check: all {total} points of the rubric are covered."
    return round(checked.met / total, 2), feedback, "keywords"
