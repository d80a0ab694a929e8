"""Certificates: issued on course completion, verifiable by anyone who has the code.

A certificate is a document in `certificates` keyed by an unguessable code (16 characters
from an unambiguous alphabet, ~78 bits from `secrets`). One is issued per completion of a
course whose `course.yaml` has `certificate:` settings; a course without them awards none.
The PDF (fpdf2, QR code from segno's matrix) and the public verification page are served
by the blueprint below; the page says valid / expired / revoked, the course, and the
holder's name as the PDF prints it (whoever checks a certificate must see whose it is; the
code is unguessable and only its holder hands it out), never a phone number or learner key.
Both speak the course's language (wording from the message catalog, dates through Babel)
and print names with the font shipped in `bot/fonts/`, whatever fonts the machine has.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import segno
from flask import Blueprint, Response, abort, render_template_string
from fpdf import FPDF

from bot.security import CSP
from bot.store.certificates import CertificateRecords
from flows.awards import award_of
from flows.course import Course
from flows.messages import locale_of, say

if TYPE_CHECKING:
    from bot.credentials import Credentials

# The verification page: its own inline style; otherwise as every response (bot.security).
PAGE_CSP = CSP.replace("style-src 'self'", "style-src 'unsafe-inline'")

log = logging.getLogger(__name__)

ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L, U: read aloud and typed safely
CODE = re.compile(r"^[A-Z0-9]{4}(?:-[A-Z0-9]{4}){3}$")
FONT = Path(__file__).resolve().parent / "fonts" / "DejaVuSans.ttf"  # licence beside it
FONT_FAMILY = "DejaVuSans"
EXPIRY_WARNINGS = (30, 7)  # days before expiry the learner is reminded


def new_code() -> str:
    """A fresh unguessable code such as `K7QM-2XWD-9HTF-PAR3`."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def status(cert: Mapping[str, Any], now: datetime) -> str:
    """`revoked`, `expired` or `valid`."""
    if cert.get("revoked"):
        return "revoked"
    expires = cert.get("expires")
    if expires is not None and _aware(expires) <= now:
        return "expired"
    return "valid"


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Certificates:
    """Issuing, verifying and rendering certificates (stored by `records`)."""

    def __init__(self, records: CertificateRecords, base_url: str) -> None:
        self.records = records
        self.base_url = base_url.rstrip("/")

    def ensure_indexes(self) -> None:
        """Codes are unique; one certificate per completion of a course."""
        self.records.ensure_indexes()

    def pdf_url(self, cert: Mapping[str, Any]) -> str:
        return f"{self.base_url}/certificates/{cert['code']}.pdf"

    def verify_url(self, cert: Mapping[str, Any]) -> str:
        return f"{self.base_url}/certificates/{cert['code']}"

    def issue(
        self, key: str, name: str, course: Course, completed_at: datetime, now: datetime
    ) -> dict[str, Any] | None:
        """The certificate for this completion, issued now if it was not already (safe to
        call twice, from two processes); None when the course awards none."""
        award = award_of(course)
        if award is None:
            return None
        existing = self.records.of_completion(key, course.id, completed_at)
        if existing:
            return existing
        code = new_code()
        cert = {
            "_id": code,
            "code": code,
            "learner": key,
            "name": name or "Learner",
            "course": course.id,
            "course_title": course.title,
            "title": award.title,
            "completed_at": completed_at,
            "issued": now,
            "expires": now + timedelta(days=award.valid_days) if award.valid_days else None,
            "revoked": None,
        }
        if not self.records.insert_new(cert):  # another process issued it a moment ago
            return self.records.of_completion(key, course.id, completed_at)
        log.info("certificates: issued %s…", code[:4])
        return cert

    def latest(self, key: str, course_id: str) -> dict[str, Any] | None:
        """The learner's most recent certificate for a course."""
        return self.records.latest(key, course_id)

    def status_of(self, key: str, course_id: str, now: datetime) -> str | None:
        """What reports show for a learner's certificate in a course: `valid`, `expired`,
        `revoked`, or None when they have none."""
        cert = self.latest(key, course_id)
        return status(cert, now) if cert else None

    def by_code(self, code: str) -> dict[str, Any] | None:
        """The certificate with this code; None for unknown or malformed codes."""
        code = code.strip().upper()
        if not CODE.match(code):
            return None
        return self.records.get(code)

    def revoke(self, code: str, now: datetime, reason: str = "") -> bool:
        """Revoke a certificate (an admin action, `reason` kept with it); False when there
        is no such code or it was already revoked."""
        fields: dict[str, Any] = {"revoked": now}
        if reason:
            fields["revoked_reason"] = reason[:500]
        return self.records.revoke(code.strip().upper(), fields)

    def pdf(self, cert: Mapping[str, Any], course: Course | None = None) -> bytes:
        """The certificate as a one-page A4 landscape PDF in the course's language."""
        return render_pdf(cert, self.verify_url(cert), course)


def _font(pdf: FPDF) -> str:
    """The shipped Unicode font (DejaVu Sans: Latin, Greek, Cyrillic, Armenian, Georgian,
    Hebrew and Arabic letters; no CJK, Indic or Thai, whose letters print as blanks), the
    same on every machine: a system without fonts once printed "Lukasz" for "Łukasz" and
    dropped Greek or Cyrillic names."""
    pdf.add_font(FONT_FAMILY, "", str(FONT))
    # HarfBuzz (uharfbuzz) joins Arabic letters and lays right-to-left names out as their
    # readers write them; without it Arabic would print as isolated letters.
    pdf.set_text_shaping(True)
    return FONT_FAMILY


def render_pdf(cert: Mapping[str, Any], verify_url: str, course: Course | None = None) -> bytes:
    """Draw the certificate: title, name, course, dates, code, URL and a QR code, worded
    and dated in the course's language (English when the course is gone)."""
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.add_page()
    family = _font(pdf)
    locale = locale_of(course)
    pdf.set_lang(str(locale))
    pdf.set_draw_color(40, 70, 120)
    pdf.set_line_width(1.5)
    pdf.rect(10, 10, 277, 190)

    def line(text: str, size: int, height: float) -> None:
        pdf.set_font(family, size=size)
        pdf.cell(0, height, text, align="C", new_x="LMARGIN", new_y="NEXT")

    pdf.set_y(32)
    line(cert["title"], 30, 16)
    line(say("certificate_pdf_certifies", course), 14, 12)
    line(cert["name"], 28, 16)
    line(say("certificate_pdf_completed", course, course=cert["course_title"]), 16, 12)
    line(say("certificate_pdf_issued", course, date=_aware(cert["issued"])), 13, 9)
    if cert.get("expires"):
        line(say("certificate_pdf_valid_until", course, date=_aware(cert["expires"])), 13, 9)
    pdf.set_y(150)
    pdf.set_x(20)
    pdf.set_font(family, size=11)
    code = say("certificate_pdf_code", course, code=cert["code"])
    pdf.multi_cell(200, 7, f"{code}\n{say('certificate_pdf_verify_at', course, url=verify_url)}")
    _qr(pdf, verify_url, x=232, y=140, size=45)
    return bytes(pdf.output())


def _qr(pdf: FPDF, data: str, x: float, y: float, size: float) -> None:
    """A QR code drawn as vector squares (no image library, sharp at any zoom)."""
    matrix = segno.make(data, error="m").matrix
    module = size / len(matrix)
    pdf.set_fill_color(0, 0, 0)
    for row, cells in enumerate(matrix):
        for col, dark in enumerate(cells):
            if dark:
                pdf.rect(x + col * module, y + row * module, module, module, style="F")


PAGE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ words.title }}</title>
<meta name="robots" content="noindex"></head>
<body style="font-family: sans-serif; max-width: 36rem; margin: 3rem auto">
<h1>{{ words.heading }}</h1>
<p>{{ words.awarded }} <strong>{{ cert.name }}</strong></p>
<p><strong>{{ cert.title }}</strong>: {{ cert.course_title }}</p>
<p>{{ words.dates }}</p>
<p>{{ words.verdict }}</p>
{% if credential and credential.state != "none" %}<p id="credential">Open Badges 3.0 credential:
{% if credential.verified %}<strong>signature verified</strong>{% if status != "revoked" %} ·
<a href="{{ cert.code }}.json" download>credential JSON</a> ·
<a href="{{ cert.code }}.jwt" download>signed credential (VC-JWT)</a>{% endif %}
{% else %}<strong>{{ credential.reason }}</strong>: do not rely on this certificate{% endif %}</p>
{% endif %}
</body></html>"""


def verify_words(cert: Mapping[str, Any], state: str, course: Course | None) -> dict[str, str]:
    """The verification page's wording from the message catalog, in the course language."""
    expires = cert.get("expires")
    until = say("verify_valid_until", course, date=_aware(expires)) if expires else ""
    return {
        "title": say("verify_page_title", course),
        "heading": say(f"verify_heading_{state}", course),
        "awarded": say("verify_awarded_to", course),
        "dates": say("verify_code_issued", course, code=cert["code"], date=_aware(cert["issued"]))
        + until,
        "verdict": say(f"verify_{state}", course),
    }


def blueprint(
    certificates: Certificates,
    clock: Any,
    course_of: Callable[[str], Course | None] = lambda course_id: None,
    credentials: Credentials | None = None,
) -> Blueprint:
    """`GET /certificates/<code>.pdf` and the public page `GET /certificates/<code>`, in
    the language of the course (`course_of` its id); any unknown or malformed code is a
    plain 404 that reveals nothing. With `credentials` the page also checks the
    certificate's signed Open Badges credential (`bot.credentials`)."""
    bp = Blueprint("certificates", __name__)

    def found(code: str) -> dict[str, Any]:
        cert = certificates.by_code(code)
        if cert is None:
            log.info("certificates: lookup of an unknown or malformed code")
            abort(404)
        return cert

    @bp.get("/certificates/<code>.pdf")
    def pdf(code: str):
        cert = found(code)
        if cert.get("revoked"):
            abort(410)
        return Response(
            certificates.pdf(cert, course_of(cert["course"])),
            mimetype="application/pdf",
            headers={"Content-Disposition": f'inline; filename="certificate-{cert["code"]}.pdf"'},
        )

    @bp.get("/certificates/<code>")
    def verify(code: str):
        cert = found(code)
        course = course_of(cert["course"])
        state = status(cert, clock())
        words = verify_words(cert, state, course)
        lang = locale_of(course).language
        page = render_template_string(
            PAGE,
            cert=cert,
            words=words,
            lang=lang,
            status=state,
            credential=credentials.check(cert, clock()) if credentials else None,
        )
        # A revocation must show at once; verification pages are not for search engines.
        # The page is one self-contained document: inline style, no script, no framing.
        return (
            page,
            200,
            {
                "Cache-Control": "no-cache",
                "X-Robots-Tag": "noindex",
                "Content-Security-Policy": PAGE_CSP,
            },
        )

    return bp
