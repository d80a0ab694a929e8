"""WSGI entry point for gunicorn: `gunicorn app:app`."""

from bot.web import create_app, freeze_startup_heap

app = create_app()
freeze_startup_heap()
