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

from bot.assistant.answers import Answer, Assistant, history_of, used_today
from bot.assistant.grading import keyword_grade
from bot.assistant.model import ModelFailure, Settings, is_reasoning_model
from bot.assistant.prompt import (
    HISTORY_ANSWER,
    MAX_ANSWER,
    MAX_QUESTION,
    Template,
    shipped_prompt,
    trim,
)

__all__ = [
    "HISTORY_ANSWER",
    "MAX_ANSWER",
    "MAX_QUESTION",
    "Answer",
    "Assistant",
    "ModelFailure",
    "Settings",
    "Template",
    "history_of",
    "is_reasoning_model",
    "keyword_grade",
    "shipped_prompt",
    "trim",
    "used_today",
]
