"""The learner pages: the filtered table, one learner's timeline and the actions on it
(nudge, reset, move, unblock), and the deliveries that wait for an admin."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from bot.admin import actions
from bot.admin.auth import current_admin
from bot.admin.views_common import _back, _html, session_label
from bot.reports import STATUSES, Reports
from bot.services import Services


def add_routes(bp: Blueprint, services: Services, reports: Reports) -> None:
    """`/admin/learners…` and `/admin/deliveries` with their forms."""
    _now = services.conversations.clock  # the bot's clock: figures agree with what it did

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
        catalog = services.library.current()
        for row in rows:  # titles for people, ids in the tooltip
            course = catalog.get(row["course"])
            row["course_title"] = course.title if course else row["course"]
            row["current_title"] = session_label(course, row["current"])
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
