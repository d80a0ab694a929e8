"""The Content templates named in `TWILIO_CONTENT_SIDS`, checked against Twilio.

A template's shape is fixed when it is created: a list picker has as many rows as it was
made with, and WhatsApp fills any row the message leaves unset with the template's sample
values. So the sender needs one template per button count (`quick_reply_1`…`_3`,
`list_4`…`list_10`), and a wrong SID, a 10-row template under `list_4` or a `notify`
template that WhatsApp has not approved fails only when a learner is waiting. This check
reads each configured template through the real client's Content API (and `notify`'s
approval), at start-up and then hourly on the clock; every problem becomes a standing
problem on the admin overview (`store.note_problem`) and a count on `/healthz`, until it
is fixed. The expected templates are listed in the README, "Connect WhatsApp".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client
from urllib3.exceptions import HTTPError

from bot.channels.whatsapp_limits import LIST_ROWS_MAX, QUICK_REPLY_MAX
from bot.store import Store

log = logging.getLogger(__name__)

PROBLEM_PREFIX = "whatsapp-template:"
_VARIABLE = re.compile(r"\{\{\s*(\d+)\s*\}\}")
_NAME = re.compile(r"^(quick_reply|list)_(\d+)$")


@dataclass(frozen=True)
class Expected:
    """What a template name must be: its Content type and, for buttons, the row count."""

    kind: str
    rows: int = 0

    @property
    def fields(self) -> str:
        return "actions" if self.kind == "twilio/quick-reply" else "items"


def expected(name: str) -> Expected | None:
    """The shape the sender relies on for template `name`, or None for a name it never
    uses."""
    if name == "notify":
        return Expected("twilio/text")
    match = _NAME.match(name)
    if not match:
        return None
    kind, rows = match.group(1), int(match.group(2))
    if kind == "quick_reply" and 1 <= rows <= QUICK_REPLY_MAX:
        return Expected("twilio/quick-reply", rows)
    if kind == "list" and QUICK_REPLY_MAX < rows <= LIST_ROWS_MAX:
        return Expected("twilio/list-picker", rows)
    return None


def shape_problem(name: str, types: Mapping[str, Any], approval: str | None) -> str | None:
    """Why the template Twilio holds for `name` does not fit how the sender fills it."""
    want = expected(name)
    if want is None:
        return None
    spec = types.get(want.kind)
    if not isinstance(spec, Mapping):
        return f"is {', '.join(types) or 'empty'}, not {want.kind}"
    body = str(spec.get("body", ""))
    if want.kind == "twilio/text":
        if _VARIABLE.findall(body) != ["1"]:
            return "its body must use {{1}} once (the message, as one line)"
        if approval != "approved":
            return f"is not approved for WhatsApp (status: {approval or 'not submitted'})"
        return None
    if body.strip() != "{{1}}":
        return "its body must be exactly {{1}}"
    rows = spec.get(want.fields) or []
    if len(rows) != want.rows:
        return f"has {len(rows)} rows, not {want.rows}: WhatsApp would show sample rows"
    for number, row in enumerate(rows):
        title, ident = str(2 + 2 * number), str(3 + 2 * number)
        found = _VARIABLE.findall(str(row.get("title") or row.get("item") or ""))
        if found != [title] or _VARIABLE.findall(str(row.get("id", ""))) != [ident]:
            return f"row {number + 1} must be title {{{{{title}}}}}, id {{{{{ident}}}}}"
    return None


def check(client: Client, sids: Mapping[str, str]) -> dict[str, str]:
    """Problems by template name (an empty dict: all configured templates fit)."""
    problems: dict[str, str] = {}
    for name, sid in sorted(sids.items()):
        if name == "list":
            problems[name] = (
                "one list template cannot serve every option count (WhatsApp shows its sample "
                "rows): create list_4 … list_10 instead"
            )
            continue
        want = expected(name)
        if want is None:
            problems[name] = "is not a template name the bot uses"
            continue
        try:
            content = client.content.v1.contents(sid).fetch()
            approval = None
            if want.kind == "twilio/text":
                found = client.content.v1.contents(sid).approval_fetch().fetch()
                approval = str((found.whatsapp or {}).get("status") or "") or None
        except TwilioRestException as exc:
            problems[name] = f"{sid} cannot be read from Twilio ({exc.status}: {exc.msg})"
            continue
        except HTTPError as exc:
            log.warning("whatsapp: templates not checked, Twilio unreachable: %s", exc)
            return problems
        if problem := shape_problem(name, content.types or {}, approval):
            problems[name] = f"{sid} {problem}"
    return problems


def record(
    store: Store, sids: Mapping[str, str], problems: Mapping[str, str], now: datetime
) -> None:
    """Keep each problem on the admin overview until the template is fixed (or is no
    longer configured)."""
    for problem in store.open_problems():
        name = str(problem["_id"]).removeprefix(PROBLEM_PREFIX)
        if str(problem["_id"]).startswith(PROBLEM_PREFIX) and name not in sids:
            store.clear_problem(problem["_id"])
    for name in sids:
        problem_id = PROBLEM_PREFIX + name
        if name in problems:
            log.error("whatsapp: template %s %s", name, problems[name])
            store.note_problem(
                problem_id,
                {
                    "what": f"WhatsApp template {name} {problems[name]}",
                    "fix": "fix it in Twilio Console → Messaging → Content Template Builder "
                    "or in TWILIO_CONTENT_SIDS (README, Connect WhatsApp)",
                    "at": now,
                },
            )
        else:
            store.clear_problem(problem_id)
