"""Telling managers in Slack: the digest as a DM with a "Nudge" button per overdue learner.

`SlackNotifier` is the engagement module's `ManagerNotifier` for managers named by a Slack
user id (`U0123`) or a Slack learner key (`slack:T1:U0123`) in a learner's
`profile.manager`, and for course digest channels (`DIGEST_CHANNELS=course=C0123`). The
message goes out through the running `SlackSender`. A channel the app may not post to
(`not_in_channel`: neither invited nor granted `chat:write.public`) is logged with the fix
and kept as a problem on the admin overview until a digest gets through (issue 21).

Pressing "Nudge" is a signed `block_actions` request handled by the Slack channel's Bolt app
(`listen`): the presser must be that learner's manager (same rule as the digest: the
learner's `profile.manager` names them), the learner is nudged through
`Engagement.nudge_once` (one nudge per learner per `NUDGE_COOLDOWN`, however many presses,
managers or digests), and the pressed button is replaced by who nudged. Refusals and
repeats are told to the presser privately (an ephemeral message) and logged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.channels.slack_blocks import BLOCKS_PER_MESSAGE, button, note, section
from bot.channels.slack_events import SlackChannel
from bot.channels.slack_send import SlackSender
from bot.channels.slack_users import address, learner_key
from bot.outbox import DeliveryError, Outbox, mask
from flows.messages import md_escape

log = logging.getLogger(__name__)

NUDGE_ACTION = "trainbot_nudge"  # action_id prefix of a digest's Nudge buttons
NUDGE_BLOCK = "nudge_"  # block_id prefix of the section holding one learner's button
USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{2,}")  # a course's digest channel (`DIGEST_CHANNELS`)
# Slack's answers for a channel the app may not post to, and what an admin does about it.
INVITE = "invite the app to the channel (/invite @Trainbot)"
CHANNEL_FIXES = {
    "not_in_channel": f"{INVITE}, or add the chat:write.public scope and reinstall the app",
    "channel_not_found": f"check the channel id; for a private channel, {INVITE}",
    "is_archived": "unarchive the channel, or name another one in DIGEST_CHANNELS",
}


def channel_problem_id(channel: str) -> str:
    """The admin problem recorded for a digest channel."""
    return f"slack-channel:{channel}"


def slack_user(manager: str) -> tuple[str, str] | None:
    """(team, user) of a manager address this notifier handles, else None."""
    if manager.startswith("slack:"):
        try:
            team, user = address(manager)
        except ValueError:
            return None
        return (team, user) if USER_ID.fullmatch(user) else None
    return ("", manager) if USER_ID.fullmatch(manager) else None


def is_manager_of(learner: Mapping[str, Any] | None, team: str, user: str) -> bool:
    """Whether the Slack user (team, user) is the manager a learner's profile names."""
    manager = ((learner or {}).get("profile") or {}).get("manager")
    if not isinstance(manager, str) or (found := slack_user(manager)) is None:
        return False
    return found[1] == user and found[0] in ("", team)


def nudge_blocks(nudges: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """One section with a Nudge button per learner (once each), after the digest's text."""
    unique = list(dict(((key, name) for name, key in nudges)).items())
    room = BLOCKS_PER_MESSAGE - 12  # the text's sections and the notes
    blocks: list[dict[str, Any]] = []
    for n, (key, name) in enumerate(unique[:room]):
        block = section(
            f"⏰ *{md_escape(name) or 'A learner'}* is overdue",
            button("Nudge", key, f"{NUDGE_ACTION}.{n}"),
        )
        blocks.append({**block, "block_id": f"{NUDGE_BLOCK}{n}"})
    if len(unique) > room:
        blocks.append(note(f"…and {len(unique) - room} more: see the admin dashboard."))
    return blocks


class SlackNotifier:
    """`ManagerNotifier` through Slack DMs (see the module docstring)."""

    def __init__(self, outbox: Outbox) -> None:
        # The Slack sender is looked up at send time: `slack.connect` may register it after
        # the services (and this notifier) were built.
        self.outbox = outbox

    def notify(
        self, manager: str, subject: str, text: str, nudges: Sequence[tuple[str, str]] = ()
    ) -> bool:
        found = ("", manager) if CHANNEL_ID.fullmatch(manager) else slack_user(manager)
        sender = self.outbox.senders.get("slack")
        if found is None or not isinstance(sender, SlackSender):
            return False
        team, user = found
        channel = bool(CHANNEL_ID.fullmatch(user))
        try:
            sender.notify_manager(
                user,
                f"*{subject}*\n\n{text}",
                team_id=team,
                extra_blocks=nudge_blocks(nudges),
            )
        except DeliveryError as exc:
            if channel and exc.code in CHANNEL_FIXES:
                self._channel_refused(user, exc.code)
            raise
        if channel:
            self.outbox.store.clear_problem(channel_problem_id(user))
        log.info("notify: sent a Slack message to %s", mask(user))
        return True

    def _channel_refused(self, channel: str, error: str) -> None:
        """Slack will not take posts to a digest channel until an admin acts: say how, in
        the log and on the admin overview."""
        fix = CHANNEL_FIXES[error]
        log.error("slack: digest not posted to channel %s (%s): %s", channel, error, fix)
        self.outbox.store.note_problem(
            channel_problem_id(channel),
            {
                "what": f"Digests cannot be posted to Slack channel {channel} ({error})",
                "fix": fix,
                "at": datetime.now(UTC),
            },
        )


def listen(channel: SlackChannel) -> None:
    """Handle the Nudge buttons of digests on this Slack channel's Bolt app."""
    channel.app.action(re.compile(f"^{re.escape(NUDGE_ACTION)}"))(
        # acked on the request thread, the work after it (see `SlackChannel`)
        ack=lambda ack: ack(),
        lazy=[lambda body, action, context: _on_nudge(channel, body, action, context)],
    )


def _on_nudge(channel: SlackChannel, body, action, context) -> None:
    """A manager pressed "Nudge" under a learner's name in a digest."""
    services = channel.services
    user, team = (body.get("user") or {}).get("id"), SlackChannel._team(body, context)
    key = str(action.get("value") or "")
    chat = (body.get("container") or {}).get("channel_id") or (body.get("channel") or {}).get("id")
    if not user or not team or not key or not chat:
        log.info("slack: a Nudge press without user, team, learner or channel was ignored")
        return
    learner = services.store.load(key)
    if not is_manager_of(learner, team, user):
        log.warning(
            "slack: %s pressed Nudge for %s but is not their manager; refused",
            mask(learner_key(team, user)),
            mask(key),
        )
        _tell(channel, team, chat, user, "You can only nudge people whose manager you are.")
        return
    engagement = services.engagement
    if engagement is None:
        _tell(channel, team, chat, user, "Nudges are not available on this server.")
        return
    name = str((learner or {}).get("name") or "The learner")
    if not engagement.nudge_once(key):
        log.info("slack: %s was nudged recently; press by %s ignored", mask(key), mask(user))
        _tell(channel, team, chat, user, f"{name} was already nudged recently.")
    else:
        log.info("slack: manager %s nudged %s", mask(user), mask(key))
    _retire(channel, team, body, action, f"⏰ *{md_escape(name)}*: nudged by <@{user}>")


def _tell(channel: SlackChannel, team: str, chat: str, user: str, text: str) -> None:
    try:
        channel.workspaces.client_for(team).chat_postEphemeral(channel=chat, user=user, text=text)
    except Exception as exc:
        log.info("slack: could not tell %s: %s", mask(user), exc)


def _retire(
    channel: SlackChannel, team: str, body: Mapping[str, Any], action: Mapping[str, Any], text: str
) -> None:
    """Replace the pressed button's section, so the digest shows who nudged whom."""
    container, message = body.get("container") or {}, body.get("message") or {}
    chat, ts = container.get("channel_id"), container.get("message_ts") or message.get("ts")
    pressed = action.get("block_id")
    if not chat or not ts or not pressed:
        return
    blocks = [
        {"type": "section", "block_id": pressed, "text": {"type": "mrkdwn", "text": text}}
        if block.get("block_id") == pressed
        else block
        for block in message.get("blocks") or []
    ]
    try:
        channel.workspaces.client_for(team).chat_update(
            channel=chat, ts=ts, text=message.get("text") or text, blocks=blocks
        )
    except Exception as exc:
        log.info("slack: could not update the digest %s: %s", ts, exc)
