"""Response headers every page gets, and what the media route may serve and how.

Every response carries a strict Content-Security-Policy, `X-Frame-Options: DENY` and
`nosniff` unless its route set its own (admin tightens caching, media add `sandbox`).
Course media are written by course authors, not by the operator, so a file in `media/`
must never run as a page of this origin: only images, PDFs, audio and video are served,
each with the type its extension says, `nosniff`, and `Content-Security-Policy: sandbox`
(a PDF or SVG opened directly runs no script with this origin's cookies); anything that
is not shown inline by browsers is sent as an attachment.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from flask import Flask, Response, abort, send_from_directory

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}

# Extension → MIME type. Deliberately not `mimetypes`: the host's table can map more (or
# other) types, and an HTML, SVG-with-script or XML file must never be served as media.
MEDIA_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".pdf": "application/pdf",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/opus",
    ".wav": "audio/wav",
    ".amr": "audio/amr",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".3gp": "video/3gpp",
}
# What browsers show in place (and WhatsApp/Slack fetch as media); the rest downloads.
INLINE_PREFIXES = ("image/",)
MEDIA_HEADERS = {
    "Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self'; "
    "media-src 'self'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "cross-origin",  # Twilio and Slack fetch these
}


def media_type(name: str) -> str | None:
    """The MIME type a media file is served as, or None when it is not allowed media."""
    return MEDIA_TYPES.get(PurePosixPath(name).suffix.lower())


def allowed_media_list() -> str:
    """The allowed extensions, for error messages."""
    return ", ".join(sorted(MEDIA_TYPES))


def send_media(folder: Path, name: str) -> Response:
    """A media file from `folder` with its allow-listed type, the sandbox CSP, and
    `attachment` unless browsers show that type in place; 404 for any other file."""
    kind = media_type(name)
    if kind is None:
        abort(404)
    inline = kind.startswith(INLINE_PREFIXES)
    response = send_from_directory(
        folder, name, mimetype=kind, as_attachment=not inline, max_age=3600
    )
    response.headers.update(MEDIA_HEADERS)
    return response


def install(app: Flask) -> None:
    """The default security headers on every response a route did not set itself."""

    @app.after_request
    def _headers(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response
