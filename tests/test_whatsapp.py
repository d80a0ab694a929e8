"""The WhatsApp channel end to end: Twilio-signed webhooks into the Flask app, replies out
through the real `twilio` client to a local fake Twilio API."""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from twilio.request_validator import RequestValidator

from bot.channels.whatsapp import (
    STATUS_PATH,
    WEBHOOK_PATH,
    WhatsAppSender,
    learner_key,
    parse_content_sids,
)
from bot.config import Config
from bot.render import to_whatsapp
from bot.scheduler import build_scheduler
from bot.services import build_services, senders_for
from bot.web import create_app
from flows.events import Button, Inbound, Reply
from flows.machine import session_reply
from tests.conftest import SAMPLE, served
from tests.fakes.twilio_api import STANDARD_SIDS, FakeTwilio
from tests.harness import ADA, BUSINESS, PUBLIC, TOKEN, env
from tests.harness import Served as Bot

TEMPLATES = "quick_reply_1=HXone,quick_reply_2=HXtwo,quick_reply_3=HXthree,notify=HXnotify"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@pytest.fixture
def fake(twilio_fake: FakeTwilio) -> FakeTwilio:
    """conftest's `twilio_fake`, by this module's name for it."""
    return twilio_fake


@pytest.fixture
def bot(fake: FakeTwilio) -> Bot:
    return Bot(fake)


def bodies(messages: list[dict[str, Any]]) -> list[str]:
    return [m.get("Body", [""])[0] for m in messages]


# --- enrollment, navigation, parity with the console ------------------------------------------


def test_enrollment_welcomes_by_profile_name_then_session_1(bot: Bot, fake: FakeTwilio):
    response = bot.say("I am a new partner")
    assert response.mimetype == "text/xml"
    assert b"<Response" in response.data and b"<Message" not in response.data
    sent = fake.wait_for(2)
    assert len(sent) == 2
    assert "Welcome, Ada!" in bodies(sent)[0] and "*Partner Onboarding*" in bodies(sent)[0]
    assert "*Session 1: Welcome to Solaro*" in bodies(sent)[1]
    for message in sent:
        assert message["To"] == [ADA] and message["From"] == [BUSINESS]
        assert message["StatusCallback"] == [PUBLIC + STATUS_PATH]
    records = bot.deliveries()
    assert [r["provider_id"] for r in records] == [m["sid"] for m in sent]
    assert all(r["status"] == "sent" for r in records)


def test_navigation_media_and_menu(bot: Bot, fake: FakeTwilio):
    bot.say("I am a new partner")
    bot.say("next")
    sent = fake.wait_for(4)
    image, text = sent[2], sent[3]
    url = f"{PUBLIC}/media/partner-onboarding/media/kit-comparison.png"
    assert image["MediaUrl"] == [url]
    assert "Chart comparing" in image["Body"][0]
    assert "*Session 2: The three Solaro kits*" in text["Body"][0]
    served = bot.app.test_client().get(url.removeprefix(PUBLIC))
    assert served.status_code == 200 and served.mimetype == "image/png"
    bot.say("menu")
    assert "Progress: 1/7 sessions completed" in fake.wait_for(5)[4]["Body"][0]
    bot.say("previous")
    assert "*Session 1: Welcome to Solaro*" in fake.wait_for(6)[5]["Body"][0]


def test_every_command_says_what_the_console_says(bot: Bot, fake: FakeTwilio):
    """The same script through the console's services and through WhatsApp gives the
    same texts (WhatsApp only adds typed hints for buttons and sends images separately;
    `courses` differs by design: the console lists the web courses)."""
    script = [
        "I am a new partner",
        "next",
        "menu",
        "section 2",
        "previous",
        "complete",  # session 1 has no quiz (quiz options are shuffled per learner)
        "progress",
        "help",
        "restart",
        "no",
        "exit",
        "resume",
        "STOP",
        "START",
    ]
    console_texts: list[str] = []

    class Capture:
        def send(self, learner, reply):
            console_texts.append(to_whatsapp(reply.text))
            return None

    console = build_services(
        Config.from_env({"DATA_DIR": ":memory:"}, dotenv=None),
        {"console": Capture(), "web": Capture()},
    )
    for number, line in enumerate(script):
        console.conversations.handle(
            Inbound("console:ada", "console", line, name="Ada", message_id=f"c{number}")
        )
        bot.say(line)
    hint = re.compile(r"\n\n👉 Reply \*[a-z]+\*( · \*[a-z]+\*)*$")
    whatsapp_texts = [hint.sub("", m["Body"][0]) for m in fake.messages if "MediaUrl" not in m]
    assert whatsapp_texts == console_texts


# --- long sessions, buttons ------------------------------------------------------------------


def long_course(root: Path) -> str:
    """A course whose single session renders to about 4,000 characters."""
    folder = root / "long"
    (folder / "media").mkdir(parents=True)
    (folder / "media" / "dot.png").write_bytes(PNG)
    (folder / "course.yaml").write_text(
        "title: Long Course\nenroll: [start long course]\nchannels: [whatsapp]\n"
    )
    paragraphs = [
        f"Paragraph {n} opens with **a bold claim number {n}** and goes on. "
        + " ".join(f"Sentence {n}.{i} explains one more detail about solar kits." for i in range(8))
        for n in range(1, 9)
    ]
    body = "\n\n".join([*paragraphs[:4], "![A dot](media/dot.png)", *paragraphs[4:]])
    (folder / "01-long.md").write_text(f"---\ntitle: The long one\n---\n{body}\n")
    return str(root)


def test_a_4000_character_session_arrives_as_ordered_parts(fake: FakeTwilio, tmp_path: Path):
    bot = Bot(fake, CONTENT_DIR=long_course(tmp_path))
    bot.say("start long course")
    session = bot.services.library.current().get("long")
    rendered = to_whatsapp(session_reply(session, 1).text)
    assert 3800 <= len(rendered) <= 4600
    sent = fake.wait_for(6)
    _welcome, image, *parts = sent
    assert image["MediaUrl"] == [f"{PUBLIC}/media/long/media/dot.png"]
    texts = bodies(parts)
    assert 3 <= len(texts) <= 4  # whole paragraphs per message, so sometimes one more
    assert all(len(t) <= 1500 for t in texts)
    assert texts[0].startswith("📚 *Session 1: The long one*")
    words = " ".join(texts).split()
    assert words == (rendered + "\n\n👉 Reply *menu*").split()  # nothing lost, no word cut
    for text in texts:
        assert text.count("*") % 2 == 0, "a bold span was cut"
    assert [r["seq"] for r in bot.deliveries()] == [1, 2]
    assert bot.deliveries()[1]["provider_ids"] == [image["sid"]] + [p["sid"] for p in parts]


def test_buttons_as_content_templates_and_presses(fake: FakeTwilio):
    bot = Bot(fake, TWILIO_CONTENT_SIDS=TEMPLATES)
    bot.say("I am a new partner")
    *text, session = fake.messages
    assert session["ContentSid"] == ["HXtwo"] and "Body" not in session
    variables = json.loads(session["ContentVariables"][0])
    assert len(variables["1"]) <= 1024  # a template body's limit: the text before went alone
    assert "*Session 1: Welcome to Solaro*" in text[-1]["Body"][0]
    assert (variables["2"], variables["3"], variables["4"], variables["5"]) == (
        "Next ➡️",
        "next",
        "📋 Menu",
        "menu",
    )
    bot.say("", ButtonPayload="next", ButtonText="Next ➡️")
    assert any("Session 2" in m.get("Body", [""])[0] for m in fake.messages)
    last = fake.messages[-1]
    assert last["ContentSid"] == ["HXthree"]
    assert json.loads(last["ContentVariables"][0])["3"] == "previous"
    bot.say("", ButtonText="⬅️ Previous")  # a press without a payload: its title is typed text
    assert "*Session 1: Welcome" in bodies(fake.messages)[-2]


def test_without_templates_buttons_become_typed_hints(bot: Bot, fake: FakeTwilio):
    bot.say("I am a new partner")
    bot.say("next")
    session_2 = fake.wait_for(4)[3]["Body"][0]
    assert session_2.endswith("\n\n👉 Reply *previous*")  # next and menu are named already
    bot.say("restart")
    assert fake.wait_for(5)[4]["Body"][0].endswith(
        "Reply *yes* to restart or *no* to keep your progress."
    )


def test_typed_hints_are_in_the_course_language(fake: FakeTwilio, tmp_path: Path):
    """Issue 17: a French course's hints name the French words, in French ("Reply *next*"
    read as English before), also on a reply that names no course (a confirmation)."""
    content = tmp_path / "content"
    shutil.copytree(SAMPLE, content)
    course = content / "partner-onboarding" / "course.yaml"
    course.write_text(course.read_text(encoding="utf-8") + "language: fr\n", encoding="utf-8")
    bot = Bot(fake, CONTENT_DIR=str(content))
    bot.say("I am a new partner")
    bot.say("suivant")
    session_2 = fake.wait_for(4)[3]["Body"][0]
    assert session_2.endswith("\n\n👉 Répondez *précédent*")  # suivant and menu are named
    bot.say("recommencer")
    assert fake.wait_for(5)[4]["Body"][0].endswith(
        "Répondez *oui* pour recommencer ou *non* pour garder votre progression."
    )
    sender = WhatsAppSender(bot.config)  # not bound to a library: English words
    [part] = sender.plan(Reply("Pick", (Button("Suivant", "next"),)), window_open=True)
    assert part.body.endswith("👉 Reply *next*")


# --- the 24-hour window ------------------------------------------------------------------------


def age(bot: Bot, hours: float) -> None:
    then = datetime.now(UTC) - timedelta(hours=hours)
    bot.store.learners.collection.update_one({"_id": ADA}, {"$set": {"last_inbound_at": then}})


def test_proactive_message_outside_24h_without_template_is_not_sent(bot: Bot, fake: FakeTwilio):
    bot.say("I am a new partner")
    fake.wait_for(2)
    age(bot, 25)
    bot.services.conversations.queue(ADA, [Reply("Ada, session 2 is waiting.", proactive=True)])
    bot.services.outbox.flush(ADA)
    assert fake.requests == 2
    record = bot.deliveries()[-1]
    assert record["status"] == "failed" and "older than 24 hours" in record["error"]
    assert bot.learner()["outbox"] == []  # a notice nothing depends on: dropped, logged


def test_a_conversation_reply_outside_24h_waits_for_the_learner(bot: Bot, fake: FakeTwilio):
    """Issue 15: a conversation reply that cannot go (no template) parks the queue instead
    of being skipped; the learner writing again reopens the window and resumes it."""
    bot.say("I am a new partner")
    fake.wait_for(2)
    age(bot, 25)
    bot.services.conversations.queue(ADA, [Reply("Ada, session 2 is waiting.")])
    bot.services.outbox.flush(ADA)
    parked = bot.learner()["parked"]
    assert fake.requests == 2 and parked["unreachable"] and "24 hours" in parked["error"]
    bot.say("menu", MessageSid="SM" + "7" * 32)
    texts = bodies(fake.wait_for(4))
    assert texts[2] == "Ada, session 2 is waiting." and "Progress" in texts[3]


def test_proactive_message_outside_24h_goes_as_approved_template(fake: FakeTwilio):
    bot = Bot(fake, TWILIO_CONTENT_SIDS=TEMPLATES)
    bot.say("I am a new partner")
    fake.wait_for(2)
    age(bot, 23)  # still inside: free-form text
    bot.services.conversations.queue(ADA, [Reply("Ada, session 2 is **waiting**.")])
    bot.services.outbox.flush(ADA)
    assert fake.messages[-1]["Body"] == ["Ada, session 2 is *waiting*."]
    age(bot, 25)
    bot.services.conversations.queue(ADA, [Reply("Ada, session 2 is **waiting**.")])
    bot.services.outbox.flush(ADA)
    nudge = fake.messages[-1]
    assert nudge["ContentSid"] == ["HXnotify"] and "Body" not in nudge
    assert json.loads(nudge["ContentVariables"][0]) == {"1": "Ada, session 2 is *waiting*."}
    bot.services.conversations.queue(ADA, [Reply("Ada,\n\nsession 2\nis waiting.")])
    bot.services.outbox.flush(ADA)
    variables = json.loads(fake.messages[-1]["ContentVariables"][0])
    assert variables == {"1": "Ada, session 2 is waiting."}  # one line


# --- status callbacks --------------------------------------------------------------------------


def test_status_callbacks_in_any_order(bot: Bot, fake: FakeTwilio):
    bot.say("I am a new partner")
    welcome_sid = fake.wait_for(2)[0]["sid"]
    for state in ("read", "sent", "delivered", "read"):  # out of order and repeated
        assert bot.status(welcome_sid, state).status_code == 204
    record = bot.deliveries()[0]
    assert record["provider_status"] == "read"
    assert set(record["receipts"][welcome_sid]) == {"sent", "delivered", "read"}
    assert record["status"] == "sent"


def test_failed_63016_closes_the_window(bot: Bot, fake: FakeTwilio):
    bot.say("I am a new partner")
    sid = fake.wait_for(2)[1]["sid"]
    assert bot.status(sid, "failed", code="63016").status_code == 204
    record = bot.deliveries()[1]
    assert record["status"] == "failed" and record["receipts"][sid]["error_code"] == 63016
    assert bot.learner()["whatsapp"]["window_closed_at"]
    bot.services.conversations.queue(ADA, [Reply("Reminder")])
    bot.services.outbox.flush(ADA)
    assert fake.requests == 2  # not tried again free-form
    bot.say("next")  # the learner writes: the window is open again
    assert len(fake.wait_for(4)) >= 4


def test_21610_unsubscribed_stops_every_send_until_the_learner_writes(bot: Bot, fake: FakeTwilio):
    bot.say("I am a new partner")
    sid = fake.wait_for(2)[0]["sid"]
    bot.status(sid, "undelivered", code="21610")
    assert bot.learner()["opted_out"] is True
    bot.services.conversations.queue(ADA, [Reply("Reminder")])
    bot.services.outbox.flush(ADA)
    assert fake.requests == 2
    assert "unsubscribed (21610)" in bot.learner()["parked"]["error"]  # waits (issue 15)
    bot.say("START")
    sent = fake.wait_for(4)
    assert sent[2]["Body"] == ["Reminder"] and "Reminders are back on" in sent[3]["Body"][0]


def test_21610_from_the_send_itself_opts_the_learner_out(bot: Bot, fake: FakeTwilio):
    """Twilio refuses `messages.create` with 21610 when the recipient replied STOP to the
    business. Failed before issue 21: that was a plain failure (parked, but no opt-out), so
    reminders kept being queued and tried; now it flags the learner as the callback does."""
    fake.refuse(ADA, 21610)
    bot.say("I am a new partner")
    learner = bot.learner()
    assert learner["opted_out"] is True and learner["whatsapp"]["unsubscribed_at"]
    assert learner["parked"]["unreachable"] and "21610" in learner["parked"]["error"]
    assert fake.requests == 1  # a permanent refusal: not retried


def test_63014_blocked_in_a_callback_stops_sending_until_the_learner_writes(
    bot: Bot, fake: FakeTwilio
):
    """63014 (the learner blocked the business) arrives in a status callback. Failed before
    issue 21: the learner was not flagged, so every later reply was sent and failed again;
    now the queue waits, parked as unreachable, until the learner writes."""
    bot.say("I am a new partner")
    sid = fake.wait_for(2)[1]["sid"]
    assert bot.status(sid, "failed", code="63014").status_code == 204
    assert bot.learner()["whatsapp"]["blocked_at"]
    bot.services.conversations.queue(ADA, [Reply("Reminder")])
    bot.services.outbox.flush(ADA)
    assert fake.requests == 2  # nothing sent to a learner who blocked us
    parked = bot.learner()["parked"]
    assert parked["unreachable"] and "blocked (63014)" in parked["error"]
    bot.say("menu")  # they unblocked us and wrote: everything waiting goes out, in order
    sent = fake.wait_for(4)
    assert sent[2]["Body"] == ["Reminder"] and "Progress" in sent[3]["Body"][0]


def test_63014_from_the_send_parks_without_retrying(bot: Bot, fake: FakeTwilio):
    """63014 answered by `messages.create` itself. Failed before issue 21: not flagged, so
    each new reply to the learner was tried (and refused) again."""
    fake.refuse(ADA, 63014)
    bot.say("I am a new partner")
    assert bot.learner()["whatsapp"]["blocked_at"] and bot.learner()["parked"]["unreachable"]
    bot.services.conversations.queue(ADA, [Reply("Reminder")])
    bot.services.outbox.flush(ADA)
    assert fake.requests == 1


def test_a_63018_rate_limit_on_the_send_is_retried(bot: Bot, fake: FakeTwilio):
    """63018 (the sender's WhatsApp rate limit) under a 4xx status. Failed before issue 21:
    treated as permanent, so the learner's queue parked on a limit that passes."""
    fake.fail(400, code=63018)
    bot.say("I am a new partner")
    assert len(fake.wait_for(2)) == 2 and fake.requests == 3
    assert "parked" not in bot.learner() or bot.learner()["parked"] is None


def test_bad_status_callbacks(bot: Bot, fake: FakeTwilio):
    bot.say("I am a new partner")
    sid = fake.wait_for(2)[0]["sid"]
    params = {"MessageSid": sid, "MessageStatus": "failed", "ErrorCode": "21610", "To": ADA}
    assert bot.post_to(STATUS_PATH, params, signature=None).status_code == 403
    assert (
        bot.post_to(STATUS_PATH, params, signature=bot.sign(WEBHOOK_PATH, params)).status_code
        == 403
    )
    assert bot.post_to(STATUS_PATH, {"MessageSid": sid}).status_code == 400
    assert (
        bot.post_to(STATUS_PATH, {"MessageSid": "SM.$x", "MessageStatus": "sent"}).status_code
        == 400
    )
    assert bot.status("SM" + "f" * 32, "delivered").status_code == 204  # unknown: ignored
    assert bot.learner()["opted_out"] is False
    assert "receipts" not in bot.deliveries()[0]


# --- Twilio failures ---------------------------------------------------------------------------


def test_a_500_is_retried_by_the_client_wrapper(bot: Bot, fake: FakeTwilio):
    fake.fail(500, times=2)
    fake.fail(429)
    bot.say("I am a new partner")
    sent = fake.wait_for(2)
    assert len(sent) == 2 and fake.requests == 5
    assert "Welcome, Ada" in sent[0]["Body"][0]


def test_persistent_500_postpones_then_resumes_in_order(bot: Bot, fake: FakeTwilio):
    fake.fail(503, times=4)  # all four attempts of the first message
    bot.say("I am a new partner")
    assert fake.messages == []
    entries = bot.learner()["outbox"]
    assert [e["seq"] for e in entries] == [1, 2] and entries[0]["attempts"] == 1
    assert "503" in entries[0]["error"]
    outbox = bot.services.outbox
    outbox.clock = lambda: datetime.now(UTC) + timedelta(hours=1)
    assert outbox.flush_due() == 2
    assert "Welcome" in bodies(fake.messages)[0] and "Session 1" in bodies(fake.messages)[1]
    assert len(fake.messages) == 2


def test_a_split_reply_failing_midway_never_resends_sent_parts(fake: FakeTwilio, tmp_path: Path):
    bot = Bot(fake, CONTENT_DIR=long_course(tmp_path))
    fake.accept(3)  # welcome, image, first text part
    fake.fail(500, times=4)  # the second text part, through every retry
    bot.say("start long course")
    assert len(fake.messages) == 3
    entry = bot.learner()["outbox"][0]
    assert len(entry["sent_parts"]) == 2
    bot.services.outbox.clock = lambda: datetime.now(UTC) + timedelta(hours=1)
    bot.services.outbox.flush_due()
    texts = bodies(fake.messages)
    assert len(texts) == len(set(texts)) == 2 + len(entry["sent_parts"]) + 2
    assert texts[2].startswith("📚 *Session 1")
    record = bot.deliveries()[1]
    assert record["status"] == "sent" and len(record["provider_ids"]) == len(texts) - 1


def test_a_permanent_4xx_is_not_retried(bot: Bot, fake: FakeTwilio):
    fake.fail(400, code=21211)
    bot.say("I am a new partner")
    # Issue 15: the welcome failed for good; session 1 waits behind it (parked), unsent
    assert fake.requests == 1 and fake.messages == [] and bot.deliveries() == []
    assert "21211" in bot.learner()["parked"]["error"]


# --- idempotency, ordering, concurrency --------------------------------------------------------


def test_the_same_message_sid_three_times(bot: Bot, fake: FakeTwilio):
    params = bot.message("I am a new partner")
    for _ in range(3):
        assert bot.post_to(WEBHOOK_PATH, params).status_code == 200
    assert len(fake.wait_for(2)) == 2
    assert bot.learner()["version"] == 1
    threads = [
        threading.Thread(
            target=bot.post_to, args=(WEBHOOK_PATH, bot.message("next", sid="SM" + "9" * 32))
        )
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(0.05)
    assert len(fake.messages) == 4  # one session 2 (image + text)
    assert bot.learner()["version"] == 2


def test_out_of_order_messages_are_each_handled_once(bot: Bot, fake: FakeTwilio):
    later = bot.message("next")
    earlier = bot.message("I am a new partner")
    bot.post_to(WEBHOOK_PATH, later)
    bot.post_to(WEBHOOK_PATH, earlier)
    texts = bodies(fake.wait_for(3))
    assert "To start a course" in texts[0]
    assert "Welcome, Ada" in texts[1] and "Session 1" in texts[2]
    assert len(texts) == 3
    assert bot.learner()["processed"] == [
        f"twilio-{later['MessageSid']}",
        f"twilio-{earlier['MessageSid']}",
    ]


def test_two_messages_within_a_millisecond(bot: Bot, fake: FakeTwilio):
    bot.say("I am a new partner")
    fake.wait_for(2)
    first, second = bot.message("menu"), bot.message("help")
    barrier = threading.Barrier(2)

    def post(params):
        barrier.wait()
        assert bot.post_to(WEBHOOK_PATH, params).status_code == 200

    threads = [threading.Thread(target=post, args=(p,)) for p in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    texts = bodies(fake.wait_for(4))
    assert len(texts) == 4
    assert sorted(t.split("\n")[0] for t in texts[2:]) == [
        "*How this works*",
        "*Partner Onboarding*",
    ]
    doc = bot.learner()
    assert doc["outbox"] == [] and doc["version"] == 3
    assert [r["seq"] for r in bot.deliveries()] == [1, 2, 3, 4]


# --- bad input ---------------------------------------------------------------------------------


def nothing_stored(bot: Bot) -> bool:
    return (
        bot.store.learners.collection.count_documents({}) == 0
        and bot.store.events.collection.count_documents({}) == 0
    )


def test_unsigned_forged_and_replayed_signatures_get_403(bot: Bot, fake: FakeTwilio):
    params = bot.message("I am a new partner")
    assert bot.post_to(WEBHOOK_PATH, params, signature=None).status_code == 403
    assert bot.post_to(WEBHOOK_PATH, params, signature="").status_code == 403
    forged = RequestValidator("not-the-token").compute_signature(PUBLIC + WEBHOOK_PATH, params)
    assert bot.post_to(WEBHOOK_PATH, params, signature=forged).status_code == 403
    other_url = RequestValidator(TOKEN).compute_signature("http://localhost" + WEBHOOK_PATH, params)
    assert bot.post_to(WEBHOOK_PATH, params, signature=other_url).status_code == 403
    genuine = bot.sign(WEBHOOK_PATH, params)
    tampered = {**params, "Body": "restart"}  # a captured signature replayed on new content
    assert bot.post_to(WEBHOOK_PATH, tampered, signature=genuine).status_code == 403
    assert nothing_stored(bot) and fake.requests == 0
    assert bot.post_to(WEBHOOK_PATH, params, signature=genuine).status_code == 200
    assert bot.post_to(WEBHOOK_PATH, params, signature=genuine).status_code == 200  # exact replay
    assert len(fake.wait_for(2)) == 2 and bot.learner()["version"] == 1


def test_malformed_webhooks_get_400(bot: Bot, fake: FakeTwilio):
    for missing in ("MessageSid", "From"):
        params = bot.message("hello")
        del params[missing]
        assert bot.post_to(WEBHOOK_PATH, params).status_code == 400
    assert bot.post_to(WEBHOOK_PATH, bot.message("hi", sid="SM'; drop")).status_code == 400
    assert nothing_stored(bot)


@pytest.mark.parametrize(
    "sender",
    [
        "+2348012345678",
        "sms:+2348012345678",
        "messenger:12345",
        "whatsapp:",
        "whatsapp:ada",
        "whatsapp:+0123",
    ],
)
def test_unknown_from_formats_are_refused(bot: Bot, sender: str):
    assert bot.post_to(WEBHOOK_PATH, bot.message("hi", frm=sender)).status_code == 400
    assert nothing_stored(bot)


def test_from_format_variants_are_one_learner(bot: Bot, fake: FakeTwilio):
    assert learner_key("WhatsApp:+234 801-234-5678") == ADA
    bot.say("I am a new partner", frm="whatsapp:+234 801 234 5678")
    bot.say("next", frm="whatsapp:2348012345678")
    assert bot.store.learners.collection.count_documents({}) == 1
    assert "Session 2" in bodies(fake.wait_for(4))[3]


BSUID = "US.13491208655302741918"  # Meta's business-scoped user id: no phone number shared


def test_a_business_scoped_user_id_is_a_learner_of_its_own(bot: Bot, fake: FakeTwilio):
    """A user who took a WhatsApp username reaches us as `whatsapp:<BSUID>`, with no phone
    number in `From` or `WaId`. Failed before issue 21: 400, and the person could not
    train at all. Now the id is their learner key; replies and receipts use it as is."""
    key = f"whatsapp:{BSUID}"
    assert learner_key(key) == key
    bot.say("I am a new partner", frm=key, WaId="")
    sent = fake.wait_for(2)
    assert [m["To"] for m in sent] == [[key], [key]]
    assert "Welcome, Ada" in sent[0]["Body"][0]
    assert bot.status(sent[0]["sid"], "delivered", to=key).status_code == 204
    assert bot.deliveries(key)[0]["provider_status"] == "delivered"
    bot.say("next", frm=key, WaId="")
    assert bot.learner(key)["progress"]["partner-onboarding"]["completed"]
    assert bot.learner() == {}  # no phone-number learner was made


def test_a_business_scoped_id_with_the_number_still_shared_stays_one_learner(
    bot: Bot, fake: FakeTwilio
):
    """While WhatsApp still shares the number (`WaId`), a learner who took a username is
    the phone-number learner they were, not a second one. Failed before issue 21 (400)."""
    bot.say("I am a new partner")
    bot.say("next", frm=f"whatsapp:{BSUID}", WaId="2348012345678")
    assert bot.store.learners.collection.count_documents({}) == 1
    assert "Session 2" in bodies(fake.wait_for(4))[3]


@pytest.mark.parametrize(
    "sender", ["whatsapp:us.1349120865", "whatsapp:US.", "whatsapp:US.12 34", "whatsapp:USA.123"]
)
def test_what_is_not_a_business_scoped_id_is_still_refused(bot: Bot, sender: str):
    assert bot.post_to(WEBHOOK_PATH, bot.message("hi", frm=sender)).status_code == 400


def test_a_100_kb_body(bot: Bot, fake: FakeTwilio):
    params = bot.message("I am a new partner. " + "x" * 100_000)
    assert bot.post_to(WEBHOOK_PATH, params, signature=None).status_code == 403
    assert bot.post_to(WEBHOOK_PATH, params).status_code == 200
    assert len(fake.wait_for(2)) == 2  # cut to 4,000 characters, still the enrollment
    assert bot.store.events.collection.find_one()["text"].startswith("I am a new partner.")
    huge = bot.message("x" * 1_100_000)
    assert bot.post_to(WEBHOOK_PATH, huge).status_code == 413


def test_non_utf8_bytes(bot: Bot, fake: FakeTwilio):
    headers = {"X-Twilio-Signature": bot.sign(WEBHOOK_PATH, bot.message("caf\xe9"))}
    raw = b"MessageSid=SM" + b"1" * 32 + b"&From=whatsapp%3A%2B2348012345678&Body=caf\xe9"
    client = bot.app.test_client()
    kind = "application/x-www-form-urlencoded"
    assert (
        client.post(WEBHOOK_PATH, data=raw, headers=headers, content_type=kind).status_code == 403
    )
    encoded = raw.replace(b"\xe9", b"%E9")
    assert (
        client.post(WEBHOOK_PATH, data=encoded, headers=headers, content_type=kind).status_code
        == 403
    )
    assert nothing_stored(bot)
    # Signed over exactly what arrives: handled as (odd) text, nothing crashes.
    params = {"MessageSid": "SM" + "2" * 32, "From": ADA, "Body": "caf%E9"}
    ok = {"X-Twilio-Signature": bot.sign(WEBHOOK_PATH, params)}
    assert (
        client.post(
            WEBHOOK_PATH, data=encoded.replace(b"1" * 32, b"2" * 32), headers=ok, content_type=kind
        ).status_code
        == 200
    )
    assert "To start a course" in bodies(fake.wait_for(1))[0]


def test_inbound_media(bot: Bot, fake: FakeTwilio):
    bot.say(
        "", NumMedia="1", MediaUrl0="https://api.twilio.com/x.jpg", MediaContentType0="image/jpeg"
    )
    assert "I can read text only for now" in bodies(fake.wait_for(1))[0]
    bot.say("I am a new partner")
    bot.say("Where is the head office?", NumMedia="1")  # a caption is a question
    answer = bodies(fake.wait_for(4))[3]
    assert "Ikeja" in answer


# --- the served app ----------------------------------------------------------------------------


def test_served_app_delivers_welcome_and_session_1_within_a_second(fake: FakeTwilio):
    """What `trainbot serve` runs: create_app from the environment (thread pool on), the
    clock jobs, a real HTTP server; Twilio posts to it while PUBLIC_BASE_URL is the proxy's."""
    app = create_app(Config.from_env(env(fake), dotenv=None))
    assert "whatsapp" in senders_for(app.extensions["trainbot"].config)
    scheduler = build_scheduler(app.extensions["trainbot"])
    scheduler.start()
    try:
        with served(app) as local:
            assert requests.get(local + "/healthz", timeout=5).status_code == 200
            params = {
                "MessageSid": "SM" + "a" * 32,
                "From": ADA,
                "To": BUSINESS,
                "Body": "I am a new partner",
                "ProfileName": "Ada",
                "NumMedia": "0",
            }
            signature = RequestValidator(TOKEN).compute_signature(PUBLIC + WEBHOOK_PATH, params)
            started = time.monotonic()
            response = requests.post(
                local + WEBHOOK_PATH,
                data=params,
                headers={"X-Twilio-Signature": signature},
                timeout=5,
            )
            assert response.status_code == 200
            sent = fake.wait_for(2, timeout=1.0)
            elapsed = time.monotonic() - started
            assert len(sent) == 2, f"only {len(sent)} message(s) after {elapsed:.2f}s"
            assert "Welcome, Ada" in sent[0]["Body"][0] and "Session 1" in sent[1]["Body"][0]
    finally:
        scheduler.shutdown(wait=False)


def test_a_split_reply_whose_window_closes_midway_is_not_finished_by_template(
    fake: FakeTwilio, tmp_path: Path
):
    bot = Bot(fake, CONTENT_DIR=long_course(tmp_path), TWILIO_CONTENT_SIDS=TEMPLATES)
    fake.accept(3)
    fake.fail(500, times=4)
    bot.say("start long course")
    age(bot, 25)
    bot.services.outbox.clock = lambda: datetime.now(UTC) + timedelta(hours=1)
    bot.services.outbox.flush_due()
    assert len(fake.messages) == 3
    parked = bot.learner()["parked"]  # issue 15: waits for the learner, not failed
    assert parked["seq"] == 2 and "window closed after 2" in parked["error"]
    assert len(bot.store.deliveries.collection.find_one({"seq": 2})["provider_ids"]) == 2


# --- planning details, configuration, restarts -------------------------------------------------


def test_button_titles_and_lists_respect_whatsapp_limits(fake: FakeTwilio):
    sender = WhatsAppSender(
        Config.from_env(env(fake, TWILIO_CONTENT_SIDS=STANDARD_SIDS), dotenv=None)
    )
    long_title = Button("A very long button title indeed", "next")
    [part] = sender.plan(Reply("Pick one", (long_title,)), window_open=True)
    assert part.content_sid == "HXone"
    assert len(part.variables["2"]) <= 20 and part.variables["3"] == "next"
    many = tuple(Button(f"Option number {n} with a long name", f"section {n}") for n in range(12))
    [part] = sender.plan(Reply("Pick a session", many), window_open=True)
    assert part.content_sid == "HXlist10"  # the template with exactly ten rows
    rows = [part.variables[str(2 + 2 * n)] for n in range(10)]
    assert all(len(title) <= 24 for title in rows) and str(2 + 2 * 10) not in part.variables


def test_content_sids_config_formats(fake: FakeTwilio, caplog):
    assert parse_content_sids('{"notify": "HX1", "list": " HX2 "}') == {
        "notify": "HX1",
        "list": "HX2",
    }
    assert parse_content_sids("notify=HX1, quick_reply_1=HX2") == {
        "notify": "HX1",
        "quick_reply_1": "HX2",
    }
    assert parse_content_sids("garbage") == {}
    assert "TWILIO_CONTENT_SIDS" in caplog.text


def test_undelivered_replies_are_resumed_after_a_restart(fake: FakeTwilio):
    """A process died mid-delivery (its lease still set); the next process, on the same
    MongoDB, sends what was queued, in order, once the lease has expired."""
    first = Bot(fake)
    fake.fail(503, times=4)
    first.say("I am a new partner")
    first.store.learners.collection.update_one(
        {"_id": ADA}, {"$set": {"lease": datetime.now(UTC) + timedelta(seconds=30)}}
    )
    config = first.config
    restarted = build_services(
        config, {"whatsapp": WhatsAppSender(config, retry_wait=0.001)}, store=first.store
    )
    restarted.outbox.clock = lambda: datetime.now(UTC) + timedelta(minutes=5)
    assert restarted.outbox.flush_due() == 2
    texts = bodies(fake.messages)
    assert len(texts) == 2 and "Welcome" in texts[0] and "Session 1" in texts[1]


def test_without_credentials_the_channel_is_off(config: Config):
    app = create_app(config)
    assert "whatsapp" not in senders_for(config)
    assert app.test_client().post(WEBHOOK_PATH, data={"From": ADA}).status_code == 404
