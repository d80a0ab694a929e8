"""`trainbot credentials …`: the Open Badges signing keys."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from bot.cli.group import _owned, main
from bot.config import Config


@main.group("credentials")
def credentials_group() -> None:
    """The Open Badges signing keys (see the README's "Standards")."""


@credentials_group.command("rotate-key")
def credentials_rotate_key() -> None:
    """Sign new credentials with a new Ed25519 key; the old public keys stay published, so
    credentials already issued keep verifying."""
    from bot.credentials import Credentials
    from bot.services import connect_store

    config = Config.from_env()
    store = _owned(lambda: connect_store(config))
    credentials = Credentials(
        store.signing_keys, store.certificates, config.public_base_url, config.ob_issuer_name
    )
    credentials.ensure_indexes()
    thumbprint = credentials.rotate(datetime.now(UTC))
    click.echo(f"signing key: {credentials.kid(thumbprint)}")
    click.echo(f"published with the older keys at {config.public_base_url}/.well-known/jwks.json")
