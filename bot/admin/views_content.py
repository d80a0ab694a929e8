"""The content, certification, languages and audit pages, and revoking a certificate."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from bot.admin import actions
from bot.admin.auth import current_admin
from bot.admin.course_charts import certificate_bars, question_bars
from bot.admin.languages import shipped_languages
from bot.admin.preview import previews
from bot.admin.views_common import _back
from bot.reports import Reports
from bot.services import Services
from flows.course import Course
from flows.messages import CATALOG, LANGUAGES


def add_routes(bp: Blueprint, services: Services, reports: Reports) -> None:
    """`/admin/content`, `/admin/certification` (+ revoke), `/admin/languages`, `/admin/audit`."""
    _now = services.conversations.clock  # the bot's clock: figures agree with what it did

    @bp.post("/certificates/<code>/revoke")
    def revoke(code: str):
        who = current_admin() or "admin"
        try:
            actions.revoke(services, who, code, request.form.get("reason", ""), _now())
            flash(f"Certificate {code} revoked.", "ok")
        except actions.ActionError as exc:
            flash(str(exc), "error")
        return redirect(_back(url_for("admin.certification")))

    # --- content, certification, languages, audit ----------------------------------------

    def _details(c: Course) -> dict[str, Any]:
        """One course's block on the content page (its quiz items computed once)."""
        quiz = reports.quiz_items(c)
        return {
            "course": c,
            "previews": previews(c),
            "quiz": quiz,
            "quiz_chart": question_bars(c, quiz) if quiz else None,
            "first_attempts": {
                f["session"]: f["first_attempt_pass_rate"]
                for f in reports.course_report(c, _now()).funnel
            },
            "questions": reports.questions(c),
        }

    @bp.get("/content")
    def content():
        catalog = services.library.current()
        return render_template(
            "admin/content.html",
            problems=services.library.problems,
            loaded_at=services.library.loaded_at,
            details=[_details(c) for c in catalog.courses],
        )

    @bp.get("/certification")
    def certification():
        catalog = services.library.current()
        course = catalog.get(request.args.get("course")) or (
            catalog.courses[0] if catalog.courses else None
        )
        data = reports.certification(course, _now()) if course else None
        report = reports.course_report(course, _now()) if course else None
        return render_template(
            "admin/certification.html",
            course=course,
            data=data,
            report=report,
            certificates=reports.certificate_rows(_now(), course.id) if course else [],
            states_chart=certificate_bars(
                course.title, reports.certificate_states(course.id, _now())
            )
            if course
            else None,
            now=_now(),
        )

    @bp.get("/languages")
    def languages():
        catalog = services.library.current()
        return render_template(
            "admin/languages.html",
            total=len(CATALOG),
            languages=shipped_languages(),
            course_languages=[
                (c, str(c.settings.get("language") or "en")) for c in catalog.courses
            ],
            shipped=set(LANGUAGES),
            english=CATALOG,
        )

    @bp.get("/audit")
    def audit():
        return render_template("admin/audit.html", entries=actions.recent_audit(services))
