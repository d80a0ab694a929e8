"""Assistant benchmark: retrieval quality and prompt size on the sample courses.

For every question in `questions.yaml` (with the session(s) that answer it): retrieval
hit@1 and hit@3, once as a learner who just enrolled (session 1, so the boost rarely helps)
and once as a learner reading the answering session. Then, replaying each course's
questions as one learner reading the answering session, the prompt the assistant would send
(rules, passages within budget, capped history, question) against a naive prompt (the same
rules, the whole course and the whole conversation so far), both counted with tiktoken.
No model is called.
"""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from bench.table import Figure
from bot import tokens
from bot.assistant import HISTORY_ANSWER, Assistant, Settings, trim
from bot.content import check
from flows.course import Course
from flows.events import Ask

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = Path(__file__).with_name("questions.yaml")


def _questions() -> list[tuple[str, str, tuple[str, ...]]]:
    data = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))
    return [
        (course_id, item["q"], tuple(s) if isinstance(s := item["session"], list) else (s,))
        for course_id, items in data.items()
        for item in items
    ]


def _naive(assistant: Assistant, course: Course, ask: Ask, history: list[dict]) -> int:
    """Tokens of the prompt that sends everything: every session and every earlier turn."""
    everything = "\n\n".join(f"Session {s.title}\n{s.body}" for s in course.sessions)
    system, user = assistant.template_for(course).render(
        course=course.title, session="", passages=everything, question=ask.question
    )
    turns = [
        {"role": role, "content": turn[key]}
        for turn in history
        for role, key in (("user", "q"), ("assistant", "a"))
    ]
    messages = [{"role": "system", "content": system}, *turns, {"role": "user", "content": user}]
    return tokens.count_messages(messages)


def section() -> list[Figure]:
    """Retrieval quality and prompt size on the sample courses' question set."""
    started = time.perf_counter()
    courses = {c.id: c for c in check(ROOT / "content").courses}
    tokens.count("warm up")
    load = time.perf_counter() - started
    assistant = Assistant(Settings(api_key="unused"))
    questions = _questions()
    hits = {"enrolled": [0, 0], "reading": [0, 0]}
    search_seconds = 0.0
    for course_id, question, answers in questions:
        course = courses[course_id]
        for view, session in (("enrolled", course.sessions[0].id), ("reading", answers[0])):
            t = time.perf_counter()
            found = assistant.retrieve(course, Ask(question, course_id, session), question, [])
            search_seconds += time.perf_counter() - t
            ids = [h.passage.session_id for h in found]
            hits[view][0] += ids[:1] and ids[0] in answers
            hits[view][1] += any(i in answers for i in ids[:3])
    ours, naive = [], []
    conversation: dict[str, list[dict]] = {}
    per_session: dict[tuple[str, str], list[dict]] = {}
    for course_id, question, answers in questions:
        course = courses[course_id]
        ask = Ask(question, course_id, answers[0])
        recent = per_session.setdefault((course_id, answers[0]), [])
        history = recent[-assistant.settings.history_turns :]
        found = assistant.retrieve(course, ask, question, history)
        messages, _ = assistant.build_prompt(course, ask, question, found, history)
        ours.append(tokens.count_messages(messages))
        whole = conversation.setdefault(course_id, [])
        naive.append(_naive(assistant, course, ask, whole))
        answer = found[0].passage.text if found else "I couldn't find that."
        recent.append({"q": question, "a": trim(answer, HISTORY_ANSWER)})
        whole.append({"q": question, "a": answer})
    n = len(questions)
    average, naive_average = sum(ours) / n, sum(naive) / n
    ratio = average / naive_average
    hit3 = hits["enrolled"][1] / n
    where = (
        f"{n} questions, {len(courses)} sample courses, "
        f"{sum(len(c.sessions) for c in courses.values())} sessions, 1 learner"
    )
    name = "assistant"
    return [
        Figure(
            name,
            "retrieval hit@1 / hit@3, learner on session 1",
            f"{hits['enrolled'][0] / n:.2f} / {hit3:.2f}",
            "hit@3 ≥ 0.9",
            hit3 >= 0.9,
            where,
        ),
        Figure(
            name,
            "retrieval hit@1 / hit@3, learner on the answering session",
            f"{hits['reading'][0] / n:.2f} / {hits['reading'][1] / n:.2f}",
            conditions=where,
        ),
        Figure(
            name,
            "prompt tokens per question (avg / max)",
            f"{average:.0f} / {max(ours)}",
            f"budget {Settings.prompt_tokens}",
            max(ours) <= Settings.prompt_tokens,
            where,
        ),
        Figure(
            name,
            "naive prompt (whole course + whole history)",
            f"{naive_average:.0f}",
            conditions=where,
        ),
        Figure(name, "token ratio (ours ÷ naive)", f"{ratio:.3f}", "≤ 0.25", ratio <= 0.25, where),
        Figure(
            name,
            "retrieval time per question",
            f"{1000 * search_seconds / (2 * n):.2f} ms",
            conditions=f"content + tiktoken load {load:.2f} s",
        ),
    ]
