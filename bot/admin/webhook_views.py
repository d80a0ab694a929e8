"""The admin's view of outgoing webhooks (`bot/webhooks.py`): every delivery with its status,
attempts and last error, and a Retry button. Mounted on the admin blueprint, so its sign-in
guard, CSRF check and security headers apply."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from bot.admin import actions
from bot.admin.auth import current_admin
from bot.services import Services


def add_routes(bp: Blueprint, services: Services) -> None:
    """`/admin/webhooks` and its Retry form (the delivery's id is a form field, so the URL
    map holds no new placeholder)."""

    @bp.get("/webhooks")
    def webhooks():
        hooks = services.webhooks
        rows = hooks.recent() if hooks is not None else []
        urls = hooks.urls if hooks is not None else ()
        return render_template("admin/webhooks.html", rows=rows, urls=urls)

    @bp.post("/webhooks/retry")
    def retry_webhook():
        delivery = request.form.get("delivery", "")
        hooks = services.webhooks
        if hooks is not None and hooks.retry(delivery):
            who = current_admin() or "admin"
            actions.audit(services, who, "retry webhook", None, hooks.clock(), id=delivery)
            flash("Queued: the clock sends it within seconds.", "ok")
        else:
            flash("That delivery was sent or changed meanwhile; reload the page.", "error")
        return redirect(url_for("admin.webhooks"))
