"""Manager digests in Slack: a DM with a Nudge button per overdue learner, and the signed
`block_actions` press that nudges (only the learner's manager, once per cooldown).

The real Bolt app and slack_sdk client run against the local fake Slack Web API.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.channels.slack_notify import (
    NUDGE_ACTION,
    SlackNotifier,
    is_manager_of,
    nudge_blocks,
    slack_user,
)
from bot.engagement import DIGEST_JOB
from bot.outbox import DeliveryError
from tests.fakes.slack_api import FakeSlackAPI
from tests.test_admin import login
from tests.test_slack import (
    TEAM,
    Bot,
    button_payload,
    find_button,
    make_bot,
    signed,
    texts,
)
from tests.test_slack import fake as fake

MANAGER = "U0MGR"
ADMIN = "a" * 32
ADA = f"slack:{TEAM}:U0ADA"
BOB = f"slack:{TEAM}:U0BOB"


def add_learner(bot: Bot, key: str, name: str, manager: str, quiet_days: int = 10) -> None:
    """A learner who started the Sales Playbook and has not written for `quiet_days`."""
    then = datetime.now(UTC) - timedelta(days=quiet_days)
    bot.services.store.learners.collection.insert_one(
        {
            "_id": key,
            "name": name,
            "channel": "slack",
            "active_course": "sales-basics",
            "profile": {"manager": manager},
            "progress": {"sales-basics": {"current": "discovery", "started_at": then}},
            "last_inbound_at": then,
            "version": 1,
            "outbox": [],
            "processed": [],
        }
    )


@pytest.fixture
def bot(fake: FakeSlackAPI) -> Bot:
    fake.add_user(MANAGER, display_name="Maya")
    bot = make_bot(fake)
    add_learner(bot, ADA, "Ada", MANAGER)
    add_learner(bot, BOB, "Bob", "U0OTHER")
    return bot


def run_digest(bot: Bot) -> None:
    engagement = bot.services.engagement
    assert engagement is not None
    engagement.jobs.schedule(DIGEST_JOB, "digest", datetime.now(UTC) - timedelta(seconds=1), {})
    engagement.run_due()


def digest_to(fake: FakeSlackAPI, user: str) -> dict[str, Any]:
    (message,) = [
        c.response["message"] | {"channel": c.response["channel"]}
        for c in fake.calls_to("chat.postMessage")
        if c.params["channel"] == user
    ]
    return message


def press(bot: Bot, message: dict, key: str, user: str = MANAGER, **headers: str):
    block, element = find_button(message, key)
    body = urlencode(
        {"payload": json.dumps(button_payload(bot.fake, message, block, element, user))}
    )
    all_headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        **signed(body),
        **headers,
    }
    return bot.app.test_client().post("/slack/events", data=body, headers=all_headers)


def nudge_job(bot: Bot, key: str) -> dict | None:
    engagement = bot.services.engagement
    assert engagement is not None
    return engagement.jobs.get(f"nudge:{key}")


def ephemerals(fake: FakeSlackAPI) -> list[str]:
    return [c.params["text"] for c in fake.calls_to("chat.postEphemeral")]


# --- the digest ------------------------------------------------------------------------


def test_the_digest_is_a_dm_with_a_nudge_button_per_overdue_learner(bot: Bot, fake):
    run_digest(bot)
    message = digest_to(fake, MANAGER)
    assert message["channel"] == "D0MGR"
    assert "Training digest" in texts(message) and "Ada" in texts(message)
    assert "Bob" not in texts(message)  # Bob has another manager
    block, element = find_button(message, ADA)
    assert element["action_id"].startswith(NUDGE_ACTION) and element["text"]["text"] == "Nudge"
    assert "*Ada* is overdue" in block["text"]["text"]
    digest_to(fake, "U0OTHER")  # Bob's manager got their own


def test_addresses_the_slack_notifier_handles(bot: Bot):
    notifier = SlackNotifier(bot.services.outbox)
    assert notifier.notify("boss@example.com", "s", "t") is False  # e-mail's job
    assert notifier.notify("slack:broken", "s", "t") is False
    assert slack_user(f"slack:{TEAM}:U0MGR") == (TEAM, "U0MGR")
    assert slack_user("U0MGR") == ("", "U0MGR")
    assert slack_user("slack:broken") is None and slack_user("") is None
    learner = {"profile": {"manager": f"slack:{TEAM}:{MANAGER}"}}
    assert is_manager_of(learner, TEAM, MANAGER)
    assert not is_manager_of(learner, "T0ELSE", MANAGER)
    assert not is_manager_of(None, TEAM, MANAGER)


def test_one_button_per_learner_and_the_block_limit_is_kept():
    nudges = [(f"L{n}", f"slack:T:U{n}") for n in range(60)] + [("L0", "slack:T:U0")]
    blocks = nudge_blocks(nudges)
    assert len(blocks) <= 39 and "22 more" in blocks[-1]["elements"][0]["text"]
    ids = [b["accessory"]["action_id"] for b in blocks if "accessory" in b]
    assert len(ids) == len(set(ids)) == 38


# --- pressing Nudge ----------------------------------------------------------------------


def test_the_manager_nudges_once_and_the_digest_says_who_nudged(bot: Bot, fake):
    run_digest(bot)
    message = digest_to(fake, MANAGER)
    assert press(bot, message, ADA).status_code == 200
    job = nudge_job(bot, ADA)
    assert job is not None and job["kind"] == "nudge" and job["status"] == "pending"
    (update,) = fake.calls_to("chat.update")
    updated = json.dumps(update.params["blocks"])
    assert f"nudged by <@{MANAGER}>" in updated and ADA not in updated  # the button is gone
    asked = job["data"]["asked_at"]

    assert press(bot, message, ADA).status_code == 200  # the stale message, pressed again
    assert nudge_job(bot, ADA)["data"]["asked_at"] == asked
    assert ephemerals(fake) == ["Ada was already nudged recently."]


def test_someone_who_is_not_the_learners_manager_cannot_nudge(bot: Bot, fake, caplog):
    run_digest(bot)
    message = digest_to(fake, MANAGER)
    assert press(bot, message, ADA, user="U0BOB").status_code == 200
    assert nudge_job(bot, ADA) is None
    assert ephemerals(fake) == ["You can only nudge people whose manager you are."]
    assert "is not their manager; refused" in caplog.text
    # a press whose value names another manager's learner is refused the same way
    forged = json.loads(json.dumps(message).replace(ADA, BOB))
    assert press(bot, forged, BOB).status_code == 200
    assert nudge_job(bot, BOB) is None and not fake.calls_to("chat.update")


def test_an_unsigned_or_stale_press_is_refused_and_nudges_nobody(bot: Bot, fake):
    run_digest(bot)
    message = digest_to(fake, MANAGER)
    block, element = find_button(message, ADA)
    body = urlencode(
        {"payload": json.dumps(button_payload(fake, message, block, element, MANAGER))}
    )
    client = bot.app.test_client()
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert client.post("/slack/events", data=body, headers=form).status_code == 401
    stale = signed(body, timestamp=int(datetime.now(UTC).timestamp()) - 600)
    assert client.post("/slack/events", data=body, headers=form | stale).status_code == 401
    assert nudge_job(bot, ADA) is None


def test_a_malformed_press_is_ignored(bot: Bot, fake, caplog):
    caplog.set_level(logging.INFO, "bot.channels.slack_notify")
    run_digest(bot)
    message = digest_to(fake, MANAGER)
    block, element = find_button(message, ADA)
    payload = button_payload(fake, message, block, element, MANAGER)
    payload["actions"][0]["value"] = ""
    body = urlencode({"payload": json.dumps(payload)})
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signed(body)}
    assert (
        bot.app.test_client().post("/slack/events", data=body, headers=headers).status_code == 200
    )
    assert nudge_job(bot, ADA) is None and "Nudge press without" in caplog.text


def test_concurrent_presses_make_one_nudge(bot: Bot, fake):
    run_digest(bot)
    message = digest_to(fake, MANAGER)
    codes: list[int] = []
    threads = [
        threading.Thread(target=lambda: codes.append(press(bot, message, ADA).status_code))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert codes == [200] * 4
    jobs = bot.services.engagement.jobs.collection.count_documents({"kind": "nudge"})
    assert jobs == 1


def test_a_nudge_a_day_later_is_allowed_again(bot: Bot, fake):
    run_digest(bot)
    message = digest_to(fake, MANAGER)
    press(bot, message, ADA)
    engagement = bot.services.engagement
    later = datetime.now(UTC) + timedelta(hours=25)
    engagement.clock = lambda: later
    assert engagement.nudge_once(ADA) is True
    asked = nudge_job(bot, ADA)["data"]["asked_at"]
    assert abs(asked - later) < timedelta(milliseconds=1)  # BSON keeps milliseconds


def test_a_course_channel_digest_has_nudges_only_managers_may_press(fake):
    fake.add_user(MANAGER, display_name="Maya")
    fake.invite("C0SALES")  # Slack refuses channel posts from an app nobody invited
    bot = make_bot(fake, DIGEST_CHANNELS="sales-basics=C0SALES")
    add_learner(bot, ADA, "Ada", MANAGER)
    run_digest(bot)
    message = digest_to(fake, "C0SALES")
    assert press(bot, message, ADA, user="U0SOMEONE").status_code == 200
    assert nudge_job(bot, ADA) is None
    assert press(bot, message, ADA).status_code == 200  # Ada's manager reads the channel
    assert nudge_job(bot, ADA) is not None


def test_a_digest_channel_the_app_is_not_in_is_shown_to_admins(fake, caplog):
    """Slack answers `not_in_channel` to a post in a channel the app was not invited to
    (with only `chat:write`). Failed before issue 21: the digest was lost with one warning
    naming no fix, and nothing reached the admin. Now the log says what to do, the admin
    overview shows it until a digest gets through, and inviting the app fixes it."""
    fake.add_user(MANAGER, display_name="Maya")
    bot = make_bot(fake, DIGEST_CHANNELS="sales-basics=C0SALES", ADMIN_TOKEN=ADMIN)
    add_learner(bot, ADA, "Ada", MANAGER)
    with caplog.at_level(logging.ERROR, logger="bot.channels.slack_notify"):
        run_digest(bot)
    (refused,) = [c for c in fake.calls_to("chat.postMessage") if c.params["channel"] == "C0SALES"]
    assert refused.response["error"] == "not_in_channel"
    assert "C0SALES (not_in_channel)" in caplog.text and "chat:write.public" in caplog.text
    client = bot.app.test_client()
    login(client, ADMIN)
    page = client.get("/admin").get_data(as_text=True)
    assert "Digests cannot be posted to Slack channel C0SALES (not_in_channel)" in page
    assert "/invite @Trainbot" in page and "chat:write.public" in page

    fake.invite("C0SALES")
    run_digest(bot)
    posts = [c for c in fake.calls_to("chat.postMessage") if c.params["channel"] == "C0SALES"]
    assert [c.response["ok"] for c in posts] == [False, True]
    assert "C0SALES" not in client.get("/admin").get_data(as_text=True)


def test_chat_write_public_lets_the_app_post_to_a_public_channel_only(fake):
    """The fake refuses channel posts as Slack does: a public channel takes them with
    `chat:write.public`, a private one (`G…`) only after an invitation."""
    fake.scopes.add("chat:write.public")
    fake.add_user(MANAGER, display_name="Maya")
    bot = make_bot(fake, DIGEST_CHANNELS="sales-basics=C0SALES")
    add_learner(bot, ADA, "Ada", MANAGER)
    run_digest(bot)
    assert digest_to(fake, "C0SALES")["text"]
    assert bot.services.store.open_problems() == []
    sender = bot.services.outbox.senders["slack"]
    with pytest.raises(DeliveryError) as refused:
        sender.notify_manager("G0PRIVATE", "hello")
    assert refused.value.code == "channel_not_found"
    fake.invite("G0PRIVATE")
    assert sender.notify_manager("G0PRIVATE", "hello").startswith("G0PRIVATE:")
