"""The admin pages: overview, learners, a learner's timeline and actions, content,
certification, roster import, exports, languages and the audit log.

Pages are server-rendered (Jinja escapes every learner-supplied string) and work without
JavaScript; every form carries a CSRF token.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response as WerkzeugResponse

from bot import roster
from bot.admin import actions, signin
from bot.admin.auth import (
    SECURITY_HEADERS,
    csrf_ok,
    csrf_token,
    current_admin,
    sign_in,
    token_matches,
)
from bot.admin.exports import KINDS, rows_for, to_csv, to_json
from bot.admin.languages import shipped_languages
from bot.admin.preview import previews
from bot.admin.webhook_views import add_routes as add_webhook_routes
from bot.outbox import reply_from_doc
from bot.render import to_html
from bot.reports import ANSWER_MODES, STATUSES, Reports
from bot.services import Services
from flows.messages import CATALOG, LANGUAGES

log = logging.getLogger(__name__)

PUBLIC_ENDPOINTS = {"admin.login", "admin.signin_link", "admin.static"}
# Wrong sign-in tokens per client address. A right token is always accepted, so a real
# admin behind the same address as an attacker is never locked out (docs/hardening.md).
LOGIN_FAILURES = "5 per 5 minutes"


def _back(default: str) -> str:
    """A same-site path to return to after a form (never an open redirect)."""
    target = request.form.get("next") or request.args.get("next") or ""
    parsed = urlparse(target)
    if target.startswith("/admin") and not parsed.netloc and not parsed.scheme:
        return target
    return default


def _html(reply_doc: dict[str, Any]) -> str:
    """A delivered or queued reply rendered as the web shows it (escaped, media inline)."""
    reply = reply_from_doc(reply_doc)
    return to_html(reply.text[:2000], f"/media/{reply.course_id}" if reply.course_id else "")


def blueprint(services: Services) -> Blueprint:
    bp = Blueprint(
        "admin",
        __name__,
        url_prefix="/admin",
        template_folder="templates",
        static_folder="static",
        static_url_path="/static",
    )
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
            now=_now(),
            content_errors=sum(not p.warning for p in services.library.problems),
            parked=len(services.store.parked_learners()),
            problems=services.store.open_problems(),
            xapi=services.xapi.status() if services.xapi is not None else None,
        )

    # --- learners -----------------------------------------------------------------------

    @bp.get("/learners")
    def learners():
        filters = {
            name: (request.args.get(name) or "").strip()[:100] or None
            for name in ("course", "status", "role", "manager", "channel", "q")
        }
        if filters["status"] and filters["status"] not in STATUSES:
            filters["status"] = None
        rows = reports.learner_rows(
            _now(),
            course=filters["course"],
            status=filters["status"],
            role=filters["role"],
            manager=filters["manager"],
            channel=filters["channel"],
            search=filters["q"],
            limit=500,
        )
        choices = {
            name: sorted(str(v) for v in services.store.learners.values(path) if v)
            for name, path in (
                ("roles", "profile.role"),
                ("managers", "profile.manager"),
                ("channels", "channel"),
            )
        }
        return render_template(
            "admin/learners.html", rows=rows, filters=filters, statuses=STATUSES, **choices
        )

    @bp.get("/learners/<path:key>")
    def learner(key: str):
        doc = services.store.load(key)
        if doc is None:
            abort(404)
        page = reports.learner_page(doc, services.library.current(), _now())
        for item in page["timeline"]:
            if "reply" in item:
                item["html"] = _html(item.pop("reply"))
        return render_template(
            "admin/learner.html",
            key=key,
            doc=doc,
            **page,
            audit=actions.recent_audit(services, key, 50),
            now=_now(),
        )

    def _act(key: str, run: Callable[[], object]) -> WerkzeugResponse:
        try:
            run()
        except actions.ActionError as exc:
            flash(str(exc), "error")
        else:
            flash("Done.", "ok")
        return redirect(url_for("admin.learner", key=key))

    @bp.post("/learners/<path:key>/nudge")
    def nudge(key: str):
        who = current_admin() or "admin"
        now = _now()
        try:
            at = actions.nudge(services, who, key, request.form.get("course"), now)
        except actions.ActionError as exc:
            flash(str(exc), "error")
        else:
            flash(
                "Nudge queued: the clock sends it within a minute."
                if at <= now
                else f"Nudge queued for {at:%Y-%m-%d %H:%M} UTC, when the learner's quiet "
                "hours end.",
                "ok",
            )
        return redirect(url_for("admin.learner", key=key))

    @bp.post("/learners/<path:key>/reset")
    def reset(key: str):
        who = current_admin() or "admin"
        if request.form.get("confirm") != "yes":
            flash("Tick the confirmation box to reset progress.", "error")
            return redirect(url_for("admin.learner", key=key))
        return _act(
            key,
            lambda: actions.reset(services, who, key, request.form.get("course", ""), _now()),
        )

    @bp.post("/learners/<path:key>/move")
    def move(key: str):
        who = current_admin() or "admin"
        number = request.form.get("number", "")
        if not number.isdecimal():
            flash("Choose a session number.", "error")
            return redirect(url_for("admin.learner", key=key))
        return _act(
            key,
            lambda: actions.move(
                services, who, key, request.form.get("course", ""), int(number), _now()
            ),
        )

    @bp.post("/learners/<path:key>/unblock")
    def unblock(key: str):
        who = current_admin() or "admin"
        return _act(
            key,
            lambda: actions.unblock(
                services,
                who,
                key,
                request.form.get("course", ""),
                request.form.get("session", ""),
                _now(),
            ),
        )

    # --- deliveries that wait for an admin ---------------------------------------------

    @bp.get("/deliveries")
    def deliveries():
        parked = services.store.parked_learners()
        for doc in parked:
            head = next((e for e in doc["outbox"] if e["seq"] == doc["parked"]["seq"]), {})
            doc["head_html"] = _html(head["reply"]) if head.get("reply") else ""
            doc["waiting"] = len(doc["outbox"])
        return render_template("admin/deliveries.html", parked=parked, now=_now())

    @bp.post("/learners/<path:key>/delivery/retry")
    def retry_delivery(key: str):
        who = current_admin() or "admin"
        _run_delivery_action(lambda: actions.retry_delivery(services, who, key, _now()))
        return redirect(_back(url_for("admin.deliveries")))

    @bp.post("/learners/<path:key>/delivery/drop")
    def drop_delivery(key: str):
        who = current_admin() or "admin"
        _run_delivery_action(lambda: actions.drop_delivery(services, who, key, _now()))
        return redirect(_back(url_for("admin.deliveries")))

    def _run_delivery_action(run) -> None:
        try:
            run()
        except actions.ActionError as exc:
            flash(str(exc), "error")
        else:
            flash("Done: the learner's queue is moving again.", "ok")

    add_webhook_routes(bp, services)

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

    @bp.get("/content")
    def content():
        catalog = services.library.current()
        return render_template(
            "admin/content.html",
            problems=services.library.problems,
            loaded_at=services.library.loaded_at,
            details=[
                {
                    "course": c,
                    "previews": previews(c),
                    "quiz": reports.quiz_items(c),
                    "first_attempts": {
                        f["session"]: f["first_attempt_pass_rate"]
                        for f in reports.course_report(c, _now()).funnel
                    },
                    "questions": reports.questions(c),
                }
                for c in catalog.courses
            ],
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

    # --- roster import and exports -------------------------------------------------------

    @bp.route("/import", methods=["GET", "POST"])
    def import_roster():
        if request.method == "GET":
            return render_template("admin/import.html", result=None)
        upload = request.files.get("roster")
        if upload is None or not upload.filename:
            return render_template(
                "admin/import.html", result=None, error="Choose a CSV file."
            ), 400
        try:
            result = roster.import_roster(
                services.store,
                upload.read(roster.MAX_BYTES + 1),
                services.library.current(),
                _now(),
                region=(request.form.get("region") or "").strip().upper() or None,
                slack_team=config.slack_team_id or None,
            )
        except roster.RosterError as exc:
            return render_template("admin/import.html", result=None, error=str(exc)), 400
        who = current_admin() or "admin"
        if request.form.get("invite") == "yes":
            result.invited = actions.invite(services, who, result.new, _now())
        actions.audit(
            services,
            who,
            "import",
            None,
            _now(),
            file=upload.filename[:200],
            created=result.created,
            updated=result.updated,
            unchanged=result.unchanged,
            rejected=len(result.errors),
            invited=result.invited,
        )
        return render_template("admin/import.html", result=result)

    @bp.errorhandler(RequestEntityTooLarge)
    def too_large(_):
        if request.endpoint != "admin.import_roster":
            return render_template("admin/error.html", message="The request is too large."), 413
        error = f"The file is larger than {roster.MAX_BYTES // (1024 * 1024)} MB."
        return render_template("admin/import.html", result=None, error=error), 413

    @bp.get("/export/<kind>.<fmt>")
    def export(kind: str, fmt: str):
        if kind not in KINDS or fmt not in ("csv", "json"):
            abort(404)
        rows = rows_for(reports, kind, _now(), request.args.get("course") or None)
        body = to_csv(rows) if fmt == "csv" else to_json(rows)
        stamp = _now().strftime("%Y%m%d")
        return Response(
            body,
            mimetype="text/csv" if fmt == "csv" else "application/json",
            headers={"Content-Disposition": f'attachment; filename="{kind}-{stamp}.{fmt}"'},
        )

    return bp
