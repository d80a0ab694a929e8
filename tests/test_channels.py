"""The channel registry (issue 19): one list, and everything that names channels reads it.

This module is also a channel adapter (`sender`, `routes`, `notifiers` below): the last test
adds an `echo` channel to the list, and the app serves its route and delivers through its
sender with no other change, which is what adding a channel now takes.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest
from flask import Blueprint, Flask, jsonify, request

from bot import lanes, preview_text
from bot.admin.preview import previews
from bot.channels import registry
from bot.channels.base import Channel, Deps
from bot.config import Config
from bot.lint import lint, shown_label
from bot.notify import ManagerNotifier
from bot.outbox import Outbox
from bot.render import to_whatsapp
from bot.services import build_services
from bot.web import create_app
from flows.course import CHANNELS as COURSE_CHANNELS
from flows.course import Catalog
from flows.events import Button, Inbound, Reply
from flows.machine import session_reply

SENT: list[tuple[str, str]] = []


class EchoSender:
    """Remembers what it was asked to send."""

    def send(self, learner: Mapping[str, Any], reply: Reply) -> str | None:
        SENT.append((learner["_id"], reply.text))
        return f"echo-{uuid.uuid4().hex[:8]}"


def sender(config: Config) -> EchoSender:
    return EchoSender()


def routes(app: Flask, deps: Deps) -> None:
    bp = Blueprint("echo", __name__)

    @bp.post("/echo")
    def inbound():
        body = request.get_json()
        handled = deps.conversations.handle(
            Inbound(key=f"echo:{body['who']}", channel="echo", text=body["text"])
        )
        return jsonify({"status": handled.status})

    app.register_blueprint(bp)


def notifiers(outbox: Outbox) -> tuple[ManagerNotifier, ...]:
    return ()


ECHO = Channel("echo", "Echo", enabled=lambda config: True, adapter=__name__, render=str.upper)


def test_every_adapter_has_a_sender_routes_and_notifiers() -> None:
    for channel in registry.CHANNELS:
        adapter = channel.load()
        for part in ("sender", "routes", "notifiers"):
            assert callable(getattr(adapter, part, None)), (channel.name, part)


def test_the_registry_names_channels_courses_may_list() -> None:
    names = [c.name for c in registry.CHANNELS]
    assert len(set(names)) == len(names)
    assert set(names) <= set(COURSE_CHANNELS)  # `console` is the CLI's own front end


def test_lanes_budgets_and_renderers_come_from_the_registry() -> None:
    for channel in registry.CHANNELS:
        assert lanes.LANES[channel.name] == channel.threads
        assert preview_text.RENDERERS[channel.name] is channel.render
    assert registry.budgets() == {"whatsapp": timedelta(hours=36), "slack": timedelta(hours=6)}


def test_enabled_channels_follow_the_credentials() -> None:
    bare = Config.from_env({}, dotenv=None)
    assert [c.name for c in registry.enabled(bare)] == ["web"]
    slack = bare.replace(slack_bot_token="xoxb-1", slack_signing_secret="s")
    assert [c.name for c in registry.enabled(slack)] == ["web", "slack"]


def test_lint_and_labels_go_through_each_channels_limits() -> None:
    long = Button("an option title far too long for any button, " * 3, "x")
    reply = Reply("Pick one", buttons=(long,))
    found = [f.message for f in lint(reply)]
    assert any(m.startswith("WhatsApp cuts") for m in found)
    assert any(m.startswith("Slack cuts") for m in found)
    assert shown_label("whatsapp", long.title, 1) == registry.CHANNELS[1].label(long.title, 1)
    assert shown_label("web", long.title, 1) == long.title


def test_the_admin_preview_shows_each_chat_channels_text(sample_catalog: Catalog) -> None:
    course = sample_catalog.courses[0]
    first = previews(course)[0]
    assert [title for title, _ in first["texts"]] == ["WhatsApp", "Slack"]
    assert first["texts"][0][1] == to_whatsapp(session_reply(course, 1).text)


def test_a_new_channel_is_one_entry_in_the_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """Routes, sender, renderer: all from the one entry, nothing else edited."""
    monkeypatch.setattr(registry, "CHANNELS", (*registry.CHANNELS, ECHO))
    SENT.clear()
    config = Config.from_env({}, dotenv=None)
    services = build_services(config, registry.senders_for(config))  # delivers inline
    app = create_app(config, services)
    assert isinstance(services.outbox.senders["echo"], EchoSender)
    response = app.test_client().post("/echo", json={"who": "ada", "text": "I am a new partner"})
    assert response.json == {"status": "ok"}
    assert SENT and all(key == "echo:ada" for key, _ in SENT)
    assert registry.channel("echo") is ECHO
