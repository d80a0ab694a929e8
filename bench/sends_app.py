"""The delivery floor: two replies sent per webhook, and nothing else of the bot.

Each request is checked as the bot checks the channel's signature (Twilio's, or Slack's),
then two replies (the size of a session and a quiz question) go out through the bot's own
sender for that channel (`WhatsAppSender`: the real `twilio` client on its urllib3 pool;
`SlackSender`: the real `slack_sdk` client) to the fake API. No store, no flows, no
outbox. A `next` or `menu` of the benchmark sends two messages too, so the bot's webhook
cannot be faster than this route; `make bench` prints both against the bare hello route.
"""

from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, abort, request
from slack_sdk.signature import SignatureVerifier
from twilio.request_validator import RequestValidator

from bot.channels.slack import SlackSender
from bot.channels.whatsapp import WEBHOOK_PATH, WhatsAppSender, learner_key
from bot.config import Config
from flows.events import Button, Reply

config = Config.from_env(dotenv=None)
NAVIGATION = (Button("Next", "next"), Button("Menu", "menu"))
REPLIES = (
    Reply(text="📚 *Session 2: The three kits*\n\n" + "Solaro sells three home kits. " * 25),
    Reply(text="❓ *Question 1 of 2*\n\n" + "Which kit suits a shop? " * 8, buttons=NAVIGATION),
)
app = Flask(__name__)


def send_both(sender: Any, learner: dict[str, Any]) -> None:
    for reply in REPLIES:
        sender.send(learner, reply)


if config.whatsapp_enabled:
    whatsapp = WhatsAppSender(config)
    twilio_signature = RequestValidator(config.twilio_auth_token.get_secret_value())

    @app.post(WEBHOOK_PATH)
    def twilio_inbound() -> Response:
        url = config.public_base_url + request.path
        signature = request.headers.get("X-Twilio-Signature", "")
        if not twilio_signature.validate(url, request.form, signature):
            abort(403)
        key = learner_key(request.form["From"])
        send_both(whatsapp, {"_id": key, "last_inbound_at": datetime.now(UTC)})
        return Response("<Response/>", mimetype="text/xml")


if config.slack_enabled:
    slack = SlackSender(config)
    slack_signature = SignatureVerifier(config.slack_signing_secret.get_secret_value())

    @app.post("/slack/events")
    def slack_event() -> Response:
        if not slack_signature.is_valid_request(request.get_data(), dict(request.headers)):
            abort(401)
        body = request.get_json()
        send_both(slack, {"_id": f"slack:{body['team_id']}:{body['event']['user']}"})
        return Response(status=200)
