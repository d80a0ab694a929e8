"""A local OpenAI-compatible Chat Completions server for tests (127.0.0.1, free port).

It records every request (path, headers, JSON body) and answers as told: `answer` (the
content to return), or a fault: `hang` (past the client's timeout), `429`
(`429-retry-after` also asks for a 30 s wait), `500`, `malformed` (invalid JSON), `empty`
(no content), `length` (cut off), `refusal`, or `echo` (returns what it was sent as the
answer). `script` queues modes for the next requests.

`reasoning = True` makes it answer as a reasoning model (o3, gpt-5…) does: hidden reasoning
(`REASONING_SPEND` tokens for the request's `reasoning_effort`, medium by default) comes
out of `max_completion_tokens` first, and when nothing is left for the answer the reply is
empty content with `finish_reason=length`. Without it, as a non-reasoning model, a request
carrying `reasoning_effort` is refused with 400 `unsupported_parameter`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REASONING_SPEND = {"minimal": 0, "low": 400, "medium": 1500, "high": 6000}
ANSWER_TOKENS = 60  # what the fake's answer costs after the reasoning


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, str]]:
        return self.body.get("messages", [])

    @property
    def text(self) -> str:
        return "\n".join(m.get("content", "") for m in self.messages)


@dataclass
class FakeOpenAI:
    mode: str = "answer"
    answer: str = "Gold partners get a 10% discount on list price. [3]"
    script: list[str] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    reasoning: bool = False

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"_raw": raw.decode(errors="replace")}
                fake.requests.append(
                    Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                mode = fake.script.pop(0) if fake.script else fake.mode
                fake.respond(self, mode, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    # --- answers ---------------------------------------------------------------------

    def respond(self, handler: BaseHTTPRequestHandler, mode: str, body: dict) -> None:
        if "reasoning_effort" in body and not self.reasoning:
            error = {
                "message": "Unsupported parameter: 'reasoning_effort' is not supported with "
                "this model.",
                "type": "invalid_request_error",
                "param": "reasoning_effort",
                "code": "unsupported_parameter",
            }
            return self._send(handler, 400, {"error": error})
        if self.reasoning and mode == "answer":
            return self._send(handler, 200, self._reasoned(body))
        if mode == "hang":
            self.release.wait(30)
            return self._send(handler, 200, self._completion("too late"))
        if mode.startswith("429"):  # "429-retry-after" also asks to wait 30 s
            wait = {"retry-after": "30"} if mode == "429-retry-after" else {}
            error = {"error": {"message": "Rate limit", "type": "rate_limit"}}
            return self._send(handler, 429, error, wait)
        if mode == "500":
            return self._send(handler, 500, {"error": {"message": "boom", "type": "server"}})
        if mode == "malformed":
            return self._send_raw(handler, 200, b'{"id": "x", "choices": [ {"mess')
        if mode == "empty":
            return self._send(handler, 200, self._completion(""))
        if mode == "length":
            return self._send(handler, 200, self._completion("Gold partners get", "length"))
        if mode == "refusal":
            done = self._completion(None)
            done["choices"][0]["message"]["refusal"] = "I can't help with that."
            return self._send(handler, 200, done)
        if mode == "echo":
            sent = "\n".join(m.get("content", "") for m in body.get("messages", []))
            return self._send(handler, 200, self._completion(sent))
        return self._send(handler, 200, self._completion(self.answer))

    def _reasoned(self, body: dict) -> dict:
        """A reasoning model's completion: the answer only if the limit leaves room after
        the reasoning, else empty and cut off (`finish_reason=length`)."""
        limit = int(body.get("max_completion_tokens") or 4096)
        spend = REASONING_SPEND.get(body.get("reasoning_effort", "medium"), 1500)
        if spend + ANSWER_TOKENS > limit:
            done = self._completion("", "length")
            reasoning, used = limit, limit
        else:
            done = self._completion(self.answer)
            reasoning, used = spend, spend + ANSWER_TOKENS
        done["usage"].update(
            completion_tokens=used,
            total_tokens=done["usage"]["prompt_tokens"] + used,
            completion_tokens_details={"reasoning_tokens": reasoning},
        )
        return done

    @staticmethod
    def _completion(content: str | None, finish: str = "stop") -> dict:
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 1767600000,
            "model": "gpt-4o-mini",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "finish_reason": finish,
                }
            ],
            "usage": {"prompt_tokens": 321, "completion_tokens": 21, "total_tokens": 342},
        }

    def _send(self, handler, status: int, data: dict, headers: dict | None = None) -> None:
        self._send_raw(handler, status, json.dumps(data).encode(), headers)

    @staticmethod
    def _send_raw(handler, status: int, raw: bytes, headers: dict | None = None) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(raw)
        except OSError:
            pass  # the client gave up (timeout tests)
