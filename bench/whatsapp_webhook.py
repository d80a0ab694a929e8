"""WhatsApp webhook latency for `next`: signed Twilio posts to the app served over HTTP
(werkzeug, thread pool for delivery, as `trainbot serve` runs it), replies going out through
the real twilio client to the local fake Twilio API. Prints p50/p99 of the webhook answer
(the time Twilio waits) and of the end-to-end time until the fake API has the session.

    python -m bench.whatsapp_webhook [--learners 50] [--rounds 6]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import threading
import time

import requests
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server

from bench.table import Figure, percentile, render
from bot.channels.whatsapp import WEBHOOK_PATH
from bot.config import Config
from bot.web import create_app
from tests.fakes.twilio_api import FakeTwilio

ACCOUNT, TOKEN, PUBLIC = "AC" + "0" * 32, "bench-token", "https://bot.example.com"


def measure(learners: int, rounds: int) -> tuple[list[float], list[float]]:
    """Webhook answer times and times until the first reply reached the fake API."""
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log per request
    validator = RequestValidator(TOKEN)
    with FakeTwilio(ACCOUNT, TOKEN) as fake:
        environ = {
            "TWILIO_ACCOUNT_SID": ACCOUNT,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
            "TWILIO_API_BASE_URL": fake.url,
            "PUBLIC_BASE_URL": PUBLIC,
            "DATA_DIR": tempfile.mkdtemp(prefix="bench-werkzeug-"),
        }
        app = create_app(Config.from_env(environ, dotenv=None))
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_port}{WEBHOOK_PATH}"
        http = requests.Session()
        counter = 0

        def post(learner: int, body: str) -> float:
            nonlocal counter
            counter += 1
            params = {
                "MessageSid": f"SM{counter:032d}",
                "From": f"whatsapp:+23480{learner:08d}",
                "Body": body,
                "ProfileName": f"Learner {learner}",
                "NumMedia": "0",
            }
            signature = validator.compute_signature(PUBLIC + WEBHOOK_PATH, params)
            started = time.perf_counter()
            response = http.post(url, data=params, headers={"X-Twilio-Signature": signature})
            response.raise_for_status()
            return time.perf_counter() - started

        for learner in range(learners):
            post(learner, "I am a new partner")
        fake.wait_for(2 * learners, timeout=60)
        webhook, end_to_end = [], []
        for _ in range(rounds):
            for learner in range(learners):
                before = len(fake.messages)
                started = time.perf_counter()
                webhook.append(post(learner, "next"))
                fake.wait_for(before + 1, timeout=10)
                end_to_end.append(time.perf_counter() - started)
        server.shutdown()
    return webhook, end_to_end


def section(learners: int = 50, rounds: int = 4) -> list[Figure]:
    webhook, end_to_end = measure(learners, rounds)
    ms, name = 1000, "whatsapp webhook (werkzeug)"
    conditions = f"one at a time, {learners} learners in the embedded store"
    return [
        Figure(
            name,
            "`next` answer p50 / p99",
            f"{percentile(webhook, 0.5) * ms:.1f} / {percentile(webhook, 0.99) * ms:.1f} ms",
            conditions=conditions,
        ),
        Figure(
            name,
            "first reply at Twilio p50 / p99",
            f"{percentile(end_to_end, 0.5) * ms:.1f} / {percentile(end_to_end, 0.99) * ms:.1f} ms",
            conditions=conditions,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=6, help="`next` messages per learner")
    args = parser.parse_args()
    print(render(section(args.learners, args.rounds)))


if __name__ == "__main__":
    main()
