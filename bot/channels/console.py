"""The terminal channel: `trainbot chat` reads learner lines and prints the bot's replies.

Lines starting with `/` are console controls (`/quit`, `/help`); the table is open so that
later controls (such as simulated time) plug in without touching the loop.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TextIO

from bot.render import to_whatsapp
from bot.services import Services
from flows.events import Inbound, Reply


class ConsoleSender:
    """Prints replies as WhatsApp-style text with buttons shown as [choices]."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def send(self, learner: Mapping[str, Any], reply: Reply) -> str | None:
        lines = [to_whatsapp(reply.text)]
        lines += [f"🖼  {m.alt or m.path} ({m.path})" for m in reply.media]
        if reply.buttons:
            lines.append("  ".join(f"[{b.title}]" for b in reply.buttons))
        self.out.write("\n".join(lines) + "\n\n")
        self.out.flush()
        return None


Control = Callable[[str], bool]  # returns False to end the chat


def run_chat(
    services: Services,
    lines: Iterable[str],
    out: TextIO,
    key: str,
    name: str,
    controls: Mapping[str, Control] | None = None,
) -> None:
    """Feed each line to the bot as learner `key` until the lines end or `/quit`."""

    def show_help(_: str) -> bool:
        out.write("Console controls: " + ", ".join(sorted(table)) + "\n")
        return True

    table: dict[str, Control] = {
        "/quit": lambda _: False,
        "/exit": lambda _: False,
        "/help": show_help,
        **(controls or {}),
    }
    session = uuid.uuid4().hex[:8]
    for number, line in enumerate(lines, start=1):
        text = line.rstrip("\n")
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0].lower()
            control = table.get(command)
            if control is None:
                out.write(f"Unknown console control {command}; try /help\n")
            elif not control(text):
                return
            continue
        services.conversations.handle(
            Inbound(
                key=key,
                channel="console",
                text=text,
                name=name,
                message_id=f"console-{session}-{number}",
            )
        )


def prompt_lines(stream: TextIO = sys.stdin, prompt: str = "you> ") -> Iterable[str]:
    """Lines from a terminal with a prompt, or from a pipe as they are."""
    interactive = stream.isatty()
    while True:
        if interactive:
            sys.stdout.write(prompt)
            sys.stdout.flush()
        line = stream.readline()
        if not line:
            return
        yield line
