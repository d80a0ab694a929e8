"""The model: its settings, the OpenAI client and one bounded Chat Completions call with
model-aware limits (reasoning models), and why a call gave nothing usable."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
from openai.types.chat import ChatCompletionMessageParam

from bot.settings import OpenAISettings

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


class ModelCalls:
    """The `Assistant`'s calls to the model (a mixin: the `Assistant` holds the state)."""

    settings: Settings
    _client: openai.OpenAI | None
    _lock: threading.Lock
    _calls: ThreadPoolExecutor

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
