"""The Flask application factory: health, media, and every channel's routes."""

from __future__ import annotations

import gc
import logging
import sys
from datetime import UTC, datetime, timedelta

from flask import Flask, abort, jsonify, redirect
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.security import safe_join

from bot import certificates, credentials, security
from bot.admin import signin
from bot.channels.registry import enabled, senders_for
from bot.config import Config, startup_config
from bot.lanes import Lanes
from bot.observability import instrument
from bot.services import Services, build_services
from bot.store import StoreError

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 1024 * 1024


def freeze_startup_heap() -> None:
    """Exempt what start-up built (modules, courses, the tokenizer, retrieval indexes) from
    the garbage collector's full passes, in a serving process once its app is built.

    A full pass over those objects took ~80 ms and stalls every request in flight: it was
    the 60–75 ms p99 of `make bench`'s paced run, once every few runs. They live as long as
    the process, so scanning them can never free anything."""
    gc.collect()
    gc.freeze()


def serving_app(config: Config | None = None) -> Flask:
    """The app as a serving process runs it (`gunicorn app:app` or `trainbot serve`).

    On the embedded store this process owns the data directory, so no `trainbot clock` can
    reach it: the clock's jobs (retries, reminders, the store's upkeep) run here. A second
    worker on the same directory stops at start with `DataDirLocked`, naming the fix; a bad
    setting stops it with one line (`startup_config`)."""
    app = create_app(config or startup_config())
    services: Services = app.extensions["trainbot"]
    if services.store.embedded:
        from bot.scheduler import build_scheduler

        services.conversations.perform_due(stale=timedelta(0))  # a dead owner's, at once
        build_scheduler(services).start()
    freeze_startup_heap()
    return app


def create_app(config: Config | None = None, services: Services | None = None) -> Flask:
    """Build the web app; background work (delivery, assistant) runs on bounded lanes, one
    per channel and one for the assistant (`bot.lanes`)."""
    given = config or (services.config if services else Config.from_env())
    config = signin.with_credential(given)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    if n := config.trusted_proxy_hops:
        # behind N proxies that set X-Forwarded-*: the client's address for per-IP limits
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    if services is None:
        services = build_services(config, senders_for(config), Lanes())
    services.config = config  # the admin token may have been generated just now
    app.extensions["trainbot"] = services
    if config.admin_signin_code:
        signin.register(services.store, config.admin_signin_code, datetime.now(UTC))
    if not given.admin_token:  # generated here, not by `trainbot serve`: say how to sign in
        print(
            f"admin: no ADMIN_TOKEN; sign in once with {signin.signin_link(config)}",
            file=sys.stderr,
            flush=True,
        )
    security.install(app)
    instrument(
        app,
        lambda: services.store.pending_count(),
        (config.metrics_token or config.admin_token).get_secret_value(),
        services.xapi.sample if services.xapi is not None else None,
    )

    @app.errorhandler(StoreError)
    def store_unavailable(exc: StoreError):
        """The database failed mid-request: nothing was saved; 503 tells Twilio and Slack
        to retry (the message id makes the retry safe) instead of a 500 with a traceback."""
        log.error("store unavailable: %s: %s", type(exc).__name__, exc)
        return jsonify({"error": "temporarily unavailable, please retry"}), 503

    @app.get("/")
    def home():
        """Where a person who opens the bot's address wants to go."""
        return redirect("/simulator" if config.simulator else "/admin")

    @app.get("/readyz")
    def readyz():
        """Ready to take traffic: a write reaches the store and a course is loaded."""
        store_ok = services.store.writable(services.outbox.clock())
        courses = len(services.library.current().courses)
        ready = store_ok and courses > 0
        body = {"ready": ready, "store": store_ok, "courses": courses}
        return jsonify(body), 200 if ready else 503

    @app.get("/healthz")
    def healthz():
        """Alive, which store (backend, where, durable or not), and the courses loaded."""
        status = services.store.status()
        store_ok = services.store.ping() and status.get("writable", True)
        catalog = services.library.current()
        body = {
            "status": "ok" if store_ok else "unavailable",
            "store": {"ok": store_ok, "embedded": services.store.embedded, **status},
            "courses": [
                {"id": c.id, "title": c.title, "sessions": len(c.sessions)} for c in catalog.courses
            ],
            "content_errors": sum(not p.warning for p in services.library.problems),
            # set-up problems an admin must fix (WhatsApp templates, digest channels)
            "setup_problems": len(services.store.open_problems()) if store_ok else None,
        }
        return jsonify(body), 200 if store_ok else 503

    @app.get("/media/<course_id>/media/<path:name>")
    def media(course_id: str, name: str):
        """Files a session references, from its course's `media/` folder and nowhere else,
        and only allow-listed media types (see `bot.security`)."""
        folder = services.library.folder_of(course_id)
        hidden = any(part.startswith(".") for part in name.replace("\\", "/").split("/"))
        if folder is None or hidden or safe_join(str(folder / "media"), name) is None:
            abort(404)  # dot-files (.env, .git) are never media, even inside media/
        return security.send_media(folder / "media", name)

    if services.engagement is not None:
        engagement = services.engagement
        app.register_blueprint(
            certificates.blueprint(
                engagement.certificates,
                engagement.clock,
                lambda course_id: services.library.current().get(course_id),
                engagement.credentials,
            )
        )
        if engagement.credentials is not None:
            app.register_blueprint(
                credentials.blueprint(
                    engagement.credentials, engagement.certificates, engagement.clock
                )
            )
    for channel in enabled(config):  # the simulator, WhatsApp's and Slack's webhooks
        channel.load().routes(app, services)
    from bot.admin import register as register_admin

    register_admin(app, services)
    return app
