"""The admin pages: overview, learners, a learner's timeline and actions, content,
certification, roster import, exports, languages and the audit log.

Pages are server-rendered (Jinja escapes every learner-supplied string) and work without
JavaScript; every form carries a CSRF token.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from bot import roster
from bot.admin import actions, signin, views_content, views_import, views_learners
from bot.admin.auth import (
    SECURITY_HEADERS,
    csrf_ok,
    csrf_token,
    current_admin,
    sign_in,
    token_matches,
)
from bot.admin.course_charts import weekly_charts
from bot.admin.durations import format_duration
from bot.admin.views_common import _back, course_label, session_label
from bot.admin.webhook_views import add_routes as add_webhook_routes
from bot.reports import ANSWER_MODES, Reports
from bot.services import Services

log = logging.getLogger(__name__)

PUBLIC_ENDPOINTS = {"admin.login", "admin.signin_link", "admin.static"}
# Wrong sign-in tokens per client address. A right token is always accepted, so a real
# admin behind the same address as an attacker is never locked out (docs/hardening.md).
LOGIN_FAILURES = "5 per 5 minutes"


def blueprint(services: Services) -> Blueprint:
    bp = Blueprint(
        "admin",
        __name__,
        url_prefix="/admin",
        template_folder="templates",
        static_folder="static",
        static_url_path="/static",
    )
    bp.add_app_template_filter(format_duration, "duration")
    reports = Reports(services.store)
    config = services.config
    _now = services.conversations.clock  # the bot's clock: figures agree with what it did

    @bp.context_processor
    def common() -> dict[str, Any]:
        return {
            "csrf_token": csrf_token,
            "admin_name": current_admin(),
            "generated_token": config.admin_token_generated,
            "courses": services.library.current().courses,
            "answer_modes": ANSWER_MODES,
            "session_label": session_label,
            "course_title": lambda course_id: course_label(services.library.current(), course_id),
            "session_title": lambda course_id, session_id: session_label(
                services.library.current().get(course_id), session_id
            ),
        }

    @bp.before_request
    def guard():
        if request.endpoint == "admin.static":
            return None
        if request.endpoint not in PUBLIC_ENDPOINTS and current_admin() is None:
            return render_template("admin/login.html", next=request.full_path), 401
        if request.endpoint == "admin.import_roster":  # signed in: allow a roster's size
            request.max_content_length = roster.MAX_BYTES + 64 * 1024
        if request.method == "POST" and not csrf_ok():
            log.warning(
                "admin: refused a %s without a valid CSRF token from %s",
                request.path,
                request.remote_addr,
            )
            return render_template(
                "admin/error.html",
                message="This form expired or did not come from this site. "
                "Reload the page and try again.",
            ), 400
        return None

    @bp.after_request
    def headers(response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        return response

    # --- sign in ------------------------------------------------------------------------

    def _refused(message: str, status: int) -> tuple[str, int]:
        return render_template("admin/login.html", error=message, next=_back("/admin")), status

    def _signed_in(name: str, how: str) -> ResponseReturnValue:
        address = request.remote_addr or "?"
        sign_in(name)
        actions.audit(services, name, "sign_in", None, _now(), address=address, how=how)
        log.info("admin: %s signed in from %s (%s)", name, address, how)
        return redirect(_back(url_for("admin.overview")))

    @bp.route("/login", methods=["GET", "POST"])
    def login():
        if request.method == "GET":
            return render_template("admin/login.html", next=_back("/admin"))
        address = request.remote_addr or "?"
        if token_matches(config, request.form.get("token", "")):
            return _signed_in((request.form.get("name") or "").strip()[:60] or "admin", "token")
        if not services.limits.hit(LOGIN_FAILURES, "login", address):
            if services.limits.once("1/minute", "login", address):
                log.warning("admin: sign-in from %s over %s wrong tokens", address, LOGIN_FAILURES)
            return _refused("Too many wrong tokens. Wait a few minutes and try again.", 429)
        log.warning("admin: wrong token from %s", address)
        return _refused("That token is not right.", 401)

    @bp.get("/signin/<code>")
    def signin_link(code: str):
        """The one-time link printed at start when no ADMIN_TOKEN is set."""
        if signin.redeem(services.store, code, _now()):
            return _signed_in("admin", "one-time link")
        log.warning("admin: spent, expired or unknown sign-in link from %s", request.remote_addr)
        return _refused("That sign-in link was already used or has expired.", 401)

    @bp.post("/logout")
    def logout():
        from flask import session

        session.clear()
        return redirect(url_for("admin.login"))

    # --- overview -----------------------------------------------------------------------

    @bp.get("")
    def overview():
        catalog = services.library.current()
        return render_template(
            "admin/overview.html",
            reports=reports.overview(catalog, _now()),
            trends={
                c.id: weekly_charts(c.title, reports.weekly(c.id, _now())) for c in catalog.courses
            },
            now=_now(),
            content_errors=sum(not p.warning for p in services.library.problems),
            parked=len(services.store.parked_learners()),
            problems=services.store.open_problems(),
            xapi=services.xapi.status() if services.xapi is not None else None,
        )

    views_learners.add_routes(bp, services, reports)
    add_webhook_routes(bp, services)
    views_content.add_routes(bp, services, reports)
    views_import.add_routes(bp, services, reports)

    return bp
