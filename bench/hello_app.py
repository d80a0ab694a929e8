"""The ceiling: a bare Flask route served by the same gunicorn as the bot (`make bench`)."""

from flask import Flask

app = Flask(__name__)


@app.route("/hello", methods=["GET", "POST"])
def hello() -> str:
    return "hello"
