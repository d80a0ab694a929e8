"""One person, many channels (issue 17): one learner, several addresses.

A roster row with a phone and a Slack id is one learner (keyed by the phone, the Slack id
in the `addresses` index); when that person writes on Slack they continue the progress
they made on WhatsApp, and each reply goes back to the channel they wrote from."""

from __future__ import annotations

from datetime import UTC, datetime

from bot import roster
from bot.config import Config
from bot.services import Services, build_services
from bot.store import Store
from flows.events import Inbound
from tests.conftest import FakeClock, quizless_sample
from tests.test_engagement import Recorder

PHONE, SLACK = "whatsapp:+2348031234567", "slack:T1AA:U2BB"
ROSTER = f"name,phone,slack\nNgozi Okafor,{PHONE[9:]},{SLACK[6:]}\n".encode()
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _bot(store: Store, clock: FakeClock) -> tuple[Services, Recorder, Recorder]:
    config = Config.from_env({"PUBLIC_BASE_URL": "https://train.example.com"}, None)
    config = config.replace(content_dir=quizless_sample())
    whatsapp, slack = Recorder(clock), Recorder(clock)
    senders = {"whatsapp": whatsapp, "slack": slack}
    return build_services(config, senders, store=store, clock=clock), whatsapp, slack


def test_a_row_with_phone_and_slack_is_one_learner_with_two_addresses(store: Store) -> None:
    services, _, _ = _bot(store, FakeClock(NOW))
    catalog = services.library.current()
    first = roster.import_roster(services.store, ROSTER, catalog, NOW)
    assert (first.created, first.errors, first.keys) == (1, [], [PHONE])
    assert services.store.load(SLACK) is None
    assert services.store.addresses.learner_of(SLACK) == PHONE
    assert services.store.addresses.owners([PHONE, SLACK, "slack:T1AA:U9ZZ"]) == {SLACK: PHONE}
    again = roster.import_roster(services.store, ROSTER, catalog, NOW)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    # a row naming only the Slack id finds the same learner through the index
    only_slack = f"name,slack\nNgozi O. Okafor,{SLACK[6:]}\n".encode()
    third = roster.import_roster(services.store, only_slack, catalog, NOW)
    assert (third.created, third.updated, third.keys) == (0, 1, [PHONE])
    assert services.store.load(PHONE)["name"] == "Ngozi O. Okafor"


def test_whatsapp_then_slack_continues_the_course_and_replies_where_written(
    store: Store,
) -> None:
    clock = FakeClock(NOW)
    services, whatsapp, slack = _bot(store, clock)
    roster.import_roster(services.store, ROSTER, services.library.current(), NOW)

    def say(key: str, text: str) -> None:
        channel = key.split(":", 1)[0]
        services.conversations.handle(Inbound(key=key, channel=channel, text=text))
        clock.advance(minutes=2)

    say(PHONE, "I am a new partner")
    say(PHONE, "next")
    assert services.store.load(PHONE)["progress"]["partner-onboarding"]["current"] == "products"
    assert slack.sent == [] and len(whatsapp.sent) >= 2

    wrote = len(whatsapp.sent)
    say(SLACK, "next")  # the same person, on Slack
    assert services.store.load(SLACK) is None  # no second learner
    progress = services.store.load(PHONE)["progress"]["partner-onboarding"]
    assert progress["current"] == "pricing" and "products" in progress["completed"]
    assert len(whatsapp.sent) == wrote  # the reply went to Slack, not to WhatsApp
    assert {k for _, k, _ in slack.sent} == {SLACK}
    assert "How pricing works" in "\n".join(slack.texts(SLACK))

    say(PHONE, "menu")  # and back on WhatsApp, the answer comes there
    assert len(whatsapp.sent) > wrote and len(slack.sent) == 1
    assert "2/7" in whatsapp.texts(PHONE)[-1]
    assert services.store.load(PHONE)["name"] == "Ngozi Okafor"


def test_an_answer_to_a_question_asked_on_the_second_channel_goes_there(store: Store) -> None:
    """Failed before: the assistant's answer (an effect performed after the turn) went to
    the learner's primary address, WhatsApp, although the question came from Slack."""
    clock = FakeClock(NOW)
    services, whatsapp, slack = _bot(store, clock)
    roster.import_roster(services.store, ROSTER, services.library.current(), NOW)
    services.conversations.handle(Inbound(key=PHONE, channel="whatsapp", text="I am a new partner"))
    wrote = len(whatsapp.sent)
    question = "What discount does a silver partner get?"
    services.conversations.handle(Inbound(key=SLACK, channel="slack", text=question))
    assert len(whatsapp.sent) == wrote  # neither the turn's replies nor the answer
    kinds = [r.kind for _, key, r in slack.sent if key == SLACK]
    assert "answer" in kinds, kinds
    assert services.store.load(PHONE)["effects"] == []  # performed and forgotten
