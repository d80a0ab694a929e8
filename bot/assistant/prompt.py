"""The prompt: templates (shipped, per course, ASSISTANT_PROMPT_FILE), retrieval of the
passages, the chat request within its token budget, and checking the model's answer."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from openai.types.chat import ChatCompletionMessageParam

from bot import tokens
from bot.assistant.model import (
    ModelFailure,
    Settings,
)
from bot.leaks import leaks
from bot.retrieval import Hit, Passage, index
from flows.course import Course
from flows.events import Ask

log = logging.getLogger(__package__)  # "bot.assistant", as before the split


MAX_QUESTION = 1000  # characters of a question the assistant reads
MAX_ANSWER = 1200  # characters of a model answer sent (one WhatsApp message with the footer)
HISTORY_ANSWER = 400  # characters of an answer kept in history
COURSE_PROMPT = "assistant-prompt.txt"  # a course folder's own prompt
OFF_COURSE = "OFF_COURSE"
CITATION = re.compile(r"\s*[\[(](?:session\s*)?(\d{1,3})[\])]\s*\.?\s*$", re.IGNORECASE)
TAGS = re.compile(r"</?\s*(passage|system|user|assistant)\b", re.IGNORECASE)


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
    return (Path(__file__).parent.parent / "prompts" / name).read_text(encoding="utf-8")


ANSWER_FIELDS = ("passages", "question")


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


SHIPPED_ANSWER = Template.parse(shipped_prompt("assistant.txt"), ANSWER_FIELDS)


class Prompting:
    """How the `Assistant` builds its request and reads the answer (a mixin: the
    `Assistant` holds the state)."""

    settings: Settings
    folder_of: Callable[[str], Path | None]
    _prompts: dict[Path, tuple[int, Template]]

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
