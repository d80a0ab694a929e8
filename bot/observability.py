"""Logs, request ids and Prometheus metrics: what an operator needs to see the bot work.

Log lines are JSON (one per event) when not on a terminal, carry the request id of the
webhook that caused them (also in background work started by that request), and pass
through a redaction filter so phone numbers, e-mail addresses and tokens never reach a
log file whole.
"""

from __future__ import annotations

import contextvars
import hmac
import logging
import re
import sys
import uuid
from collections.abc import Callable

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from pythonjsonlogger.json import JsonFormatter

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

MESSAGES_IN = Counter(
    "trainbot_messages_in_total", "Inbound learner messages", ["channel", "status"]
)
MESSAGES_OUT = Counter(
    "trainbot_messages_out_total", "Replies delivered or given up", ["channel", "status"]
)
DELIVERY_FAILURES = Counter(
    "trainbot_delivery_failures_total", "Failed delivery attempts", ["channel", "retryable"]
)
DELIVERY_UNCONFIRMED = Counter(
    "trainbot_delivery_unconfirmed_total",
    "Messages a provider may have accepted without answering (read timeout, connection "
    "closed after sending), by outcome: pending, then found (sent) or not_sent (re-sent)",
    ["channel", "outcome"],
)
OUTBOX_PARKED = Counter(
    "trainbot_outbox_parked_total",
    "Learner queues parked because their head reply finally failed",
    ["channel"],
)
INBOUND_DROPPED = Counter(
    "trainbot_inbound_dropped_total",
    "Inbound messages not processed, by reason",
    ["channel", "reason"],
)
BACKGROUND_REJECTED = Counter(
    "trainbot_background_rejected_total", "Background tasks refused by a full lane", ["lane"]
)
HANDLE_SECONDS = Histogram(
    "trainbot_handle_seconds", "Time to process one inbound message", ["channel"]
)
ASSISTANT_SECONDS = Histogram("trainbot_assistant_seconds", "Time to answer one question", ["mode"])
ASSISTANT_TOKENS = Counter("trainbot_assistant_tokens_total", "Model tokens used", ["kind"])
OUTBOX_PENDING = Gauge(
    "trainbot_outbox_learners_pending", "Learners with undelivered replies (sampled at scrape)"
)
XAPI_SENT = Counter("trainbot_xapi_statements_sent_total", "xAPI statements the LRS took")
XAPI_FAILURES = Counter(
    "trainbot_xapi_failures_total",
    "Failed xAPI sends: the LRS unreachable or refusing us, or a statement rejected",
    ["reason"],
)
XAPI_BACKLOG = Gauge(
    "trainbot_xapi_statements", "xAPI statements not in the LRS (sampled at scrape)", ["status"]
)

# What must never reach a log whole, and what must stay readable. A phone number is a run
# that starts with "+" (E.164, as learner keys and Twilio fields carry it, spacing and
# brackets allowed) or a bare run of 11-15 digits (a WaId); a dotted quad, an IPv6
# address, a date or a time never starts with "+" and breaks its digits with "." or ":",
# so the source of an attack and when it happened stay in the log (issue 16: the old
# pattern turned 203.0.113.7001 and 2026-11-29 15:35:05 into "…7001" and "…2915:35:05").
_PHONE = re.compile(r"\+\d[\d ().-]{5,}\d|(?<![\w.:+-])\d{11,15}(?![\w.:])")
_SECRETS = [
    (_PHONE, lambda m: "…" + re.sub(r"\D", "", m.group())[-4:]),
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"), lambda m: "…@" + m.group().split("@")[1]),
    (re.compile(r"\b(xox[abpre]-[\w-]+|sk-[\w-]{8,}|AC[0-9a-f]{32})\b"), lambda m: "[token]"),
    (
        re.compile(r"(?i)\b(bearer\s+|token[=:]\s*)[\w.~+/-]{8,}=*"),
        lambda m: f"{m.group(1)}[token]",
    ),
    (re.compile(r"/admin/signin/[\w-]+"), lambda m: "/admin/signin/[code]"),
]


def redact(text: str) -> str:
    """Mask phone numbers, e-mail addresses and API tokens in a log message; addresses,
    dates and times stay as they are."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class _Context(logging.Filter):
    """Adds the request id and redacts the rendered message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def configure_logging(level: int = logging.INFO, json_lines: bool | None = None) -> None:
    """Log to stderr: JSON lines for machines, plain text on a terminal."""
    json_lines = (not sys.stderr.isatty()) if json_lines is None else json_lines
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_Context())
    if json_lines:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # twilio logs every REST call as ten INFO lines (URL, each header): noise, not events
    logging.getLogger("twilio.http_client").setLevel(max(level, logging.WARNING))


def instrument(
    app: Flask,
    pending: Callable[[], int],
    token: str,
    sample: Callable[[], None] | None = None,
) -> None:
    """Request ids on every request and response, and `GET /metrics` for a scraper that
    sends `Authorization: Bearer <token>` (METRICS_TOKEN, else the admin token): the
    figures (traffic, failures, backlog) tell an attacker when and how hard to push."""

    @app.before_request
    def _assign_request_id() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if re.fullmatch(r"[\w.-]{1,64}", incoming) else uuid.uuid4().hex
        request_id.set(g.request_id)

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "-")
        return response

    @app.get("/metrics")
    def metrics() -> Response:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode("utf-8", "replace"), token.encode()
        ):
            return Response(
                "unauthorized\n",
                status=401,
                mimetype="text/plain",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        OUTBOX_PENDING.set(pending())
        if sample is not None:  # gauges other parts set at scrape (the xAPI backlog)
            sample()
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)
