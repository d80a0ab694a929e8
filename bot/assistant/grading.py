"""Grading written quiz answers: with the model against a rubric, else (and on any model
failure) the quiz engine's keyword check."""

from __future__ import annotations

import json
import logging

from bot.assistant.model import (
    ModelCalls,
    ModelFailure,
    _failure_reason,
)
from bot.assistant.prompt import (
    MAX_QUESTION,
    Template,
    _clean_question,
    shipped_prompt,
    trim,
)
from flows.quiz import keyword_grade as quiz_keyword_grade

log = logging.getLogger(__package__)  # "bot.assistant", as before the split


GRADE = Template.parse(shipped_prompt("grade.txt"), ("rubric", "answer"))


class Grading(ModelCalls):
    """The `Assistant`'s grader (a mixin: the `Assistant` holds the state)."""

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
