"""Linking a second channel with a one-time code (`link`, issue 17): `link` on WhatsApp
gives a 6-digit code, `link 123456` on Slack makes the Slack address the same learner, who
then continues the same course progress there. Codes are stored hashed, last 10 minutes,
are single-use and die after 5 wrong tries; a Slack learner with progress of their own is
refused rather than merged."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot import linking
from bot.services import Services
from bot.store import Store
from bot.store.link_codes import MAX_WRONG_TRIES
from flows.commands import Cmd, Command, parse
from flows.events import Inbound, Link
from flows.messages import say
from tests.conftest import FakeClock, make_course
from tests.test_addresses import _bot
from tests.test_engagement import Recorder

PHONE, SLACK, OTHER = "whatsapp:+2348031234567", "slack:T1AA:U2BB", "slack:T1AA:U3CC"
# Codes carry a TTL index on `expires`: a MongoDB server's TTL monitor deletes them by the
# real clock (about once a minute), so a code issued at a fixed date in the past vanished
# mid-test now and then on the wire backend. The tests' clock starts at the real now.
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
COURSE = "partner-onboarding"


class Chat:
    """A bot with WhatsApp and Slack senders, and a learner typing on either."""

    def __init__(self, store: Store) -> None:
        self.clock = FakeClock(NOW)
        self.services: Services
        self.services, self.whatsapp, self.slack = _bot(store, self.clock)
        self.store = self.services.store

    def say(self, key: str, text: str) -> str:
        """What the bot answered last on the channel written from."""
        channel = key.split(":", 1)[0]
        self.services.conversations.handle(Inbound(key=key, channel=channel, text=text))
        self.clock.advance(minutes=1)
        sender: Recorder = self.whatsapp if channel == "whatsapp" else self.slack
        return sender.texts(key)[-1]

    def code(self, key: str = PHONE) -> str:
        found = re.search(r"link (\d{6})", self.say(key, "link"))
        assert found is not None
        return found.group(1)


def test_link_words_are_parsed_with_their_code() -> None:
    assert parse("link") == Command(Cmd.LINK)
    assert parse("Link 123456") == Command(Cmd.LINK, "123456")
    assert parse("link 123 456.") == Command(Cmd.LINK, "123456")
    assert parse("lier 123456", "fr") == Command(Cmd.LINK, "123456")
    assert parse("lier", "fr") == Command(Cmd.LINK)
    assert parse("link me to the slides") is None  # a question, not a command


def test_whatsapp_then_slack_continues_the_same_progress(store: Store) -> None:
    chat = Chat(store)
    chat.say(PHONE, "I am a new partner")
    chat.say(PHONE, "next")
    answer = chat.say(PHONE, "link")
    code = re.findall(r"\d{6}", answer)[0]
    assert "On your other channel, send: link " + code in answer
    stored = chat.store.link_codes.collection.find_one({})
    assert code not in str(stored)  # only a salted hash is kept

    assert "Linked" in chat.say(SLACK, f"link {code}")
    assert chat.store.addresses.learner_of(SLACK) == PHONE
    assert "How pricing works" in chat.say(SLACK, "next")  # where WhatsApp left off
    progress = chat.store.load(PHONE)["progress"][COURSE]
    assert progress["current"] == "pricing" and "products" in progress["completed"]
    assert "Session 3: How pricing works" in chat.say(PHONE, "menu")  # WhatsApp too

    assert "already been used" in chat.say(OTHER, f"link {code}")
    assert "already linked" in chat.say(SLACK, f"link {chat.code()}")


def test_wrong_expired_and_own_codes(store: Store) -> None:
    chat = Chat(store)
    chat.say(PHONE, "I am a new partner")
    code = chat.code()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert "isn't right" in chat.say(SLACK, f"link {wrong}")
    assert "already linked" in chat.say(PHONE, f"link {code}")  # one's own code
    chat.clock.advance(minutes=10)
    assert "expired" in chat.say(SLACK, f"link {code}")
    assert chat.store.addresses.learner_of(SLACK) == SLACK


def test_five_wrong_tries_void_a_code(store: Store) -> None:
    chat = Chat(store)
    chat.say(PHONE, "I am a new partner")
    code = chat.code()
    for n in range(MAX_WRONG_TRIES):
        wrong = f"{(int(code) + 1 + n) % 1_000_000:06d}"
        assert "isn't right" in chat.say(SLACK, f"link {wrong}")
    assert "too many wrong tries" in chat.say(SLACK, f"link {code}")
    assert chat.store.addresses.learner_of(SLACK) == SLACK
    assert "Linked" in chat.say(SLACK, f"link {chat.code()}")  # a new code works


def test_a_channel_with_progress_of_its_own_is_not_merged(store: Store) -> None:
    chat = Chat(store)
    chat.say(PHONE, "I am a new partner")
    chat.say(SLACK, "I am a new partner")
    assert "own training progress" in chat.say(SLACK, f"link {chat.code()}")
    assert chat.store.addresses.learner_of(SLACK) == SLACK
    assert COURSE in chat.store.load(SLACK)["progress"]


def test_a_channel_linked_elsewhere_is_not_taken_over(store: Store) -> None:
    chat = Chat(store)
    chat.say(PHONE, "I am a new partner")
    assert "Linked" in chat.say(SLACK, f"link {chat.code()}")
    chat.say(OTHER, "I am a new partner")
    assert "another account" in chat.say(SLACK, f"link {chat.code(OTHER)}")
    assert chat.store.addresses.learner_of(SLACK) == PHONE


def test_the_answers_speak_the_course_language() -> None:
    french = make_course(2, settings={"language": "fr"})
    assert say("link_code", french, code="123456", minutes=10).endswith("lier 123456")
    assert say("link_code", None, code="123456", minutes=10).endswith("link 123456")


def test_a_replayed_redeem_answers_linked_again(store: Store) -> None:
    """A performer that died after linking, before answering, runs the effect again: the
    code, used by this very address, still answers "linked" and changes nothing."""
    store.ensure_indexes()
    code = store.link_codes.issue(PHONE, NOW)
    effect = Link(code, SLACK)
    assert linking.answer(store, SLACK, effect, NOW) == ("link_done", {})
    assert linking.answer(store, SLACK, effect, NOW) == ("link_done", {})
    assert store.addresses.learner_of(SLACK) == PHONE
