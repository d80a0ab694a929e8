"""Clock jobs (APScheduler 3): run by `trainbot clock`, or inside `serve` on the embedded
store, whose memory another process cannot see."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from bot.channels.whatsapp import WhatsAppSender
from bot.services import Services

RETRY_SECONDS = 10
UPKEEP_SECONDS = 60  # the embedded store's TTL expiry and compaction (MongoDB's TTL monitor: 60 s)
TEMPLATES_SECONDS = 3600  # WhatsApp Content templates re-checked (an approval may come later)
INTERVALS = {"store": UPKEEP_SECONDS, "templates": TEMPLATES_SECONDS}


def jobs(services: Services) -> dict[str, Callable[[], object]]:
    """Every clock job by name; `trainbot clock --once` runs them all once."""
    named: dict[str, Callable[[], object]] = {"deliveries": services.conversations.deliver_due}
    named["effects"] = services.conversations.perform_due
    if services.engagement is not None:
        named["engagement"] = services.engagement.run_due
    if services.webhooks is not None:
        named["webhooks"] = services.webhooks.run_due
    if services.xapi is not None:
        named["xapi"] = services.xapi.send_due
    if (engine := services.store.engine) is not None:
        named["store"] = lambda: engine.upkeep(services.outbox.clock())
    whatsapp = services.outbox.senders.get("whatsapp")
    if isinstance(whatsapp, WhatsAppSender) and whatsapp.templates:
        named["templates"] = lambda: whatsapp.check_templates(services.store)
    return named


def build_scheduler(services: Services, blocking: bool = False) -> BaseScheduler:
    """A scheduler with every job registered (not started). APScheduler logs each run at
    INFO (several lines every 10 s); only its warnings and errors reach the log."""
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    scheduler = (BlockingScheduler if blocking else BackgroundScheduler)(timezone=UTC)
    for name, job in jobs(services).items():
        scheduler.add_job(
            job,
            "interval",
            seconds=INTERVALS.get(name, RETRY_SECONDS),
            id=name,
            name=name,
            max_instances=1,
            coalesce=True,
            # the hourly check runs at start too: a wrong template shows before it is needed
            **({"next_run_time": datetime.now(UTC)} if name == "templates" else {}),
        )
    return scheduler
