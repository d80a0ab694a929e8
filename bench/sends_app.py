"""The delivery floor: two replies sent per webhook, and nothing else of the bot.

Each request is checked as the bot checks Twilio's signature, then two replies (the size
of a session and a quiz question) go out through the bot's own `WhatsAppSender`: the real
`twilio` client and its urllib3 pool, to the fake API. No store, no flows, no outbox. A
`next` or `menu` of the benchmark sends two messages too, so the bot's webhook cannot be
faster than this route; `make bench` prints both against the bare hello route.
"""

from datetime import UTC, datetime

from flask import Flask, Response, abort, request
from twilio.request_validator import RequestValidator

from bot.channels.whatsapp import WEBHOOK_PATH, WhatsAppSender, learner_key
from bot.config import Config
from flows.events import Button, Reply

config = Config.from_env(dotenv=None)
sender = WhatsAppSender(config)
validator = RequestValidator(config.twilio_auth_token)
NAVIGATION = (Button("Next", "next"), Button("Menu", "menu"))
REPLIES = (
    Reply(text="📚 *Session 2: The three kits*\n\n" + "Solaro sells three home kits. " * 25),
    Reply(text="❓ *Question 1 of 2*\n\n" + "Which kit suits a shop? " * 8, buttons=NAVIGATION),
)
app = Flask(__name__)


@app.post(WEBHOOK_PATH)
def inbound() -> Response:
    url = config.public_base_url + request.path
    if not validator.validate(url, request.form, request.headers.get("X-Twilio-Signature", "")):
        abort(403)
    learner = {"_id": learner_key(request.form["From"]), "last_inbound_at": datetime.now(UTC)}
    for reply in REPLIES:
        sender.send(learner, reply)
    return Response("<Response/>", mimetype="text/xml")
