"""The Slack channel end to end: signed requests into the real Bolt app inside the Flask app,
and the real slack_sdk client delivering to a local fake Slack Web API.

Most tests build the services with inline background work, so a request returns with its
work done and the fake's calls can be asserted at once; the last tests run the threaded
web app (and `trainbot serve` itself) the way production does.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

import pytest
import yaml
from flask import Flask
from slack_sdk.signature import SignatureVerifier

from bot.channels.slack import SlackSender, address, learner_key, notify_manager, plain_text
from bot.channels.slack_blocks import (
    ACTIONS_BLOCK,
    ASK_ACTION,
    BLOCKS_PER_MESSAGE,
    SECTION_LIMIT,
    home_view,
    progress_bar,
    split_mrkdwn,
    to_messages,
)
from bot.config import Config
from bot.outbox import DeliveryError
from bot.render import to_slack
from bot.services import Services, build_services, senders_for
from bot.web import create_app
from flows.course import Catalog, Media
from flows.events import Button, Reply
from flows.machine import session_reply
from flows.state import from_doc
from tests.conftest import (
    ROOT,
    SLACK_TEAM,
    SLACK_TOKEN,
    copy_without_quizzes,
    fresh_data_dir,
    make_course,
    served,
)
from tests.fakes.slack_api import FakeSlackAPI

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = SLACK_TOKEN  # what conftest's `slack_fake` serves
TEAM = SLACK_TEAM
USER = "U0ADA"
APP_ID = "A0TRAIN"
BASE = "https://trainbot.example.com"
SALES_KEY = learner_key(TEAM, USER)


# --- signing and payloads, as Slack sends them ----------------------------------------------


def signed(body: str, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    """Slack's request signature: HMAC-SHA256 of `v0:{timestamp}:{body}`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}


def envelope(event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return {
        "token": "unused-verification-token",
        "team_id": TEAM,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM, "user_id": "U0BOT", "is_bot": True}],
    }


def dm(text: str, user: str | None = USER, **extra: Any) -> dict[str, Any]:
    ts = f"{time.time():.6f}"
    event = {
        "type": "message",
        "channel": "D0ADA",
        "channel_type": "im",
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "client_msg_id": str(uuid.uuid4()),
    }
    if user is not None:
        event["user"] = user
    return event | extra


@dataclass
class Bot:
    """The Flask app with Slack enabled, its services, and the fake Slack it talks to."""

    app: Flask
    services: Services
    fake: FakeSlackAPI

    def post(self, path: str, body: str, content_type: str, headers: dict | None = None):
        all_headers = {"Content-Type": content_type, **signed(body), **(headers or {})}
        return self.app.test_client().post(path, data=body, headers=all_headers)

    def event(self, event: dict, event_id: str | None = None, headers: dict | None = None):
        body = json.dumps(envelope(event, event_id))
        return self.post("/slack/events", body, "application/json", headers)

    def say(self, text: str, **extra: Any):
        return self.event(dm(text, **extra))

    def interact(self, payload: dict[str, Any]):
        body = urlencode({"payload": json.dumps(payload)})
        return self.post("/slack/events", body, "application/x-www-form-urlencoded")

    def command(self, text: str = "", channel: str = "C0GENERAL", user: str = USER):
        body = urlencode(
            {
                "token": "unused",
                "team_id": TEAM,
                "team_domain": "acme",
                "channel_id": channel,
                "channel_name": "general",
                "user_id": user,
                "user_name": "ada.l",
                "command": "/train",
                "text": text,
                "api_app_id": APP_ID,
                "response_url": self.fake.response_url("command"),
                "trigger_id": f"{time.time_ns()}.trigger",
            }
        )
        return self.post("/slack/events", body, "application/x-www-form-urlencoded")

    def press(self, message: dict[str, Any], payload: str, user: str = USER, **extra: Any):
        """Press the button with this payload on a message the fake received."""
        block, element = find_button(message, payload)
        return self.interact(button_payload(self.fake, message, block, element, user) | extra)

    def doc(self, key: str = SALES_KEY) -> dict[str, Any] | None:
        return self.services.store.load(key)

    def sessions(self) -> list[dict[str, Any]]:
        """Posted messages that open with a session header, oldest first."""
        return [m for m in self.fake.posts() if header_of(m)]


def find_button(message: dict, payload: str) -> tuple[dict, dict]:
    for block in message["blocks"]:
        for element in block.get("elements", ()) if block["type"] == "actions" else ():
            if element.get("value") == payload:
                return block, element
        accessory = block.get("accessory")
        if accessory and accessory.get("value") == payload:
            return block, accessory
    raise AssertionError(f"no button {payload!r} in {message['blocks']}")


def button_payload(fake, message, block, element, user=USER) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "acme"},
        "user": {"id": user, "username": "ada.l", "team_id": TEAM},
        "api_app_id": APP_ID,
        "token": "unused",
        "trigger_id": f"{time.time_ns()}.trigger",
        "container": {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": message["channel"],
            "is_ephemeral": False,
        },
        "channel": {"id": message["channel"], "name": "directmessage"},
        "message": {**message, "blocks": [with_slack_fields(b) for b in message["blocks"]]},
        "response_url": fake.response_url("press"),
        "actions": [
            {
                "type": "button",
                "action_id": element["action_id"],
                "block_id": block.get("block_id", "b"),
                "text": element["text"],
                "value": element["value"],
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def with_slack_fields(block: dict) -> dict:
    """A block as Slack echoes it in a payload: with read-only fields added."""
    if block["type"] == "image":
        return block | {"image_width": 800, "image_height": 400, "image_bytes": 1234}
    return block


def header_of(message: dict) -> str:
    blocks = message.get("blocks") or []
    if blocks and blocks[0]["type"] == "header":
        return blocks[0]["text"]["text"]
    return ""


def texts(message: dict) -> str:
    """All the visible text of a message's blocks."""
    out = []
    for block in message.get("blocks") or []:
        if "text" in block:
            out.append(block["text"]["text"])
        for element in block.get("elements", ()):
            text = element.get("text", "")
            out.append(text.get("text", "") if isinstance(text, dict) else text)
    return "\n".join(str(t) for t in out)


def buttons(message: dict) -> list[str]:
    return [
        e["value"]
        for b in message.get("blocks") or []
        if b["type"] == "actions"
        for e in b["elements"]
    ]


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def fake(slack_fake: FakeSlackAPI) -> FakeSlackAPI:
    """conftest's `slack_fake` with Ada and Bob."""
    slack_fake.add_user(USER, display_name="Ada", real_name="Ada Lovelace")
    slack_fake.add_user("U0BOB", display_name="", real_name="Bob Builder")
    return slack_fake


def slack_env(fake: FakeSlackAPI, **more: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.base_url,
        "PUBLIC_BASE_URL": BASE,
        **more,
    }


def make_bot(fake: FakeSlackAPI, **env: str) -> Bot:
    config = Config.from_env({"DATA_DIR": fresh_data_dir(), **slack_env(fake, **env)}, dotenv=None)
    services = build_services(config, senders_for(config))  # inline background work
    return Bot(create_app(config, services), services, fake)


@pytest.fixture
def bot(fake, tmp_path) -> Bot:
    return make_bot(fake, CONTENT_DIR=str(copy_without_quizzes(tmp_path / "content")))


def enrolled(bot: Bot) -> dict[str, Any]:
    """Enroll Ada in the Sales Playbook from a DM; returns session 1's message."""
    assert bot.say("start sales training").status_code == 200
    (session,) = bot.sessions()
    return session


# --- enrollment and sessions ---------------------------------------------------------------


def test_dm_enrollment_greets_by_display_name_and_delivers_session_1_as_blocks(bot, fake):
    response = bot.say("Start sales training!")
    assert response.status_code == 200

    (lookup,) = fake.calls_to("users.info")
    assert lookup.params["user"] == USER
    welcome, session = fake.posts()
    assert "Welcome, Ada!" in texts(welcome)
    assert "*Sales Playbook*" in texts(welcome)  # Markdown bold as mrkdwn
    assert header_of(session) == "Session 1: Discovery: find the real need"
    sections = [b for b in session["blocks"] if b["type"] == "section"]
    assert sections and all(len(b["text"]["text"]) <= SECTION_LIMIT for b in sections)
    assert "Session 1" not in sections[0]["text"]["text"]  # the header is not repeated
    assert buttons(session) == ["next", "menu", "ask"]
    for post in fake.calls_to("chat.postMessage"):
        assert post.params["channel"] == USER  # the app's DM with Ada
        assert post.headers["Authorization"] == f"Bearer {TOKEN}"

    doc = bot.doc()
    assert doc["name"] == "Ada"
    assert doc["active_course"] == "sales-basics"
    assert doc["slack"] == {"channel": "D0ADA", "session_ts": session["ts"]}
    assert not doc["outbox"]


def test_display_name_is_looked_up_once(bot, fake):
    enrolled(bot)
    bot.say("menu")
    bot.say("progress")
    assert len(fake.calls_to("users.info")) == 1


def test_opening_the_dm_the_first_time_shows_the_catalog_with_buttons(bot, fake):
    opened = {"type": "app_home_opened", "user": USER, "channel": "D0ADA", "tab": "messages"}
    bot.event(opened)
    (catalog,) = fake.posts()
    assert "Hi, Ada!" in texts(catalog)
    assert "start sales training" in texts(catalog)
    assert buttons(catalog) == ["enroll:partner-onboarding", "enroll:sales-basics"]

    bot.event(opened)  # opening it again says nothing
    assert len(fake.posts()) == 1

    bot.press(catalog, "enroll:sales-basics")
    assert header_of(bot.sessions()[0]) == "Session 1: Discovery: find the real need"


def test_train_command_with_a_phrase_enrolls_and_delivers_in_the_dm(bot, fake):
    response = bot.command("start sales training")
    assert response.status_code == 200
    assert "our direct messages" in response.get_data(as_text=True)  # typed in #general
    (session,) = bot.sessions()
    assert header_of(session) == "Session 1: Discovery: find the real need"
    assert bot.doc()["active_course"] == "sales-basics"


def test_train_without_argument_shows_the_catalog_privately_and_a_button_enrolls(bot, fake):
    response = bot.command("")
    assert response.status_code == 200
    body = response.get_json()
    assert body["response_type"] == "ephemeral"
    assert "start sales training" in texts(body)
    assert not fake.calls_to("chat.postMessage")
    assert bot.doc() is None  # looking changes nothing

    ephemeral = {"ts": "1767600000.000001", "channel": "C0GENERAL", "blocks": body["blocks"]}
    block, element = find_button(ephemeral, "enroll:sales-basics")
    payload = button_payload(fake, ephemeral, block, element)
    payload["container"]["is_ephemeral"] = True
    del payload["message"]  # Slack does not echo ephemeral messages
    bot.interact(payload)

    assert header_of(bot.sessions()[0]) == "Session 1: Discovery: find the real need"
    (replaced,) = fake.calls_to("response_url")
    assert replaced.params["replace_original"] is True
    assert "Sales Playbook" in replaced.params["text"]


def test_train_subcommands(bot, fake):
    enrolled(bot)
    menu = bot.command("").get_json()
    assert "Progress: 0/4 sessions completed" in texts(menu)
    progress = bot.command("progress").get_json()
    assert "Your progress" in texts(progress)
    courses = bot.command("courses").get_json()
    assert "Partner Onboarding" in texts(courses) and "Sales Playbook" in texts(courses)
    assert "next" in texts(bot.command("help").get_json())
    assert len(fake.posts()) == 2  # none of these posted anything

    before = len(fake.posts())
    assert bot.command("restart").status_code == 200
    (confirm,) = fake.posts()[before:]
    assert "Restart *Sales Playbook*" in texts(confirm)
    bot.press(confirm, "yes")
    assert header_of(fake.posts()[-1]) == "Session 1: Discovery: find the real need"


def test_train_in_the_dm_itself_needs_no_pointer(bot, fake):
    enrolled(bot)
    response = bot.command("next", channel="D0ADA")
    assert response.get_data(as_text=True) == ""
    assert header_of(fake.posts()[-1]) == "Session 2: Handling objections"


def test_typed_commands_work_as_on_whatsapp(bot, fake):
    enrolled(bot)
    bot.say("next")
    bot.say("section 4")
    bot.say("back")
    assert [header_of(s) for s in bot.sessions()] == [
        "Session 1: Discovery: find the real need",
        "Session 2: Handling objections",
        "Session 4: Closing the deal",
        "Session 3: Running a great demo",
    ]
    bot.say("menu")
    assert "Current: Session 3" in texts(fake.posts()[-1])


def test_session_images_are_image_blocks_served_from_public_base_url(bot, fake):
    enrolled(bot)
    bot.say("section 3")
    session = bot.sessions()[-1]
    (image,) = [b for b in session["blocks"] if b["type"] == "image"]
    assert image["image_url"] == f"{BASE}/media/sales-basics/media/demo-flow.png"
    assert image["alt_text"].startswith("Five-step demo flow")


def test_images_become_links_when_slack_cannot_fetch_them(fake):
    local = make_bot(fake, PUBLIC_BASE_URL="http://127.0.0.1:8000")
    enrolled(local)
    local.say("section 3")
    session = local.sessions()[-1]
    assert not [b for b in session["blocks"] if b["type"] == "image"]
    assert "http://127.0.0.1:8000/media/sales-basics/media/demo-flow.png" in json.dumps(session)

    fake.fail_next("chat.postMessage", "invalid_blocks")  # public URL, image not downloadable
    bot = make_bot(fake)
    reply = session_reply(local.services.library.current().get("sales-basics"), 3)
    sender = bot.services.outbox.senders["slack"]
    assert sender.send({"_id": SALES_KEY}, reply)
    retried = fake.calls_to("chat.postMessage")[-1].params
    assert not [b for b in retried["blocks"] if b["type"] == "image"]
    assert f"{BASE}/media/sales-basics/media/demo-flow.png" in json.dumps(retried["blocks"])


def test_a_pdf_goes_to_slack_as_a_link_never_as_an_image_block(fake, tmp_path):
    """Slack shows PNG, JPEG and GIF in image blocks and refuses a whole message with any
    other file in one (the fake now does too). Failed before issue 21: a session's PDF
    became an image block, Slack refused the post with `invalid_blocks` and it was sent
    again without images; now it is a 📄 link in the first and only post."""
    content = copy_without_quizzes(tmp_path / "content")
    (content / "sales-basics" / "media" / "price-list.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    session = sorted((content / "sales-basics").glob("03-*.md"))[0]
    session.write_text(
        session.read_text(encoding="utf-8") + "\n![Price list](media/price-list.pdf)\n",
        encoding="utf-8",
    )
    bot = make_bot(fake, CONTENT_DIR=str(content))
    enrolled(bot)
    bot.say("section 3")
    posts = fake.calls_to("chat.postMessage")
    assert all(c.response["ok"] for c in posts), [c.response for c in posts]
    blocks = bot.sessions()[-1]["blocks"]
    images = [b["image_url"] for b in blocks if b["type"] == "image"]
    assert images == [f"{BASE}/media/sales-basics/media/demo-flow.png"]
    pdf = f"{BASE}/media/sales-basics/media/price-list.pdf"
    assert f"📄 <{pdf}|Price list>" in json.dumps(blocks, ensure_ascii=False)


# --- buttons -------------------------------------------------------------------------------


def test_next_via_block_actions_advances_and_retires_the_pressed_buttons(bot, fake):
    session = enrolled(bot)
    response = bot.press(session, "next")
    assert response.status_code == 200

    assert header_of(bot.sessions()[-1]) == "Session 2: Handling objections"
    (update,) = fake.calls_to("chat.update")
    assert update.params["channel"] == "D0ADA" and update.params["ts"] == session["ts"]
    assert not [b for b in update.params["blocks"] if b["type"] == "actions"]
    assert "✔ Next ➡️" in texts(update.params)
    assert header_of(update.params) == header_of(session)  # the session itself stays
    progress = bot.doc()["progress"]["sales-basics"]
    assert progress["completed"] == ["discovery"] and progress["current"] == "objections"


def test_button_pressed_twice_advances_once(bot, fake):
    session = enrolled(bot)
    bot.press(session, "next")
    bot.press(session, "next")  # a second click, or another button, on the same message
    bot.press(session, "menu")
    assert [header_of(s) for s in bot.sessions()] == [
        "Session 1: Discovery: find the real need",
        "Session 2: Handling objections",
    ]
    assert len(fake.calls_to("chat.update")) == 1
    assert bot.doc()["progress"]["sales-basics"]["current"] == "objections"


def test_button_pressed_twice_at_the_same_moment_advances_once(bot, fake):
    session = enrolled(bot)
    start = threading.Barrier(4)
    statuses = []

    def press() -> None:
        start.wait()
        statuses.append(bot.press(session, "next").status_code)

    threads = [threading.Thread(target=press) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 4
    assert len(bot.sessions()) == 2
    assert bot.doc()["progress"]["sales-basics"]["current"] == "objections"


def test_block_actions_for_a_session_that_no_longer_exists(fake, tmp_path):
    content = copy_without_quizzes(tmp_path / "content")
    bot = make_bot(fake, CONTENT_DIR=str(content))
    session = enrolled(bot)
    bot.press(session, "next")
    on_two = bot.sessions()[-1]

    (content / "sales-basics" / "02-objections.md").unlink()  # an author removes session 2
    bot.services.library.reload()
    bot.press(on_two, "next")  # a press on the message of the removed session
    moved, delivered = fake.posts()[-2:]
    assert "has been removed from the course" in texts(moved)
    # moved to the first unfinished session, shown and not completed unseen
    assert header_of(delivered).startswith("Session 2: ")
    assert bot.doc()["progress"]["sales-basics"]["current"] == "demo"
    assert bot.doc()["progress"]["sales-basics"]["completed"] == ["discovery"]

    shutil.rmtree(content / "sales-basics")  # and then the whole course
    bot.services.library.reload()
    bot.press(delivered, "next")
    assert "no longer available" in texts(fake.posts()[-1])
    assert bot.doc()["active_course"] is None
    assert bot.doc()["progress"]["sales-basics"]["completed"]  # progress is kept


def test_pressing_a_button_on_a_deleted_message_still_counts(bot, fake):
    session = enrolled(bot)
    fake.messages.clear()  # the learner deleted the conversation
    assert bot.press(session, "next").status_code == 200
    assert fake.calls_to("chat.update")[0].response["error"] == "message_not_found"
    assert header_of(bot.sessions()[-1]) == "Session 2: Handling objections"


def test_unknown_button_payload_is_treated_as_text(bot, fake):
    session = enrolled(bot)
    message = {**session, "blocks": [*session["blocks"][:-1]]}
    message["blocks"].append(
        {
            "type": "actions",
            "block_id": f"{ACTIONS_BLOCK}_0",
            "elements": [
                {
                    "type": "button",
                    "action_id": "trainbot:0",
                    "text": {"type": "plain_text", "text": "Old"},
                    "value": "obsolete-command",
                }
            ],
        }
    )
    assert bot.press(message, "obsolete-command").status_code == 200
    assert bot.doc()["progress"]["sales-basics"]["current"] == "discovery"


# --- questions -----------------------------------------------------------------------------


def test_questions_are_answered_in_the_thread_of_the_session_message(bot, fake):
    session = enrolled(bot)
    bot.say("How many questions should I ask in discovery?")
    answer = fake.calls_to("chat.postMessage")[-1].params
    assert answer["thread_ts"] == session["ts"]
    assert answer["channel"] == "D0ADA"
    assert "Session 1" in answer["text"]

    bot.press(session, "next")
    on_two = bot.sessions()[-1]
    bot.say("What if the customer says it is too expensive?")
    assert fake.calls_to("chat.postMessage")[-1].params["thread_ts"] == on_two["ts"]


def test_ask_a_question_button_opens_a_modal_whose_answer_lands_in_the_thread(bot, fake):
    session = enrolled(bot)
    block, element = find_button(session, "ask")
    assert element["action_id"] == ASK_ACTION
    bot.interact(button_payload(fake, session, block, element))
    (opened,) = fake.calls_to("views.open")
    view = opened.params["view"]
    assert view["callback_id"] == "trainbot_ask"
    assert not fake.calls_to("chat.update")  # asking does not retire the buttons

    submission = {
        "type": "view_submission",
        "team": {"id": TEAM, "domain": "acme"},
        "user": {"id": USER, "username": "ada.l", "team_id": TEAM},
        "api_app_id": APP_ID,
        "view": view
        | {
            "id": "V0MODAL1",
            "hash": "1.abc",
            "state": {"values": {"question": {"text": {"value": "What is a discovery call?"}}}},
        },
    }
    response = bot.interact(submission)
    assert response.status_code == 200 and response.get_data(as_text=True) == ""
    answer = fake.calls_to("chat.postMessage")[-1].params
    assert answer["thread_ts"] == session["ts"]

    bot.interact(submission)  # Slack re-sending the same submission
    assert fake.calls_to("chat.postMessage")[-1].params is answer


def test_a_40000_character_dm_is_cut_and_answered(bot, fake):
    session = enrolled(bot)
    posts = len(fake.posts())
    response = bot.say("discovery " * 4000)  # 40,000 characters, Slack's own maximum
    assert response.status_code == 200
    assert len(fake.posts()) == posts + 1
    answer = fake.calls_to("chat.postMessage")[-1].params
    assert answer["thread_ts"] == session["ts"]
    event = bot.services.store.events.collection.find_one({"learner": SALES_KEY}, sort=[("at", -1)])
    assert len(event["text"]) <= 1000


def test_slack_markup_in_what_learners_type_is_decoded():
    assert plain_text("is 5 &lt; 7 &amp;&amp; 9 &gt; 3?") == "is 5 < 7 && 9 > 3?"
    assert plain_text("see <https://x.io/a|the doc>") == "see the doc (https://x.io/a)"
    assert plain_text("<https://x.io>") == "https://x.io"


# --- retries, signatures, bad input --------------------------------------------------------


def test_a_retried_event_produces_nothing_new(bot, fake):
    event = dm("start sales training")
    bot.event(event, event_id="Ev0RETRY1")
    before = [c.method for c in fake.activity()]
    doc = bot.doc()

    response = bot.event(
        event,
        event_id="Ev0RETRY1",
        headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    assert response.status_code == 200
    assert [c.method for c in fake.activity()] == before
    assert bot.doc()["version"] == doc["version"]


def test_a_retry_with_another_reason_is_still_the_same_event(bot, fake):
    session = enrolled(bot)
    event = dm("next")
    bot.event(event, event_id="Ev0NEXT")
    count = len(fake.posts())
    for number, reason in ((1, "http_timeout"), (2, "http_error"), (3, "too_many_requests")):
        headers = {"X-Slack-Retry-Num": str(number), "X-Slack-Retry-Reason": reason}
        assert bot.event(event, event_id="Ev0NEXT", headers=headers).status_code == 200
    assert len(fake.posts()) == count
    assert bot.doc()["progress"]["sales-basics"]["completed"] == ["discovery"]
    assert header_of(bot.sessions()[-1]) == "Session 2: Handling objections"
    assert session["ts"] != bot.sessions()[-1]["ts"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=00ff"},
        "wrong-secret",
        "stale",
    ],
    ids=["unsigned", "bad-signature", "wrong-secret", "stale"],
)
def test_unsigned_or_stale_requests_are_refused_and_change_nothing(bot, fake, headers):
    body = json.dumps(envelope(dm("start sales training")))
    if headers == "wrong-secret":
        headers = signed(body, secret="not-the-secret")
    elif headers == "stale":
        headers = signed(body, timestamp=int(time.time()) - 6 * 60)
    response = bot.app.test_client().post(
        "/slack/events", data=body, headers={"Content-Type": "application/json", **headers}
    )
    assert response.status_code in (401, 403)
    assert bot.services.store.learners.collection.count_documents({}) == 0
    assert not fake.activity()


def test_an_event_without_user_is_ignored(bot, fake):
    assert bot.event(dm("start sales training", user=None)).status_code == 200
    assert bot.services.store.learners.collection.count_documents({}) == 0
    assert not fake.activity()


def test_unknown_event_types_are_acknowledged_and_ignored(bot, fake):
    for event in (
        {"type": "reaction_added", "user": USER, "reaction": "tada", "item": {}},
        {"type": "totally_new_event_2031", "user": USER},
        {"type": "app_uninstalled"},
    ):
        assert bot.event(event).status_code == 200
    assert bot.services.store.learners.collection.count_documents({}) == 0
    assert not fake.activity()


def test_bot_messages_edits_joins_and_channel_messages_are_ignored(bot, fake):
    for event in (
        dm("start sales training", user="U0BOT"),  # our own message
        dm("start sales training", bot_id="B0OTHER", subtype="bot_message"),
        dm("start sales training", subtype="message_changed"),
        dm("start sales training", subtype="channel_join"),
        dm("start sales training", channel="C0GENERAL", channel_type="channel"),
    ):
        assert bot.event(event).status_code == 200
    assert bot.services.store.learners.collection.count_documents({}) == 0
    assert not fake.calls_to("chat.postMessage")


def test_url_verification_is_answered(bot):
    body = json.dumps({"token": "x", "challenge": "c-123", "type": "url_verification"})
    response = bot.post("/slack/events", body, "application/json")
    assert response.status_code == 200
    assert "c-123" in response.get_data(as_text=True)


def test_a_user_slack_will_not_describe_is_greeted_without_a_name(bot, fake):
    bot.say("start sales training", user="U0GHOST")
    welcome = fake.posts()[0]
    assert "Welcome, there!" in texts(welcome)
    assert fake.calls_to("users.info")[0].response["error"] == "user_not_found"


def test_real_name_is_used_when_there_is_no_display_name(bot, fake):
    bot.say("start sales training", user="U0BOB")
    assert "Welcome, Bob Builder!" in texts(fake.posts()[0])


# --- delivery: rate limits and failures ----------------------------------------------------


def test_ratelimited_send_waits_retry_after_then_delivers(bot, fake):
    fake.ratelimit_next("chat.postMessage", retry_after=1)
    bot.say("start sales training")
    first, second, *_ = fake.calls_to("chat.postMessage")
    assert first.status == 429 and second.status == 200
    assert second.at - first.at >= 1.0  # slack_sdk honoured Retry-After
    assert "Welcome" in second.params["text"]
    assert len(bot.sessions()) == 1
    statuses = [
        d["status"] for d in bot.services.store.deliveries.collection.find({"learner": SALES_KEY})
    ]
    assert statuses == ["sent", "sent"]


def test_a_long_retry_after_goes_back_to_the_outbox(bot, fake):
    fake.ratelimit_next("chat.postMessage", retry_after=120)
    bot.say("start sales training")
    (call,) = fake.calls_to("chat.postMessage")  # not waited for inline
    assert call.status == 429
    (waiting, _) = bot.doc()["outbox"]
    assert waiting["attempts"] == 1 and "ratelimited" in waiting["error"]


def test_permanent_errors_are_not_retried(bot, fake):
    fake.fail_next("chat.postMessage", "channel_not_found")
    bot.say("start sales training")
    # Issue 15: the head failed for good, so the queue is parked (nothing skipped, no retry)
    assert len(fake.calls_to("chat.postMessage")) == 1
    assert bot.services.store.transcript(SALES_KEY) == []
    assert "channel_not_found" in bot.doc()["parked"]["error"]


def test_sender_errors_say_whether_to_retry(fake):
    config = Config.from_env(slack_env(fake), dotenv=None)
    sender = SlackSender(config)
    fake.fail_next("chat.postMessage", "invalid_auth")
    with pytest.raises(DeliveryError) as permanent:
        sender.send({"_id": SALES_KEY}, Reply("hello"))
    assert not permanent.value.retryable
    fake.fail_next("chat.postMessage", "internal_error", status=503, times=3)
    with pytest.raises(DeliveryError) as temporary:
        sender.send({"_id": SALES_KEY}, Reply("hello"))
    assert temporary.value.retryable
    dead = config.replace(slack_api_url="http://127.0.0.1:9/api/")
    with pytest.raises(DeliveryError) as offline:
        SlackSender(dead).send({"_id": SALES_KEY}, Reply("hello"))
    assert offline.value.retryable


# --- App Home ------------------------------------------------------------------------------


def test_app_home_shows_courses_progress_and_resume(bot, fake):
    session = enrolled(bot)
    bot.press(session, "next")
    bot.event({"type": "app_home_opened", "user": USER, "channel": "D0ADA", "tab": "home"})
    (published,) = fake.calls_to("views.publish")
    assert published.params["user_id"] == USER
    view = published.params["view"]
    shown = texts(view)
    assert "Hi, Ada!" in shown
    assert "*Sales Playbook*\n▰▰▰▱▱▱▱▱▱▱ 25% · 1/4 sessions" in shown
    assert "📍 Now on Session 2: Handling objections" in shown
    assert "*Partner Onboarding*\n▱▱▱▱▱▱▱▱▱▱ 0% · 0/7 sessions\nNot started" in shown

    home = {"blocks": view["blocks"], "ts": "0", "channel": ""}
    block, element = find_button(home, "resume")
    payload = button_payload(fake, home, block, element)
    payload["container"] = {"type": "view", "view_id": f"V{USER}"}
    payload["view"] = fake.views[USER]
    del payload["message"]
    bot.interact(payload)
    assert header_of(bot.sessions()[-1]) == "Session 2: Handling objections"
    assert len(fake.calls_to("views.publish")) == 2  # the Home tab is refreshed
    bot.interact(payload)  # the same Home render pressed again: a duplicate
    assert len(bot.sessions()) == 3


def test_home_view_for_a_new_learner_and_many_courses():
    courses = tuple(make_course(3, f"course{i:02d}", enroll=(f"go {i}",)) for i in range(60))
    view = home_view(from_doc("slack:T:U", None), Catalog(courses))
    assert len(view["blocks"]) <= 100
    assert "more" in texts(view)
    assert progress_bar(0, 0) == "▱▱▱▱▱▱▱▱▱▱ 0%"
    assert progress_bar(7, 7) == "▰▰▰▰▰▰▰▰▰▰ 100%"


# --- rendering limits ----------------------------------------------------------------------


def test_a_long_session_is_split_within_slack_limits():
    paragraphs = [f"Paragraph {i}: " + "word " * 500 for i in range(80)]  # ~200 KB
    course = make_course(2)
    long_session = replace(course.sessions[0], body="\n\n".join(paragraphs))
    course = replace(course, sessions=(long_session, course.sessions[1]))
    reply = session_reply(course, 1)
    reply = replace(reply, media=(Media("media/a.png", "A chart"),))
    messages = to_messages(reply, BASE)
    assert len(messages) > 1
    for message in messages:
        assert 1 <= len(message["blocks"]) <= BLOCKS_PER_MESSAGE
        assert all(
            len(b["text"]["text"]) <= SECTION_LIMIT for b in message["blocks"] if "text" in b
        )
        assert message["text"]
    kinds = [[b["type"] for b in m["blocks"]] for m in messages]
    assert kinds[0][0] == "header" and all("header" not in k for k in kinds[1:])
    assert kinds[-1][-1] == "actions" and all("actions" not in k for k in kinds[:-1])
    assert kinds[-1][-2] == "image"
    sent = "\n\n".join(
        b["text"]["text"] for m in messages for b in m["blocks"] if b["type"] == "section"
    )
    for i in (0, 41, 79):
        assert f"Paragraph {i}:" in sent
    assert sent.count("word") == 80 * 500


def test_split_handles_lines_and_words_longer_than_a_section():
    text = "a" * 7000 + "\n" + ("word " * 1000) + "\n\nend &amp; more"
    pieces = split_mrkdwn(text, 3000)
    assert all(0 < len(p) <= 3000 for p in pieces)
    assert "".join(pieces).count("a") >= 7000
    assert pieces[-1].endswith("end &amp; more")
    assert all(not p.endswith("&amp") for p in pieces)


def test_many_buttons_and_long_labels_stay_within_limits():
    reply = Reply("Pick one", tuple(Button("x" * 100, f"enroll:{i}") for i in range(30)))
    (message,) = to_messages(reply, BASE)
    actions = [b for b in message["blocks"] if b["type"] == "actions"]
    assert [len(a["elements"]) for a in actions] == [25, 5]
    assert all(len(e["text"]["text"]) <= 75 for a in actions for e in a["elements"])


def test_slack_control_characters_in_courses_are_escaped():
    assert to_slack("Save <5% & tell <!channel>") == "Save &lt;5% &amp; tell &lt;!channel&gt;"
    assert to_slack("**bold** [site](https://x.io)") == "*bold* <https://x.io|site>"


# --- managers ------------------------------------------------------------------------------


def test_notify_manager_sends_a_dm(bot, fake):
    sender = bot.services.outbox.senders["slack"]
    sent = notify_manager("U0BOSS", "**Ada** finished *Sales Playbook*", sender=sender)
    (call,) = fake.calls_to("chat.postMessage")
    assert call.params["channel"] == "U0BOSS"
    assert "*Ada* finished _Sales Playbook_" in texts(call.params)
    assert sent == f"D0BOSS:{fake.posts()[0]['ts']}"
    assert notify_manager(learner_key(TEAM, "U0BOSS"), "hi", sender=sender)
    with pytest.raises(DeliveryError):
        notify_manager("not a user", "hi", sender=sender)


def test_notify_manager_from_configuration(fake):
    config = Config.from_env(slack_env(fake), dotenv=None)
    assert notify_manager("U0BOSS", "Weekly digest", config=config).startswith("D0BOSS:")
    with pytest.raises(DeliveryError):
        notify_manager("U0BOSS", "hi", config=Config.from_env({}, dotenv=None))


# --- wiring --------------------------------------------------------------------------------


def test_slack_is_off_without_credentials(config):
    app = create_app(config, build_services(config, senders_for(config)))
    assert "slack" not in senders_for(config)
    response = app.test_client().post("/slack/events", data="{}")
    assert response.status_code == 404


def test_keys():
    assert learner_key("T1", "U2") == "slack:T1:U2"
    assert address("slack:T1:U2") == ("T1", "U2")


def test_slack_endpoints_all_reach_bolt(bot):
    body = json.dumps({"token": "x", "challenge": "c-9", "type": "url_verification"})
    for path in ("/slack/events", "/slack/interactions", "/slack/commands"):
        assert "c-9" in bot.post(path, body, "application/json").get_data(as_text=True)


def test_a_shared_file_without_text_gets_the_media_answer(bot, fake):
    files = [{"id": "F0PIC", "name": "photo.jpg"}]
    bot.event(dm("", subtype="file_share", files=files))
    assert "I can read text only" in texts(fake.posts()[-1])


def test_the_manifest_points_slack_at_what_the_app_serves(bot):
    manifest = yaml.safe_load((ROOT / "docs" / "slack-manifest.yaml").read_text())
    settings, features = manifest["settings"], manifest["features"]
    urls = [
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        *(c["url"] for c in features["slash_commands"]),
    ]
    routes = {r.rule for r in bot.app.url_map.iter_rules()}
    assert all(url.removeprefix("https://trainbot.example.com") in routes for url in urls)
    assert [c["command"] for c in features["slash_commands"]] == ["/train"]
    assert set(settings["event_subscriptions"]["bot_events"]) == {"app_home_opened", "message.im"}
    assert features["app_home"]["home_tab_enabled"] is True
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "chat:write",
        "commands",
        "im:history",
        "users:read",
    }


# --- the real thing: threaded web app, and `trainbot serve` --------------------------------


def post_signed(
    url: str, body: str, content_type: str = "application/json", headers: dict | None = None
) -> int:
    import urllib.request

    headers = {"Content-Type": content_type, **signed(body), **(headers or {})}
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status


def wait_for_session_header(fake: FakeSlackAPI, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in fake.posts():
            if header_of(message):
                return header_of(message)
        time.sleep(0.01)
    raise AssertionError(f"no session header within {timeout}s: {[c.method for c in fake.calls]}")


def test_app_from_environment_in_a_thread_delivers_within_one_second(fake, monkeypatch):
    for name, value in slack_env(fake).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MONGODB_URI", raising=False)
    monkeypatch.chdir(ROOT / "tests")  # no .env here
    app = create_app()
    with served(app) as base:
        url = base + "/slack/events"
        body = json.dumps(envelope(dm("start sales training")))
        started = time.monotonic()
        assert post_signed(url, body) == 200
        assert wait_for_session_header(fake, 1.0) == "Session 1: Discovery: find the real need"
        assert time.monotonic() - started < 1.0


def test_the_ack_does_not_wait_for_slow_work(fake, monkeypatch):
    for name, value in slack_env(fake).items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(ROOT / "tests")
    fake.delays["users.info"] = 3.2  # longer than Slack's 3-second ack deadline
    app = create_app()
    with served(app) as base:
        url = base + "/slack/events"
        started = time.monotonic()
        assert post_signed(url, json.dumps(envelope(dm("start sales training")))) == 200
        assert time.monotonic() - started < 1.0
        assert wait_for_session_header(fake, 6.0)


def test_a_retry_arriving_while_the_first_delivery_is_still_working(fake, monkeypatch):
    for name, value in slack_env(fake).items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(ROOT / "tests")
    fake.delays["users.info"] = 0.5  # the first attempt is still busy when the retry comes
    app = create_app()
    with served(app) as base:
        url = base + "/slack/events"
        body = json.dumps(envelope(dm("start sales training"), event_id="Ev0SLOW"))
        assert post_signed(url, body) == 200
        assert post_signed(url, body, headers={"X-Slack-Retry-Num": "1"}) == 200
        wait_for_session_header(fake, 3.0)
        time.sleep(0.8)  # let the retry's work finish too
        assert len(fake.calls_to("chat.postMessage")) == 2  # one welcome, one session
        doc = app.extensions["trainbot"].store.load(SALES_KEY)
        assert doc["processed"] == ["slack-event:Ev0SLOW"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_trainbot_serve_delivers_a_session_within_one_second(fake, tmp_path):
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "TWILIO_", "MONGODB_", "OPENAI_"))
    }
    env.update(slack_env(fake))
    server = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,  # no .env
        env=env | {"PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        import urllib.request

        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "trainbot serve did not start"
                time.sleep(0.1)
        body = json.dumps(envelope(dm("start sales training")))
        started = time.monotonic()
        assert post_signed(f"http://127.0.0.1:{port}/slack/events", body) == 200
        assert wait_for_session_header(fake, 1.0) == "Session 1: Discovery: find the real need"
        assert time.monotonic() - started < 1.0
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
