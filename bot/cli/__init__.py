"""The `trainbot` command: serve, chat, clock, and content tools for authors.

The click group lives in `group.py`; each module below adds the commands of one concern
to it when it is imported, so importing this package builds the whole command tree."""

from __future__ import annotations

from bot.cli import backup, content, credentials, learners, reports, serve
from bot.cli.group import main

__all__ = ["backup", "content", "credentials", "learners", "main", "reports", "serve"]
