"""One person, many channels (issue 17): the roster's name is the person's name.

On main, the name a roster import set ("Ngozi Okafor") was overwritten by the first
WhatsApp profile name the learner wrote with ("Chinedu"), and that profile name went on her
certificate, her manager's completion notice and the weekly digest.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import BytesIO

from pypdf import PdfReader

from bot import roster
from bot.config import Config
from bot.services import Services, build_services
from bot.store import Store
from bot.web import create_app
from flows.events import Inbound
from flows.machine.turn import observe
from flows.state import Learner, from_doc, to_doc
from tests.conftest import FakeClock, quizless_sample
from tests.test_engagement import Recorder, engagement, run_for

NGOZI = "whatsapp:+2348031234567"
MONDAY = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _bot(clock: FakeClock, store: Store, smtp_url: str) -> Services:
    config = Config.from_env(
        {"PUBLIC_BASE_URL": "https://train.example.com", "SMTP_URL": smtp_url}, None
    )
    config = config.replace(content_dir=quizless_sample())
    return build_services(config, {"whatsapp": Recorder(clock)}, store=store, clock=clock)


def test_roster_name_wins_over_the_whatsapp_profile_name(store: Store) -> None:
    from tests.fakes.smtp import smtp_server

    clock = FakeClock(MONDAY)
    with smtp_server() as (url, inbox):
        services = _bot(clock, store, url)
        result = roster.import_roster(
            services.store,
            f"name,phone,manager\nNgozi Okafor,{NGOZI[9:]},boss@example.com\n".encode(),
            services.library.current(),
            clock(),
        )
        assert (result.created, result.errors) == (1, [])

        def say(text: str) -> None:
            services.conversations.handle(
                Inbound(key=NGOZI, channel="whatsapp", text=text, name="Chinedu")
            )
            clock.advance(minutes=3)

        say("I am a new partner")
        for _ in range(7):
            say("next")
        assert services.store.load(NGOZI)["name"] == "Ngozi Okafor"

        cert = services.store.db["certificates"].find_one({"learner": NGOZI})
        client = create_app(services.config, services).test_client()
        pdf = client.get(f"/certificates/{cert['code']}.pdf")
        text = "\n".join(page.extract_text() for page in PdfReader(BytesIO(pdf.data)).pages)
        assert "Ngozi Okafor" in text and "Chinedu" not in text
        assert "Awarded to <strong>Ngozi Okafor</strong>" in client.get(
            f"/certificates/{cert['code']}"
        ).get_data(as_text=True)

        run_for(services, clock, 24 * 7)
        assert engagement(services).jobs.get("digest") is not None
        notice, digest = inbox[0], next(m for m in inbox if m["Subject"] == "Training digest")
        assert notice["Subject"] == "Completed: Partner Onboarding"
        assert "Ngozi Okafor has completed" in notice.get_payload()
        assert "Ngozi Okafor: Partner Onboarding" in digest.get_payload()
        assert all("Chinedu" not in m.get_payload() for m in inbox)


def test_a_learner_without_a_roster_name_takes_the_profile_name() -> None:
    """The profile name still fills an empty name, and follows the channel's changes."""
    now = MONDAY
    learner = observe(Learner(key=NGOZI), Inbound(NGOZI, "whatsapp", text="hi", name="Ada"), now)
    assert (learner.name, learner.name_source) == ("Ada", "profile")
    later = observe(learner, Inbound(NGOZI, "whatsapp", text="hi", name="Ada B."), now)
    assert later.name == "Ada B."
    unnamed = observe(learner, Inbound(NGOZI, "whatsapp", text="hi"), now)
    assert unnamed.name == "Ada"


def test_name_source_is_kept_and_old_roster_documents_count_as_roster() -> None:
    learner = Learner(key=NGOZI, name="Ngozi Okafor", name_source="roster")
    assert from_doc(NGOZI, to_doc(learner)).name_source == "roster"
    # imported before name_source existed: the import time says where the name came from
    old = {"name": "Ngozi Okafor", "roster_updated_at": MONDAY - timedelta(days=3)}
    assert from_doc(NGOZI, old).name_source == "roster"
    assert from_doc(NGOZI, {"name": "Chinedu"}).name_source == ""
