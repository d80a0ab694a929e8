"""Content analytics: how each quiz question fares, and what learners ask per session."""

from __future__ import annotations

from typing import Any

from bot.reports.common import (
    GRADED,
    ReportsBase,
    _rate,
)
from flows.course import Course
from flows.quiz import find_question


class ContentFigures(ReportsBase):
    """Quiz items and questions asked."""

    # --- content analytics --------------------------------------------------------------

    def quiz_items(self, course: Course) -> list[dict[str, Any]]:
        """Per quiz question: answers given in quizzes and final exams (spaced reviews
        excluded), the share correct and the most chosen wrong answer (by the option text
        the learner picked, which shuffling does not change)."""
        rows = self.learners.pipeline(
            [
                {"$match": {f"progress.{course.id}.quizzes": {"$exists": True}}},
                # Keep only what is grouped before unwinding: learner documents are large.
                {
                    "$project": {
                        "a": {
                            "$map": {
                                "input": f"$progress.{course.id}.quizzes",
                                "as": "q",
                                "in": {
                                    "kind": "$$q.kind",
                                    "session_id": "$$q.session_id",
                                    "answers": "$$q.answers",
                                },
                            }
                        }
                    }
                },
                {"$unwind": "$a"},
                {"$match": {"a.kind": {"$in": GRADED}}},
                {"$unwind": "$a.answers"},
                {
                    "$group": {
                        "_id": {
                            "question": "$a.answers.question_id",
                            "picked": {"$ifNull": ["$a.answers.picked", []]},
                            "skipped": {"$ifNull": ["$a.answers.skipped", False]},
                            "correct": "$a.answers.correct",
                            "session": "$a.session_id",
                        },
                        "n": {"$sum": 1},
                    }
                },
            ]
        )
        items: dict[str, dict[str, Any]] = {}
        for row in rows:
            key = row["_id"]
            found = find_question(course, key.get("question", ""))
            item = items.setdefault(
                key.get("question", ""),
                {
                    "session": found[0].id if found else key.get("session"),
                    "question": key.get("question", ""),
                    "prompt": found[1].prompt if found else "",
                    "answers": 0,
                    "correct": 0,
                    "wrong": {},
                },
            )
            item["answers"] += row["n"]
            if key.get("correct") is True:
                item["correct"] += row["n"]
                continue
            picked = " + ".join(str(p) for p in key.get("picked") or ())
            label = "(skipped)" if key.get("skipped") else picked or "(written answer)"
            item["wrong"][label] = item["wrong"].get(label, 0) + row["n"]
        order = {q.id: (n, i) for n, s in enumerate(course.sessions) for i, q in enumerate(s.quiz)}
        result = []
        for item in items.values():
            wrong = item.pop("wrong")
            top = max(sorted(wrong), key=wrong.get) if wrong else None
            item["share_correct"] = _rate(item["correct"], item["answers"])
            item["top_wrong"] = top
            item["top_wrong_count"] = wrong.get(top, 0) if top else 0
            result.append(item)
        return sorted(
            result, key=lambda i: (order.get(i["question"], (len(order), 0)), i["question"])
        )

    def questions(self, course: Course, per_session: int = 20) -> dict[str, dict[str, Any]]:
        """Questions learners asked, by session id of this course: how many, how they were
        answered (`mode` → count) and the newest `per_session` with their answers."""
        rows = self.store.questions.pipeline(
            [
                {"$match": {"course": course.id}},
                {"$sort": {"at": -1}},
                {
                    "$group": {
                        "_id": "$session",
                        "asked": {"$sum": 1},
                        "modes": {"$push": {"$ifNull": ["$mode", ""]}},
                        "recent": {
                            "$push": {
                                "question": "$question",
                                "answer": "$answer",
                                "mode": "$mode",
                                "at": "$at",
                                "learner": "$learner",
                            }
                        },
                    }
                },
                {
                    "$project": {
                        "asked": 1,
                        "modes": 1,
                        "recent": {"$slice": ["$recent", per_session]},
                    }
                },
            ]
        )
        asked: dict[str, dict[str, Any]] = {}
        for row in rows:
            modes: dict[str, int] = {}
            for mode in row["modes"]:
                modes[mode] = modes.get(mode, 0) + 1
            asked[row["_id"]] = {"asked": row["asked"], "modes": modes, "recent": row["recent"]}
        return asked
