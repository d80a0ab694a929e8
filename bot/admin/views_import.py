"""Roster import and the CSV / JSON exports."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request
from werkzeug.exceptions import RequestEntityTooLarge

from bot import roster
from bot.admin import actions
from bot.admin.auth import current_admin
from bot.admin.exports import KINDS, rows_for, to_csv, to_json
from bot.reports import Reports
from bot.services import Services


def add_routes(bp: Blueprint, services: Services, reports: Reports) -> None:
    """`/admin/import` (and its size error) and `/admin/export/<kind>.<fmt>`."""
    config = services.config
    _now = services.conversations.clock  # the bot's clock: figures agree with what it did

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
