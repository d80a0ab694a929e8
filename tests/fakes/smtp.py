"""A local SMTP server (aiosmtpd) on 127.0.0.1 with a free port, collecting messages."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import Message

from aiosmtpd.controller import Controller


class _Collect:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd calls it by this name
        self.messages.append(message_from_bytes(envelope.original_content))
        return "250 OK"


class _AnyPort(Controller):
    # aiosmtpd connects to `self.port` to check it is up; with port 0, read the real one first.
    def _trigger_server(self) -> None:
        if self.port == 0:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@contextmanager
def smtp_server() -> Iterator[tuple[str, list[Message]]]:
    """Yields (`smtp://127.0.0.1:<port>` URL, received messages)."""
    handler = _Collect()
    controller = _AnyPort(handler, hostname="127.0.0.1", port=0, ready_timeout=10)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{controller.port}?from=bot@example.com", handler.messages
    finally:
        controller.stop()
