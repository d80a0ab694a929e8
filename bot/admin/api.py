"""The read-only JSON API (`/api/v1/...`), authorised by `Authorization: Bearer <ADMIN_TOKEN>`.

`openapi.yaml` beside this file describes it (served at `/api/v1/openapi.json`, behind the
same token: everything under `/api/v1` needs it, and the document is in the package for
anyone who wants it offline). List endpoints keep their array bodies and paginate with
`limit` + an opaque `cursor`; the next page is named in `Link` and `X-Next-Cursor` headers.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml
from flask import Blueprint, Response, abort, jsonify, request

from bot.admin.auth import bearer_ok
from bot.admin.exports import plain
from bot.reports import STATUSES, Reports
from bot.services import Services

log = logging.getLogger(__name__)

OPENAPI = Path(__file__).with_name("openapi.yaml")
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000


class Invalid(ValueError):
    """A query parameter the API refuses with 400 (the message says which and why)."""


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI document, read once."""
    document: dict[str, Any] = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    return document


def encode_cursor(position: Sequence[str]) -> str:
    """An opaque cursor for the row at `position` (its sort key)."""
    raw = json.dumps(list(position), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> tuple[str, ...]:
    """`encode_cursor`'s inverse; `Invalid` for anything this API did not hand out."""
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        position = None
    if not (
        isinstance(position, list)
        and len(position) == size
        and all(isinstance(part, str) for part in position)
    ):
        raise Invalid("cursor is not one this API returned")
    return tuple(position)


def page_limit() -> int:
    """The `limit` parameter (rows per page)."""
    limit = request.args.get("limit", str(DEFAULT_LIMIT))
    if not limit.isdecimal() or not 1 <= int(limit) <= MAX_LIMIT:
        raise Invalid(f"limit must be a number from 1 to {MAX_LIMIT}")
    return int(limit)


def paged(
    rows: list[dict[str, Any]], limit: int, position: Callable[[dict], Sequence[str]]
) -> Response:
    """The JSON array of the first `limit` of `rows` (fetched as `limit + 1`, to know whether
    more follow), with `Link: <…>; rel="next"` and `X-Next-Cursor` when they do."""
    response = jsonify([{k: plain(v) for k, v in row.items()} for row in rows[:limit]])
    if len(rows) > limit:
        cursor = encode_cursor(position(rows[limit - 1]))
        args = {k: v for k, v in request.args.items(multi=True) if k != "cursor"}
        following = f"{request.path}?{urlencode({**args, 'cursor': cursor})}"
        response.headers["Link"] = f'<{following}>; rel="next"'
        response.headers["X-Next-Cursor"] = cursor
    return response


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

    @bp.get("/openapi.json")
    def openapi():
        return jsonify(openapi_document())

    @bp.get("/courses")
    def courses():
        limit = page_limit()
        cursor = request.args.get("cursor")
        after = decode_cursor(cursor, 1)[0] if cursor else ""
        rows = [
            {
                "id": c.id,
                "title": c.title,
                "sessions": len(c.sessions),
                "language": c.settings.get("language", "en"),
            }
            for c in sorted(services.library.current().courses, key=lambda c: c.id)
            if c.id > after
        ]
        return paged(rows[: limit + 1], limit, lambda row: (row["id"],))

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
            raise Invalid(f"status must be one of {', '.join(STATUSES)}")
        limit = page_limit()
        cursor = request.args.get("cursor")
        after = decode_cursor(cursor, 2) if cursor else None
        rows = reports.learner_rows(
            services.conversations.clock(),
            course=request.args.get("course") or None,
            status=status,
            limit=limit + 1,
            after=(after[0], after[1]) if after else None,
            by_key=True,
        )
        return paged(rows, limit, lambda row: (row["key"], row["course"]))

    @bp.errorhandler(Invalid)
    def invalid(exc: Invalid) -> tuple[Response, int]:
        return jsonify({"error": str(exc)}), 400

    @bp.errorhandler(404)
    def not_found(_):
        return jsonify({"error": "not found"}), 404

    return bp
