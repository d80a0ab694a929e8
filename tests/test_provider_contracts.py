"""What Twilio and WhatsApp actually accept, against the strict fake (issue 21).

The fake refuses what production would refuse or show wrongly: a Content template sent
with rows left unset (WhatsApp shows the template's sample values), a template SID it does
not hold, media WhatsApp does not take, or a Content-Type that does not match the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from bot.channels import whatsapp_templates
from bot.channels.whatsapp import WhatsAppSender, parse_content_sids
from bot.config import Config
from bot.scheduler import jobs
from flows.events import Button, Reply
from tests.conftest import fresh_data_dir
from tests.fakes.twilio_api import STANDARD_SIDS, FakeTwilio, list_picker
from tests.harness import ACCOUNT, PUBLIC, TOKEN, Served, message, phone
from tests.test_admin import login
from tests.test_whatsapp import PNG


def course(root: Path) -> Path:
    """A course whose first session shows a PNG, a PDF and a GIF, then asks questions
    with 4 and 7 options (buttons beyond WhatsApp's three quick replies)."""
    folder = root / "content" / "contracts"
    (folder / "media").mkdir(parents=True)
    (folder / "media" / "kit.png").write_bytes(PNG)
    (folder / "media" / "checklist.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    (folder / "media" / "spin.gif").write_bytes(b"GIF89a" + b"\0" * 20)
    (folder / "course.yaml").write_text(
        "title: Contracts\nenroll: [start contracts]\nquiz: {shuffle: false}\n", encoding="utf-8"
    )
    four = json.dumps([f"Choice {n}" for n in range(1, 5)])
    seven = json.dumps([f"Pick {n}" for n in range(1, 8)])
    (folder / "01-media.md").write_text(
        "---\ntitle: Media\nquiz:\n"
        f"  - q: Four options?\n    options: {four}\n    answer: 1\n"
        f"  - q: Seven options?\n    options: {seven}\n    answer: 1\n"
        "---\nLook at these.\n\n![The kit](media/kit.png)\n\n"
        "![The installation checklist](media/checklist.pdf)\n\n![A spinner](media/spin.gif)\n",
        encoding="utf-8",
    )
    (folder / "02-next.md").write_text("---\ntitle: Next\n---\nThe end.\n", encoding="utf-8")
    return folder.parent


def served(twilio_fake: FakeTwilio, root: Path, **extra: str) -> Served:
    bot = Served(twilio_fake, CONTENT_DIR=str(course(root)), **extra)

    def fetch(url: str) -> tuple[str, int] | None:
        """As Twilio fetches a MediaUrl: the Content-Type and size the bot serves."""
        response = bot.client().get(urlsplit(url).path)
        assert response.status_code == 200, url
        return response.headers["Content-Type"], len(response.data)

    twilio_fake.fetch_media = fetch
    return bot


def variables(message: dict[str, Any]) -> dict[str, str]:
    return json.loads(message["ContentVariables"][0])


def test_every_option_count_gets_its_own_list_template(twilio_fake: FakeTwilio, tmp_path: Path):
    bot = served(twilio_fake, tmp_path, TWILIO_CONTENT_SIDS=STANDARD_SIDS)
    ada = phone(1)
    assert bot.post(message(1, ada, "start contracts")).status_code == 200
    bot.post(message(2, ada, "quiz"))
    four = [m for m in twilio_fake.messages if m.get("ContentSid") == ["HXlist4"]]
    assert len(four) == 1 and "Four options?" in twilio_fake.shown(four[0])
    rows = variables(four[0])
    assert [rows[str(2 + 2 * n)] for n in range(4)] == [f"{n}) Choice {n}" for n in range(1, 5)]
    bot.post({**message(3, ada, ""), "ListId": rows["3"], "ListTitle": "Choice 1"})
    seven = [m for m in twilio_fake.messages if m.get("ContentSid") == ["HXlist7"]]
    assert len(seven) == 1 and "Seven options?" in twilio_fake.shown(seven[0])
    assert not [d for d in bot.store.deliveries.collection.find() if d.get("status") == "failed"]


def test_one_list_template_for_every_count_is_never_sent_with_rows_unset(
    twilio_fake: FakeTwilio, tmp_path: Path
):
    """The old `list=HX…` (a 10-row template) under a 4-option question showed six sample
    rows; now such a question falls back to typed choices and the check names the fix."""
    bot = served(twilio_fake, tmp_path, TWILIO_CONTENT_SIDS="list=HXlist10,notify=HXnotify")
    ada = phone(2)
    bot.post(message(1, ada, "start contracts"))
    bot.post(message(2, ada, "quiz"))
    assert not [m for m in twilio_fake.messages if m.get("ContentSid") == ["HXlist10"]]
    assert any("Four options?" in twilio_fake.shown(m) for m in twilio_fake.messages)
    assert not [d for d in bot.store.deliveries.collection.find() if d.get("status") == "failed"]


def test_media_as_whatsapp_shows_it(twilio_fake: FakeTwilio, tmp_path: Path):
    """An image carries its caption; a PDF's text comes as a message of its own (WhatsApp
    shows no caption on documents); a GIF, which WhatsApp refuses, arrives as a link."""
    bot = served(twilio_fake, tmp_path)
    ada = phone(3)
    bot.post(message(1, ada, "start contracts"))
    media = {
        m["MediaUrl"][0].rsplit("/", 1)[-1]: m for m in twilio_fake.messages if "MediaUrl" in m
    }
    assert set(media) == {"kit.png", "checklist.pdf"}
    assert twilio_fake.shown(media["kit.png"]) == "The kit"
    assert twilio_fake.shown(media["checklist.pdf"]) == ""
    shown = [twilio_fake.shown(m) for m in twilio_fake.messages]
    checklist = shown.index("The installation checklist")
    assert twilio_fake.messages[checklist + 1] is media["checklist.pdf"]
    assert f"A spinner: {PUBLIC}/media/contracts/media/spin.gif" in shown
    assert not [d for d in bot.store.deliveries.collection.find() if d.get("status") == "failed"]


def test_the_fake_refuses_what_whatsapp_refuses(twilio_fake: FakeTwilio):
    """The fake itself: a guard that the suite would see these bugs."""
    sender = WhatsAppSender(Config.from_env(env(twilio_fake), dotenv=None), retry_wait=0.001)
    send = sender.client.messages.create
    to, frm = phone(4), "whatsapp:+14155238886"
    with pytest.raises(Exception, match="sample values"):
        send(to=to, from_=frm, content_sid="HXlist10", content_variables='{"1": "x"}')
    with pytest.raises(Exception, match="invalid"):
        send(to=to, from_=frm, content_sid="HXnope", content_variables='{"1": "x"}')
    with pytest.raises(Exception, match="does not take"):
        send(to=to, from_=frm, body="x", media_url=["https://example.com/a.gif"])
    pairs = {"1": "Pick", "2": "A title much longer than twenty", "3": "a"}
    with pytest.raises(Exception, match="over 20"):
        send(to=to, from_=frm, content_sid="HXone", content_variables=json.dumps(pairs))


def env(twilio_fake: FakeTwilio, **extra: str) -> dict[str, str]:
    return {
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
        "TWILIO_API_BASE_URL": twilio_fake.url,
        "PUBLIC_BASE_URL": PUBLIC,
        "DATA_DIR": fresh_data_dir(),
        **extra,
    }


def test_start_up_template_check_reports_on_healthz_and_admin(
    twilio_fake: FakeTwilio, tmp_path: Path
):
    """Wrong SIDs, a 10-row template under list_4, an unapproved notify, the old single
    `list`: each is a problem on the admin overview and counted on /healthz until fixed."""
    twilio_fake.templates["HXbig"] = list_picker(10)
    twilio_fake.approvals["HXnotify"] = "pending"
    wrong = "quick_reply_1=HXone,quick_reply_2=HXone,quick_reply_3=HXnope,list_4=HXbig,"
    wrong += "list=HXlist10,notify=HXnotify"
    bot = served(twilio_fake, tmp_path, TWILIO_CONTENT_SIDS=wrong, ADMIN_TOKEN="admin-secret")
    jobs(bot.services)["templates"]()
    problems = {p["_id"]: p["what"] for p in bot.store.open_problems()}
    prefix = whatsapp_templates.PROBLEM_PREFIX
    assert set(problems) == {
        prefix + name for name in ("quick_reply_2", "quick_reply_3", "list_4", "list", "notify")
    }
    assert "has 1 rows, not 2" in problems[prefix + "quick_reply_2"]
    assert "HXnope cannot be read" in problems[prefix + "quick_reply_3"]
    assert "has 10 rows, not 4" in problems[prefix + "list_4"]
    assert "not approved" in problems[prefix + "notify"]
    assert bot.client().get("/healthz").get_json()["setup_problems"] == 5
    client = bot.client()
    login(client, "admin-secret")
    assert "WhatsApp template list_4" in client.get("/admin").get_data(as_text=True)

    twilio_fake.approvals["HXnotify"] = "approved"
    sender = bot.services.outbox.senders["whatsapp"]
    assert isinstance(sender, WhatsAppSender)
    # the operator fixed the configuration and restarted
    sender.templates = parse_content_sids(STANDARD_SIDS)
    jobs(bot.services)["templates"]()
    assert bot.store.open_problems() == []
    assert bot.client().get("/healthz").get_json()["setup_problems"] == 0


def test_the_button_template_is_chosen_by_count(twilio_fake: FakeTwilio):
    config = Config.from_env(env(twilio_fake, TWILIO_CONTENT_SIDS=STANDARD_SIDS), dotenv=None)
    sender = WhatsAppSender(config)
    names = {sid: name for name, sid in sender.templates.items()}
    for count in range(1, 13):
        buttons = tuple(Button(f"Option {n}", f"section {n}") for n in range(count))
        [part] = sender.plan(Reply("Pick", buttons), window_open=True)
        shown = min(count, 10)
        expected = whatsapp_templates.expected(names[part.content_sid])
        assert expected is not None and expected.rows == shown
        assert len(part.variables) == 1 + 2 * shown


def test_the_slack_fake_checks_every_block_kit_limit():
    """slack_sdk's block models add the field limits the hand-written checks lack."""
    from tests.fakes.slack_api import check_blocks

    section = {"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}
    assert check_blocks([section]) == []
    assert "block_id" in check_blocks([{**section, "block_id": "x" * 256}])[0]
    image = {"type": "image", "image_url": "https://a.example/b.png", "alt_text": "a" * 2001}
    assert "alt_text" in check_blocks([image])[0]
    pdf = {**image, "image_url": "https://a.example/b.pdf", "alt_text": "a"}
    assert "not an image" in check_blocks([pdf])[0]
