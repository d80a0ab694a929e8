"""The admin's charts of a course: what each figure from `bot.reports` looks like as a
chart (`bot.admin.charts` draws; this module decides titles, labels and scales)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup

from bot.admin.charts import Point, bar_chart, column_chart
from bot.admin.views_common import session_label
from flows.course import Course


def weekly_charts(title: str, weeks: Sequence[Mapping[str, Any]]) -> list[Markup]:
    """Active learners and completions per ISO week (`Reports.weekly`), oldest first."""

    def points(field: str) -> list[Point]:
        return [
            Point(w["week"].split("-")[-1], w[field], f"{w['week']} from {w['start']:%Y-%m-%d}")
            for w in weeks
        ]

    return [
        column_chart(
            f"Active learners per week: {title}",
            "Learners of the course who sent at least one message in each ISO week.",
            points("active"),
        ),
        column_chart(
            f"Completions per week: {title}",
            "Learners who completed the course in each ISO week.",
            points("completed"),
        ),
    ]


def question_bars(course: Course, items: Sequence[Mapping[str, Any]]) -> Markup:
    """Share of right answers per quiz question (`Reports.quiz_items`), 0-100 %."""
    return bar_chart(
        f"Right answers per question: {course.title}",
        "The share of answers to each quiz question that were right, in quizzes and exams.",
        [
            Point(
                f"{course.number_of(q['session']) or '?'}. {q.get('prompt') or q['question']}",
                q.get("share_correct"),
                f"{session_label(course, q['session'])} · {q['question']}",
            )
            for q in items
        ],
        unit="%",
        maximum=100,
    )


def certificate_bars(title: str, states: Mapping[str, int]) -> Markup:
    """Learners by the state of their newest certificate (`Reports.certificate_states`)."""
    return bar_chart(
        f"Certificates by state: {title}",
        "Learners by the state of their newest certificate of the course.",
        [Point(state.capitalize(), count) for state, count in states.items()],
    )
