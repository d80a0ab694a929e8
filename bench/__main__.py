"""`make bench`: run every section, then print one table of figures and the machine.

Each section is a function returning `bench.table.Figure`s; register a new one by adding
one line to `SECTIONS`.
"""

import sys
import time

from bench import (
    assistant,
    content_check,
    durable_store,
    gunicorn_webhooks,
    memory,
    production,
    whatsapp_messages,
    whatsapp_webhook,
)
from bench.table import Figure, Section, machine, render

SECTIONS: dict[str, Section] = {
    "whatsapp webhooks under gunicorn vs flask hello": gunicorn_webhooks.section,
    "slack events under gunicorn vs flask hello": gunicorn_webhooks.slack_section,
    "production layout on the wire server vs flask hello": production.section,
    "whatsapp webhook on the werkzeug server": whatsapp_webhook.section,
    "durable store vs memory, restart, size": durable_store.section,
    "content check": content_check.section,
    "memory and document size": memory.section,
    "assistant retrieval and prompt size": assistant.section,
    "whatsapp messages per completed course": whatsapp_messages.section,
}


def main(only: list[str]) -> None:
    figures: list[Figure] = []
    for title, section in SECTIONS.items():
        if only and not any(word in title for word in only):
            continue
        started = time.perf_counter()
        print(f"… {title}", file=sys.stderr, flush=True)
        figures += section()
        print(f"  done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    print(render(figures))
    print(f"\nmachine: {machine()}")
    unmet = [f for f in figures if f.met is False]
    print(f"targets: {sum(f.met is True for f in figures)} met, {len(unmet)} not met")


if __name__ == "__main__":
    main(sys.argv[1:])
