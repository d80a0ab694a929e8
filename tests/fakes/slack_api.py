"""A local fake of Slack's Web API for tests: a real HTTP server on 127.0.0.1:0.

It answers the methods Trainbot calls (`auth.test`, `users.info`, `chat.postMessage`,
`chat.update`, `chat.postEphemeral`, `views.publish`, `views.open`) and `response_url`
posts, records every request, and checks Block Kit the way Slack does (`invalid_blocks`
past 50 blocks, a section over 3,000 characters, repeated ids…, and every field limit
slack_sdk's block models validate), so a renderer bug fails a test instead of passing
silently. Tests can script failures (`ratelimited` with
`Retry-After`, `invalid_blocks`, …), delays, hangs (no answer at all, then the
connection closed) and lost answers (`lose_next`: the call is carried out, its answer never
arrives). Channel posts are refused as Slack refuses them: a bot may post to a channel
(`C…`, `G…`) only after being invited (`invite`), or to a public one with the
`chat:write.public` scope (`scopes`); otherwise `not_in_channel` (public) or
`channel_not_found` (private, which a bot that is not a member cannot see).
`conversations.open`, `.history` and `.replies` read back what was posted.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block


@dataclass
class Call:
    """One request the fake received."""

    method: str  # Web API method, or "response_url"
    params: dict[str, Any]
    headers: dict[str, str]
    at: float
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)


@dataclass
class Scripted:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


MESSAGE_BLOCKS, VIEW_BLOCKS = 50, 100
IMAGES = (".png", ".jpg", ".jpeg", ".gif")  # what Slack shows in an image block


def check_blocks(blocks: Any, limit: int = MESSAGE_BLOCKS) -> list[str]:
    """Slack's own validation, as far as Trainbot's blocks go: problems, or []."""
    if not isinstance(blocks, list):
        return ["blocks must be an array"]
    problems = []
    if len(blocks) > limit:
        problems.append(f"no more than {limit} items allowed [json-pointer:/blocks]")
    block_ids: set[str] = set()
    action_ids: set[str] = set()
    for i, block in enumerate(blocks):
        where = f"[json-pointer:/blocks/{i}]"
        kind = block.get("type")
        if block.get("block_id"):
            if block["block_id"] in block_ids:
                problems.append(f"duplicate block_id {where}")
            block_ids.add(block["block_id"])
        if kind == "section":
            text = (block.get("text") or {}).get("text", "")
            if not text or len(text) > 3000:
                problems.append(f"section text must be 1-3000 characters {where}")
            accessory = block.get("accessory")
            if accessory:
                problems += _check_element(accessory, where, action_ids)
        elif kind == "header":
            text = block.get("text") or {}
            if text.get("type") != "plain_text" or not 1 <= len(text.get("text", "")) <= 150:
                problems.append(f"header must be plain_text of 1-150 characters {where}")
        elif kind == "actions":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 25:
                problems.append(f"actions must have 1-25 elements {where}")
            for element in elements:
                problems += _check_element(element, where, action_ids)
        elif kind == "image":
            if not block.get("image_url") or not block.get("alt_text"):
                problems.append(f"image needs image_url and alt_text {where}")
            if not urlsplit(str(block.get("image_url"))).path.lower().endswith(IMAGES):
                problems.append(f"downloading image failed (not an image) {where}")
            extra = set(block) - {"type", "block_id", "image_url", "alt_text", "title"}
            if extra:
                problems.append(f"unknown image fields {sorted(extra)} {where}")
        elif kind == "context":
            if not 1 <= len(block.get("elements") or []) <= 10:
                problems.append(f"context must have 1-10 elements {where}")
        elif kind == "input":
            if not block.get("label") or not block.get("element"):
                problems.append(f"input needs label and element {where}")
        elif kind != "divider":
            problems.append(f"unsupported block type {kind!r} {where}")
        problems += _sdk_problems(block, where)
    return problems


def _sdk_problems(block: Any, where: str) -> list[str]:
    """Block Kit's field limits as slack_sdk's block models know them (the same limits
    Slack documents), on top of the checks above."""
    try:
        parsed = Block.parse(block)
        if parsed is None:
            return [f"not a block {where}"]
        parsed.validate_json()
    except (SlackObjectFormationError, KeyError, TypeError, AttributeError) as exc:
        return [f"{exc} {where}"]
    return []


def _check_element(element: dict, where: str, action_ids: set[str]) -> list[str]:
    problems = []
    if element.get("type") == "button":
        if not 1 <= len((element.get("text") or {}).get("text", "")) <= 75:
            problems.append(f"button text must be 1-75 characters {where}")
        if len(element.get("value", "")) > 2000:
            problems.append(f"button value over 2000 characters {where}")
    action_id = element.get("action_id")
    if action_id:
        if action_id in action_ids:
            problems.append(f"duplicate action_id {action_id} {where}")
        action_ids.add(action_id)
    return problems


class FakeSlackAPI:
    """Start with `.start()`; point `SLACK_API_URL` at `.base_url`."""

    def __init__(
        self,
        token: str = "xoxb-test-token",
        team_id: str = "T0TEAM",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
    ) -> None:
        self.token = token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.users: dict[str, dict[str, Any]] = {}
        self.calls: list[Call] = []
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.views: dict[str, dict[str, Any]] = {}
        self.delays: dict[str, float] = {}
        self.scopes = {"chat:write", "commands", "im:history", "users:read"}  # the manifest's
        self.members: set[str] = set()  # channels the app was invited to
        self._hangs: dict[str, list[float]] = {}
        self._losses: dict[str, list[float]] = {}
        self._scripted: dict[str, list[Scripted]] = {}
        self._ts = itertools.count(1)
        self._changed = threading.Condition()
        self._server: ThreadingHTTPServer | None = None

    # --- set-up --------------------------------------------------------------------------

    def start(self) -> FakeSlackAPI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._serve(self)

            def do_POST(self) -> None:
                fake._serve(self)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def response_url(self, name: str = "hook") -> str:
        return self.base_url.replace("/api/", f"/response/{name}")

    def add_user(self, user_id: str, display_name: str = "", real_name: str = "") -> None:
        self.users[user_id] = {
            "id": user_id,
            "team_id": self.team_id,
            "name": (display_name or user_id).lower(),
            "real_name": real_name,
            "profile": {"display_name": display_name, "real_name": real_name},
        }

    def invite(self, channel: str) -> None:
        """`/invite @trainbot` in `channel`: the app may post there from now on."""
        self.members.add(channel)

    def fail_next(
        self,
        method: str,
        error: str = "internal_error",
        status: int = 200,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` calls of `method` get this error instead of an answer."""
        scripted = Scripted(status, {"ok": False, "error": error}, headers or {})
        self._scripted.setdefault(method, []).extend([scripted] * times)

    def ratelimit_next(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """HTTP 429 `ratelimited` with `Retry-After`, as Slack answers a burst."""
        self.fail_next(method, "ratelimited", 429, {"Retry-After": str(retry_after)}, times)

    def hang_next(self, method: str, seconds: float, times: int = 1) -> None:
        """The next `times` calls of `method` wait `seconds` and are closed unanswered (a
        client with a shorter timeout gives up first); they are recorded with status 0 and
        post nothing."""
        with self._changed:
            self._hangs.setdefault(method, []).extend([seconds] * times)

    # --- what was received -------------------------------------------------------------

    def lose_next(self, method: str, seconds: float, times: int = 1) -> None:
        """The next `times` calls of `method` are carried out (a message is posted), then
        their answers are held `seconds` and the connections closed unanswered."""
        with self._changed:
            self._losses.setdefault(method, []).extend([seconds] * times)

    def calls_to(self, method: str) -> list[Call]:
        with self._changed:
            return [c for c in self.calls if c.method == method]

    def posts(self) -> list[dict[str, Any]]:
        """Messages posted successfully, oldest first, as stored (with channel and ts)."""
        return [
            c.response["message"] | {"channel": c.response["channel"]}
            for c in self.calls_to("chat.postMessage")
            if c.response.get("ok")
        ]

    def activity(self) -> list[Call]:
        """Every call except `auth.test` (which Bolt and the start-up check make at will)."""
        with self._changed:
            return [c for c in self.calls if c.method != "auth.test"]

    def wait_for(self, method: str, count: int = 1, timeout: float = 3.0) -> list[Call]:
        """Block until `method` was called `count` times; returns those calls."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [c for c in self.calls if c.method == method]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{method} called {len(found)} times, wanted {count}; "
                        f"calls: {[c.method for c in self.calls]}"
                    )
                self._changed.wait(left)

    # --- serving -------------------------------------------------------------------------

    def _serve(self, http: BaseHTTPRequestHandler) -> None:
        url = urlsplit(http.path)
        params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(http.headers.get("Content-Length") or 0)
        raw = http.rfile.read(length).decode() if length else ""
        if raw:
            if "json" in (http.headers.get("Content-Type") or ""):
                params.update(json.loads(raw))
            else:
                params.update({k: v[-1] for k, v in parse_qs(raw).items()})
        for name in ("blocks", "view"):
            if isinstance(params.get(name), str):
                params[name] = json.loads(params[name])
        if url.path.startswith("/response/"):
            method = "response_url"
        else:
            method = url.path.rsplit("/", 1)[-1]
        call = Call(method, params, dict(http.headers.items()), time.monotonic())
        with self._changed:
            hangs = self._hangs.get(method)
            hang = hangs.pop(0) if hangs else None
        if hang is not None:
            time.sleep(hang)
            call.status = 0
            with self._changed:
                self.calls.append(call)
                self._changed.notify_all()
            http.close_connection = True
            return
        if method in self.delays:
            time.sleep(self.delays[method])
        status, body, headers = self._answer(method, params, http.headers)
        call.status, call.response = status, body
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()
            losses = self._losses.get(method)
            lose = losses.pop(0) if losses else None
        if lose is not None:
            time.sleep(lose)
            http.close_connection = True
            return
        payload = (
            b"ok" if method == "response_url" and body.get("ok") else json.dumps(body).encode()
        )
        http.send_response(status)
        http.send_header("Content-Type", "application/json; charset=utf-8")
        http.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            http.send_header(name, value)
        http.end_headers()
        http.wfile.write(payload)

    def _answer(self, method: str, params: dict, headers) -> tuple[int, dict, dict]:
        with self._changed:
            queue = self._scripted.get(method)
            scripted = queue.pop(0) if queue else None
        if scripted is not None:
            return scripted.status, scripted.body, scripted.headers
        if method == "response_url":
            problems = check_blocks(params["blocks"]) if "blocks" in params else []
            if problems:
                return 400, {"ok": False, "error": "invalid_blocks", "errors": problems}, {}
            return 200, {"ok": True}, {}
        auth = headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth else params.get("token", "")
        if token != self.token:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return 404, {"ok": False, "error": "unknown_method"}, {}
        return 200, handler(params), {}

    def _next_ts(self) -> str:
        """Unique and growing, in seconds of real time as Slack's are (`oldest` filters)."""
        n = next(self._ts)
        return f"{int(time.time())}.{n:06d}"

    def _m_auth_test(self, params: dict) -> dict:
        return {
            "ok": True,
            "url": "https://acme.slack.com/",
            "team": "Acme",
            "user": "trainbot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _m_users_info(self, params: dict) -> dict:
        user = self.users.get(params.get("user", ""))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user}

    def _m_chat_postMessage(self, params: dict) -> dict:
        channel = str(params.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not params.get("text") and not params.get("blocks"):
            return {"ok": False, "error": "no_text"}
        problems = check_blocks(params.get("blocks", []))
        if problems:
            return {"ok": False, "error": "invalid_blocks", "errors": problems}
        if channel[0] in "UW":  # a user id: the app's DM with that user
            channel = "D" + channel[1:]
        elif channel[0] in "CG" and channel not in self.members:
            if channel[0] == "G":
                return {"ok": False, "error": "channel_not_found"}
            if "chat:write.public" not in self.scopes:
                return {"ok": False, "error": "not_in_channel"}
        ts = self._next_ts()
        message = {
            "type": "message",
            "ts": ts,
            "text": params.get("text", ""),
            "blocks": params.get("blocks", []),
            "thread_ts": params.get("thread_ts"),
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
        }
        with self._changed:
            self.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _m_conversations_open(self, params: dict) -> dict:
        user = str(params.get("users") or "")
        return {"ok": True, "channel": {"id": "D" + user[1:]}}

    def _m_conversations_history(self, params: dict) -> dict:
        return {"ok": True, "messages": self._read(params, thread=None), "has_more": False}

    def _m_conversations_replies(self, params: dict) -> dict:
        messages = self._read(params, thread=str(params.get("ts") or ""))
        return {"ok": True, "messages": messages, "has_more": False}

    def _read(self, params: dict, thread: str | None) -> list[dict[str, Any]]:
        """Messages of a channel after `oldest`, newest first: top-level ones, or those of
        the thread started by message `thread` (the parent included, as Slack does)."""
        channel, oldest = str(params.get("channel")), float(params.get("oldest") or 0)
        with self._changed:
            found = [
                m
                for (where, ts), m in self.messages.items()
                if where == channel
                and float(ts) > oldest
                and (
                    (m.get("thread_ts") in (None, ts))
                    if thread is None
                    else thread in (ts, m.get("thread_ts"))
                )
            ]
        return sorted(found, key=lambda m: float(m["ts"]), reverse=True)

    def _m_chat_update(self, params: dict) -> dict:
        key = (str(params.get("channel")), str(params.get("ts")))
        if key not in self.messages:
            return {"ok": False, "error": "message_not_found"}
        problems = check_blocks(params.get("blocks", []))
        if problems:
            return {"ok": False, "error": "invalid_blocks", "errors": problems}
        with self._changed:
            self.messages[key] |= {"text": params.get("text", ""), "blocks": params.get("blocks")}
        return {"ok": True, "channel": key[0], "ts": key[1], "text": params.get("text", "")}

    def _m_chat_postEphemeral(self, params: dict) -> dict:
        problems = check_blocks(params.get("blocks", []))
        if problems:
            return {"ok": False, "error": "invalid_blocks", "errors": problems}
        return {"ok": True, "message_ts": self._next_ts()}

    def _m_views_publish(self, params: dict) -> dict:
        view = params.get("view") or {}
        problems = check_blocks(view.get("blocks", []), VIEW_BLOCKS)
        if view.get("type") != "home":
            problems.append("view type must be home")
        if problems:
            return {"ok": False, "error": "invalid_arguments", "errors": problems}
        view_id = "V" + str(params.get("user_id"))
        stored = {**view, "id": view_id, "hash": self._next_ts()}
        with self._changed:
            self.views[str(params.get("user_id"))] = stored
        return {"ok": True, "view": stored}

    def _m_views_open(self, params: dict) -> dict:
        if not params.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger"}
        view = params.get("view") or {}
        problems = check_blocks(view.get("blocks", []), VIEW_BLOCKS)
        if len((view.get("title") or {}).get("text") or "") > 24:
            problems.append("title over 24 characters")
        if problems:
            return {"ok": False, "error": "invalid_arguments", "errors": problems}
        return {"ok": True, "view": {**view, "id": "VMODAL" + self._next_ts().replace(".", "")}}
