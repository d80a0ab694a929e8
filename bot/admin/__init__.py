"""The admin side: server-rendered pages under `/admin` and a read-only JSON API under
`/api/v1`, both built on `bot.reports`."""

from __future__ import annotations

from flask import Flask

from bot.admin.auth import configure_sessions
from bot.services import Services


def register(app: Flask, services: Services) -> None:
    """Mount the admin pages and API on the app."""
    from bot.admin.api import blueprint as api_blueprint
    from bot.admin.views import blueprint as pages_blueprint

    configure_sessions(app, services.config)
    app.register_blueprint(pages_blueprint(services))
    app.register_blueprint(api_blueprint(services))
