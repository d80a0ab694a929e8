"""Certificates: issued on course completion, verifiable by anyone who has the code.

A certificate is a document in `certificates` keyed by an unguessable code (16 characters
from an unambiguous alphabet, ~78 bits from `secrets`). One is issued per completion of a
course whose `course.yaml` has `certificate:` settings; a course without them awards none.
The PDF (fpdf2, QR code from segno's matrix) and the public verification page are served
by the blueprint below; the page says valid / expired / revoked, the course, and the
holder's name as the PDF prints it (whoever checks a certificate must see whose it is; the
code is unguessable and only its holder hands it out), never a phone number or learner key.
"""

from __future__ import annotations

import logging
import re
import secrets
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import segno
from flask import Blueprint, Response, abort, render_template_string
from fpdf import FPDF

from bot.security import CSP
from bot.store.certificates import CertificateRecords
from flows.awards import award_of
from flows.course import Course

# The verification page: its own inline style; otherwise as every response (bot.security).
PAGE_CSP = CSP.replace("style-src 'self'", "style-src 'unsafe-inline'")

log = logging.getLogger(__name__)

ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L, U: read aloud and typed safely
CODE = re.compile(r"^[A-Z0-9]{4}(?:-[A-Z0-9]{4}){3}$")
FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
)
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

    def pdf(self, cert: Mapping[str, Any]) -> bytes:
        """The certificate as a one-page A4 landscape PDF."""
        return render_pdf(cert, self.verify_url(cert))


def _font(pdf: FPDF) -> tuple[str, bool]:
    """A Unicode TrueType font when the system has one, else Helvetica (Latin-1 only)."""
    for path in FONT_CANDIDATES:
        if path.is_file():
            pdf.add_font("Body", "", str(path))
            return "Body", True
    return "Helvetica", False


_UNFOLDABLE = str.maketrans(
    {"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "ı": "i", "Œ": "OE", "œ": "oe"}
)
"""Letters with no decomposition into a Latin-1 base letter."""


def _latin1(text: str) -> str:
    """Text for the core PDF fonts (Latin-1): other letters lose their accents ("Łukasz" →
    "Lukasz") rather than crash the PDF; what cannot be folded is dropped."""
    out = []
    for ch in text.translate(_UNFOLDABLE):
        if ord(ch) < 256:
            out.append(ch)
        else:
            folded = unicodedata.normalize("NFKD", ch)
            out.append("".join(c for c in folded if ord(c) < 256 and not unicodedata.combining(c)))
    return "".join(out)


def render_pdf(cert: Mapping[str, Any], verify_url: str) -> bytes:
    """Draw the certificate: title, name, course, dates, code, URL and a QR code."""
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.add_page()
    family, unicode_ok = _font(pdf)
    clean = (lambda s: s) if unicode_ok else _latin1
    pdf.set_draw_color(40, 70, 120)
    pdf.set_line_width(1.5)
    pdf.rect(10, 10, 277, 190)

    def line(text: str, size: int, height: float) -> None:
        pdf.set_font(family, size=size)
        pdf.cell(0, height, clean(text), align="C", new_x="LMARGIN", new_y="NEXT")

    pdf.set_y(32)
    line(cert["title"], 30, 16)
    line("This certifies that", 14, 12)
    line(cert["name"], 28, 16)
    line(f"has completed the course {cert['course_title']}", 16, 12)
    issued = _aware(cert["issued"]).strftime("%d %B %Y")
    line(f"Issued {issued}", 13, 9)
    if cert.get("expires"):
        line(f"Valid until {_aware(cert['expires']).strftime('%d %B %Y')}", 13, 9)
    pdf.set_y(150)
    pdf.set_x(20)
    pdf.set_font(family, size=11)
    pdf.multi_cell(200, 7, clean(f"Verification code: {cert['code']}\nVerify at: {verify_url}"))
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
<html lang="en"><head><meta charset="utf-8"><title>Certificate verification</title>
<meta name="robots" content="noindex"></head>
<body style="font-family: sans-serif; max-width: 36rem; margin: 3rem auto">
<h1>Certificate {{ status }}</h1>
<p>Awarded to <strong>{{ cert.name }}</strong></p>
<p><strong>{{ cert.title }}</strong>: {{ cert.course_title }}</p>
<p>Code {{ cert.code }} · issued {{ issued }}
{% if expires %} · valid until {{ expires }}{% endif %}</p>
{% if status == "valid" %}<p>This certificate is genuine and currently valid.</p>
{% elif status == "expired" %}<p>This certificate was genuine but has expired.</p>
{% else %}<p>This certificate has been revoked and is no longer valid.</p>{% endif %}
</body></html>"""


def blueprint(certificates: Certificates, clock: Any) -> Blueprint:
    """`GET /certificates/<code>.pdf` and the public page `GET /certificates/<code>`; any
    unknown or malformed code is a plain 404 that reveals nothing."""
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
            certificates.pdf(cert),
            mimetype="application/pdf",
            headers={"Content-Disposition": f'inline; filename="certificate-{cert["code"]}.pdf"'},
        )

    @bp.get("/certificates/<code>")
    def verify(code: str):
        cert = found(code)
        expires = cert.get("expires")
        page = render_template_string(
            PAGE,
            cert=cert,
            status=status(cert, clock()),
            issued=_aware(cert["issued"]).strftime("%d %B %Y"),
            expires=_aware(expires).strftime("%d %B %Y") if expires else "",
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
