"""WSGI entry point for gunicorn: `gunicorn app:app`."""

from bot.web import serving_app

app = serving_app()
