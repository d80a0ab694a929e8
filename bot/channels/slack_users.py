"""Who a Slack learner is: the learner key of a workspace member, and their display name
(moved from `slack.py`, issue 19)."""

from __future__ import annotations

import logging
import re
import threading
import time

from slack_sdk.errors import SlackApiError

from bot.channels.slack_client import Workspaces, error_of

log = logging.getLogger(__name__)

NAME_TTL = 3600.0  # display names are cached this long
NAMES_KEPT = 10_000


def learner_key(team_id: str, user_id: str) -> str:
    """`slack:T123:U456`: one learner per person per workspace."""
    return f"slack:{team_id}:{user_id}"


def address(key: str) -> tuple[str, str]:
    """(team id, user id) of a Slack learner key."""
    _, team, user = [*key.split(":", 2), "", ""][:3]
    return team, user


_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)\|([^>]+)>")
_BARE_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)>")


def plain_text(mrkdwn: str) -> str:
    """What a person typed, from Slack's encoding of it (`&lt;`, `<url|label>`)."""
    text = _LINK.sub(r"\2 (\1)", mrkdwn)
    text = _BARE_LINK.sub(r"\1", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


class Names:
    """Display names from `users.info`, cached (a DM costs no lookup after the first)."""

    def __init__(self, workspaces: Workspaces, ttl: float = NAME_TTL) -> None:
        self.workspaces = workspaces
        self.ttl = ttl
        self._lock = threading.Lock()
        self._names: dict[tuple[str, str], tuple[float, str]] = {}

    def cached(self, team_id: str, user_id: str) -> str | None:
        with self._lock:
            found = self._names.get((team_id, user_id))
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def get(self, team_id: str, user_id: str) -> str:
        """The person's display name (or real name); "" when Slack will not say."""
        known = self.cached(team_id, user_id)
        if known is not None:
            return known
        try:
            user = self.workspaces.client_for(team_id).users_info(user=user_id)["user"] or {}
        except SlackApiError as exc:
            log.warning("slack: users.info failed: %s", error_of(exc))
            name = ""  # unknown user or missing scope: remember that too
        except Exception as exc:
            log.warning("slack: users.info failed: %s", error_of(exc))
            return ""  # network trouble: ask again next time
        else:
            profile = user.get("profile") or {}
            name = (
                profile.get("display_name")
                or profile.get("real_name")
                or user.get("real_name")
                or user.get("name")
                or ""
            ).strip()[:80]
        with self._lock:
            if len(self._names) >= NAMES_KEPT:
                self._names.clear()
            self._names[(team_id, user_id)] = (time.monotonic() + self.ttl, name)
        return name
