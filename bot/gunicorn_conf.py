"""gunicorn's settings, in one place for every way the bot is served.

The Procfile (`gunicorn -c python:bot.gunicorn_conf app:app`), `trainbot serve` and the
benchmarks all read this module, so a timeout or a thread count is changed here once and
production, `make run` and `make bench` cannot drift apart. Settings on gunicorn's command
line (`--workers 3`, `--bind …`) still win over these, as gunicorn documents.

- `gthread` workers, 8 threads each: a webhook mostly waits (the store, Twilio, Slack), so
  threads keep a worker busy without a process per request.
- `workers`: `WEB_CONCURRENCY` when set (what Procfile hosts set to size a dyno), else 1
  on the embedded store, whose data directory has one owner process, and 2 on MongoDB.
- `timeout` 30 s: a webhook answers at once (slow work runs on the lanes), so a worker
  silent for 30 s is stuck; Twilio itself gives up after 15 s.
- `graceful_timeout` 20 s: on a deploy's SIGTERM, in-flight requests finish; it stays below
  the 30 s most Procfile hosts wait before SIGKILL.
- `bind`: all interfaces on `PORT` (the platform's), 8000 when unset.
"""

from __future__ import annotations

from typing import Any

from bot.config import startup_config
from bot.settings import WebSettings

worker_class = "gthread"
threads = 8
timeout = 30
graceful_timeout = 20


def default_workers(embedded: bool, config: WebSettings) -> int:
    """`WEB_CONCURRENCY` if set, else one process on the embedded store, two on MongoDB."""
    if config.web_concurrency:
        return config.web_concurrency
    return 1 if embedded else 2


def settings(embedded: bool, bind: str, config: WebSettings) -> dict[str, Any]:
    """This module's settings for a server on `bind` (for `trainbot serve`, which runs
    gunicorn in-process and cannot pass `-c`)."""
    return {
        "bind": bind,
        "workers": default_workers(embedded, config),
        "worker_class": worker_class,
        "threads": threads,
        "timeout": timeout,
        "graceful_timeout": graceful_timeout,
    }


# Read as the app reads it (the environment over `.env`), so both agree on the store; a bad
# setting stops the gunicorn master here, with one line, before any worker starts.
_config = startup_config()
workers = default_workers(embedded=not _config.mongodb_uri, config=_config)
bind = f"0.0.0.0:{_config.port}"
