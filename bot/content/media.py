"""Media checks: what an image or link may point to, and what a course's `media/` may hold
(only allow-listed types are served from the bot's own site)."""

from __future__ import annotations

from pathlib import Path

from bot.content.parsing import (
    _Problems,
)
from bot.security import allowed_media_list, media_type


def _missing_media(name: str, folder: Path, what: str) -> str | None:
    """Why a course file an image or a link points to cannot be served, or None."""
    target = (folder / name).resolve()
    if not target.is_relative_to(folder.resolve()) or not target.is_file():
        return f"{what} '{name}' not found"
    return _not_media(name) if media_type(name) is None else None


def _not_media(name: str) -> str:
    return (
        f"'{name}' is not an allowed media type (allowed: {allowed_media_list()}); "
        "course files are served from the bot's own site, so pages and scripts may not be"
    )


def _check_media_folder(folder: Path, problems: _Problems) -> None:
    """Every file in `media/` must be allow-listed media: a course author's `x.html` or
    `x.svg` served from the bot's origin could run script with a signed-in admin's cookies
    (the route refuses them too, see `bot.security`). Dot-files are never served."""
    media = folder / "media"
    if not media.is_dir():
        return
    for path in sorted(media.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        hidden = any(part.startswith(".") for part in path.relative_to(media).parts)
        if path.is_file() and not hidden and media_type(path.name) is None:
            problems.error(path, 1, _not_media(relative))
