"""Whether a (signed) Slack request has the shape Slack sends, before Bolt parses it.

Bolt assumes Slack's shapes: a JSON body that is an array, a string or null, an `event`
that is a list, a `payload` that is not a JSON object, empty `actions`, or a view whose
state is not an object made it (or our listeners) raise, a 500 with a traceback; a team
sent as an object became part of a learner key (`slack:{'x': 1}:U…`). A signed request
can still be odd (a bug in a proxy, a replayed test payload, a leaked signing secret), so
the blueprint checks the shape and answers 400 with one log line instead.

Then the listeners' readers of those payloads: who pressed, what was typed in the modal,
the id that makes a second press a duplicate (moved from `slack.py`, issue 19).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from bot.channels.slack_blocks import ACTION_PREFIX, ACTIONS_BLOCK, ASK_BLOCK, ASK_INPUT

# Slack ids: team T…, user U…/W…, enterprise E…, app A…: upper-case letters and digits.
SLACK_ID = re.compile(r"[A-Z0-9]{2,32}")
_ID_FIELDS = ("team_id", "user_id", "enterprise_id", "api_app_id")


def slack_id(value: Any) -> str:
    """`value` when it is a Slack id, else "" (never a dict's repr in a learner key)."""
    return value if isinstance(value, str) and SLACK_ID.fullmatch(value) else ""


def _id_ok(value: Any) -> bool:
    return value is None or (isinstance(value, str) and bool(SLACK_ID.fullmatch(value)))


def _object_with_id(value: Any) -> bool:
    """`team` / `user` / `enterprise`: absent, null, or an object whose `id` is an id."""
    if value is None:
        return True
    return isinstance(value, dict) and _id_ok(value.get("id"))


def _strings(obj: dict[str, Any], names: tuple[str, ...], where: str) -> str | None:
    """Fields Bolt matches listeners on with regular expressions: strings or absent."""
    for name in names:
        if not isinstance(obj.get(name, ""), str | None):
            return f"{where}{name} is not a string"
    return None


def _common(body: dict[str, Any]) -> str | None:
    if reason := _strings(body, ("type", "command", "callback_id", "trigger_id"), ""):
        return reason
    for name in _ID_FIELDS:
        if not _id_ok(body.get(name)):
            return f"{name} is not a Slack id"
    for name in ("team", "user", "enterprise"):
        # an id string in events, an object with an id in interactions; nothing else
        value = body.get(name)
        if not (_object_with_id(value) or _id_ok(value)):
            return f"{name} is malformed"
    authorizations = body.get("authorizations")
    if authorizations is not None and not (
        isinstance(authorizations, list) and all(isinstance(a, dict) for a in authorizations)
    ):
        return "authorizations is malformed"
    return None


def _event(body: dict[str, Any]) -> str | None:
    if "event" not in body:
        return None
    event = body["event"]
    if not isinstance(event, dict):
        return "event is not an object"
    if reason := _common(event):  # Bolt reads ids and authorizations in the event too
        return f"event {reason}"
    return _strings(event, ("type", "subtype", "channel_type", "team", "text"), "event ")


def _interaction(body: dict[str, Any]) -> str | None:
    if "actions" in body:
        actions = body["actions"]
        if not isinstance(actions, list) or not actions:
            return "actions is not a non-empty list"
        if not all(isinstance(a, dict) for a in actions):
            return "an action is not an object"
        for action in actions:
            if not isinstance(action.get("action_id"), str):
                return "an action has no action_id"
            if reason := _strings(action, ("block_id", "value", "type"), "action "):
                return reason
    for name in ("container", "message", "channel", "view"):
        if name in body and not isinstance(body[name], dict):  # Bolt reads a null as an object
            return f"{name} is not an object"
    view = body.get("view") or {}
    if reason := _strings(view, ("id", "callback_id", "hash"), "view "):
        return reason
    state = view.get("state")
    if state is not None:
        values = state.get("values") if isinstance(state, dict) else None
        if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
            return "view state is malformed"
    return None


def problem(raw: bytes, content_type: str) -> str | None:
    """Why a Slack request body is not one Slack sends, or None when its shape is fine."""
    text = raw.decode("utf-8", "replace")
    if content_type.startswith("application/json"):
        try:
            body = json.loads(text)
        except (ValueError, RecursionError):  # deep nesting: refused, never a traceback
            return "body is not JSON"
        if not isinstance(body, dict):
            return "body is not a JSON object"
        return _common(body) or _event(body)
    form = {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}
    if "payload" not in form:  # a slash command: flat fields
        return _common(form)
    try:
        payload = json.loads(form["payload"])
    except (ValueError, RecursionError):
        return "payload is not JSON"
    if not isinstance(payload, dict):
        return "payload is not a JSON object"
    return _common(payload) or _interaction(payload)


# --- reading payloads ----------------------------------------------------------------


IMAGE_KEYS = {"type", "block_id", "image_url", "alt_text", "title"}


def clean(block: dict[str, Any]) -> dict[str, Any]:
    """A block read back from an interaction payload, fit to send again (Slack adds
    read-only fields such as an image's size)."""
    if block.get("type") == "image":
        return {k: v for k, v in block.items() if k in IMAGE_KEYS}
    return block


def question(view: Mapping[str, Any]) -> str:
    """The question typed in the modal ("" when none)."""
    values = ((view.get("state") or {}).get("values") or {}).get(ASK_BLOCK) or {}
    return str((values.get(ASK_INPUT) or {}).get("value") or "").strip()


def user(body: Mapping[str, Any]) -> str:
    """The id of the user who pressed or submitted, or "" when it is not a Slack id."""
    user = body.get("user")
    return slack_id(user.get("id") if isinstance(user, dict) else None)


def press_id(body: Mapping[str, Any], action: Mapping[str, Any]) -> str:
    """The message id of a button press: one per message (or per Home view version), so a
    second press of any button on the same message is a duplicate, however fast."""
    container = body.get("container") or {}
    if container.get("type") == "view":
        view = body.get("view") or {}
        return f"slack-press:{view.get('id', '')}:{view.get('hash', '')}"
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id") or ""
    ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    if ts:
        return f"slack-press:{channel}:{ts}"
    return f"slack-press:{action.get('action_ts') or time.time_ns()}"


def unique_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Blocks of several replies joined into one message, with their button ids made unique
    (Slack refuses repeated block or action ids)."""
    out = []
    for n, block in enumerate(blocks):
        if block.get("type") == "actions":
            elements = [
                {**e, "action_id": f"{ACTION_PREFIX}{n}.{i}"}
                if str(e.get("action_id", "")).startswith(ACTION_PREFIX)
                else e
                for i, e in enumerate(block["elements"])
            ]
            block = {**block, "block_id": f"{ACTIONS_BLOCK}_{n}", "elements": elements}
        out.append(block)
    return out
