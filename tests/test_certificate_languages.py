"""Certificates in every script the shipped font covers, and in the course's language.

Issue 17: with no DejaVu font on the machine the PDF fell back to Latin-1, so "Łukasz"
printed as "Lukasz" and Greek or Cyrillic names vanished; a French course's certificate
and verification page were English, with dates such as "29 December 2026".
"""

from __future__ import annotations

import shutil
import tomllib
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest
from pypdf import PdfReader

from bot import certificates
from bot.config import Config
from bot.services import build_services
from bot.store import Store
from bot.web import create_app
from tests.conftest import FakeClock, quizless_sample
from tests.test_engagement import KEY, MONDAY, Recorder, finish_course

ROOT = Path(__file__).resolve().parent.parent
URL = "https://x.example/certificates/ABCD-EFGH-JKMN-PQRS"
# DejaVu Sans covers these scripts; it has no CJK, Devanagari or Thai letters.
NAMES = [
    "Łukasz Żółć",  # Polish
    "Zoë Ádám Nguyễn Thị Hương",  # Latin with diacritics, Vietnamese
    "Ζωή Παπαδοπούλου",  # Greek
    "Юлия Смирнова",  # Cyrillic
    "Արամ Պետրոսյան",  # Armenian
    "ნინო ბერიძე",  # Georgian
    "דנה לוי",  # Hebrew (right to left)
    "ليلى أحمد",  # Arabic (right to left, joined letters: shaped by HarfBuzz)
]


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(data)).pages)


def a_cert(name: str, expires: datetime | None = None) -> dict[str, object]:
    return {
        "code": "ABCD-EFGH-JKMN-PQRS",
        "title": "Certified",
        "name": name,
        "course": "partner-onboarding",
        "course_title": "Partner Onboarding",
        "issued": MONDAY,
        "expires": expires,
    }


@pytest.mark.parametrize("name", NAMES)
def test_a_name_in_any_script_the_font_covers_is_printed_whole(name):
    text = pdf_text(certificates.render_pdf(a_cert(name), URL))
    assert name in text and "ABCD-EFGH-JKMN-PQRS" in text and "Valid until" not in text


def test_the_font_ships_with_the_package_and_is_the_only_one_used():
    """No system font is looked up: the package's own file, declared as package data so
    that an installed wheel has it, with its licence beside it."""
    package = ROOT / "bot"
    assert certificates.FONT.is_file() and certificates.FONT.parent == package / "fonts"
    assert (package / "fonts" / "LICENSE-DejaVu.txt").is_file()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "fonts/*" in pyproject["tool"]["setuptools"]["package-data"]["bot"]
    data = certificates.render_pdf(a_cert("Ada"), URL)
    fonts = {
        str(font["/BaseFont"])
        for font in PdfReader(BytesIO(data)).pages[0]["/Resources"]["/Font"].values()
    }
    assert len(fonts) == 1 and "DejaVuSans" in fonts.pop()


def test_a_letter_the_font_lacks_does_not_break_the_pdf():
    text = pdf_text(certificates.render_pdf(a_cert("Zoë Łukasz 🎓"), URL))
    assert "Zoë Łukasz" in text


@pytest.fixture
def french(tmp_path):
    """The sample course with `language: fr`, and a bot on it."""
    content = tmp_path / "content"
    shutil.copytree(quizless_sample(), content)
    course_yaml = content / "partner-onboarding" / "course.yaml"
    course_yaml.write_text(course_yaml.read_text() + "language: fr\n")
    clock = FakeClock(MONDAY)
    config = Config.from_env({"PUBLIC_BASE_URL": "https://train.example.com"}, None)
    recorder = Recorder(clock)
    services = build_services(
        config.replace(content_dir=content),
        {"console": recorder},
        store=Store.connect(None),
        clock=clock,
    )
    return services, recorder


def test_a_french_course_certifies_in_french(french):
    services, recorder = french
    finish_course(services, name="Łukasz Żółć")
    assert "(valable jusqu'au 5 janvier 2027)" in recorder.texts()[-1]
    cert = services.store.db["certificates"].find_one({"learner": KEY})
    client = create_app(services.config, services).test_client()

    text = pdf_text(client.get(f"/certificates/{cert['code']}.pdf").data)
    for expected in (
        "Ce certificat atteste que",
        "Łukasz Żółć",
        "a suivi avec succès le cours Partner Onboarding",
        "Délivré le 5 janvier 2026",
        "Valable jusqu'au 5 janvier 2027",
        f"Code de vérification : {cert['code']}",
    ):
        assert expected in text, (expected, text)
    assert "January" not in text and "certifies" not in text

    body = client.get(f"/certificates/{cert['code']}").get_data(as_text=True)
    assert '<html lang="fr">' in body and "<h1>Certificat valide</h1>" in body
    assert "Décerné à <strong>Łukasz Żółć</strong>" in body
    assert f"Code {cert['code']} · délivré le 5 janvier 2026 · valable jusqu&#39;au" in body
    assert "authentique et actuellement valide" in body
    assert "issued" not in body and "January" not in body


def test_an_english_course_keeps_day_first_dates_and_en_us_can_change_that():
    from flows.messages import format_day, locale_of
    from tests.conftest import make_course

    day = datetime(2026, 12, 29, tzinfo=UTC)
    assert format_day(day, locale_of(make_course(1))) == "29 December 2026"
    us = make_course(1, settings={"language": "en-US"})
    assert format_day(day, locale_of(us)) == "December 29, 2026"
    fr = make_course(1, settings={"language": "fr"})
    assert format_day(day, locale_of(fr)) == "29 décembre 2026"
