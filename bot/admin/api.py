"""The read-only JSON API (`/api/v1/...`), authorised by `Authorization: Bearer <ADMIN_TOKEN>`."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, jsonify, request

from bot.admin.auth import bearer_ok
from bot.admin.exports import plain
from bot.reports import STATUSES, Reports
from bot.services import Services

log = logging.getLogger(__name__)


def blueprint(services: Services) -> Blueprint:
    bp = Blueprint("admin_api", __name__, url_prefix="/api/v1")
    reports = Reports(services.store)

    @bp.before_request
    def authorise():
        if not bearer_ok(services.config):
            log.warning(
                "admin api: refused %s %s from %s",
                request.method,
                request.path,
                request.remote_addr,
            )
            response = jsonify({"error": "unauthorized"})
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Bearer realm="trainbot"'
            return response
        return None

    @bp.after_request
    def no_store(response):
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @bp.get("/courses")
    def courses():
        return jsonify(
            [
                {
                    "id": c.id,
                    "title": c.title,
                    "sessions": len(c.sessions),
                    "language": c.settings.get("language", "en"),
                }
                for c in services.library.current().courses
            ]
        )

    @bp.get("/courses/<course_id>/report")
    def course_report(course_id: str):
        course = services.library.current().get(course_id)
        if course is None:
            abort(404)
        return jsonify(reports.course_report(course, services.conversations.clock()).as_dict())

    @bp.get("/learners")
    def learners():
        status = request.args.get("status") or None
        if status and status not in STATUSES:
            return jsonify({"error": f"status must be one of {', '.join(STATUSES)}"}), 400
        limit = request.args.get("limit", "1000")
        if not limit.isdecimal() or not 1 <= int(limit) <= 10_000:
            return jsonify({"error": "limit must be a number from 1 to 10000"}), 400
        rows = reports.learner_rows(
            services.conversations.clock(),
            course=request.args.get("course") or None,
            status=status,
            limit=int(limit),
        )
        return jsonify([{k: plain(v) for k, v in row.items()} for row in rows])

    @bp.errorhandler(404)
    def not_found(_):
        return jsonify({"error": "not found"}), 404

    return bp
