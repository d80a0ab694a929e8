"""The terminal channel: `trainbot chat` reads learner lines and prints the bot's replies.

Lines starting with `/` are console controls (`/quit`, `/help`); the table is open so that
later controls (such as simulated time) plug in without touching the loop.
"""

from __future__ import annotations

import re
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
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


class SimulatedClock:
    """Time for `trainbot chat`: starts at `start`, runs at real speed, and jumps forward on
    `/wait` so that reminders can be watched without waiting."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.began = time.monotonic()
        self.skipped = timedelta(0)

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.began) + self.skipped

    def advance(self, delta: timedelta) -> None:
        self.skipped += delta


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([mhd])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
MAX_WAIT = timedelta(days=400)
MAX_JOB_STOPS = 10_000  # bounded even if a job kept rescheduling itself into the window


def parse_duration(text: str) -> timedelta | None:
    """`25h`, `3d`, `1d 12h`, `90m` → timedelta; None for anything else."""
    text = text.strip().lower()
    parts = _DURATION.findall(text)
    if not parts or _DURATION.sub("", text).strip():
        return None
    try:
        return sum((timedelta(**{_UNITS[unit]: float(n)}) for n, unit in parts), timedelta(0))
    except OverflowError:
        return None


def wait_control(services: Services, clock: SimulatedClock, out: TextIO) -> Control:
    """`/wait 25h`: move simulated time forward from one due job to the next, running each
    when it falls due (so a reminder ladder plays out in order and at its real times), then
    say where the clock is."""

    def run_due() -> None:
        services.outbox.flush_due()
        if services.engagement is not None:
            services.engagement.run_due()

    def wait(text: str) -> bool:
        _, _, arg = text.partition(" ")
        delta = parse_duration(arg)
        if delta is None or delta <= timedelta(0) or delta > MAX_WAIT:
            out.write("Usage: /wait 25h, /wait 3d, /wait 90m (at most 400d)\n")
            return True
        target = clock() + delta
        for _ in range(MAX_JOB_STOPS):
            upcoming = services.engagement.jobs.next_due() if services.engagement else None
            if upcoming is None or upcoming > target:
                break
            clock.advance(max(upcoming - clock(), timedelta(0)))
            run_due()
        clock.advance(max(target - clock(), timedelta(0)))
        run_due()
        out.write(f"⏩ {arg.strip()} later: it is now {clock():%a %d %b %Y %H:%M} UTC\n\n")
        out.flush()
        return True

    return wait
