"""`trainbot content …`: tools for course authors (check, preview, search, questions)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click

from bot.channels.registry import CHANNELS
from bot.cli.group import _owned, main
from bot.config import Config


@main.group()
def content() -> None:
    """Tools for course authors."""


@content.command("check")
@click.argument("folder", required=False, type=click.Path(path_type=Path))
def content_check(folder: Path | None) -> None:
    """Validate every course file; problems print as path:line: message."""
    from bot.content import check

    folder = folder or Config.from_env().content_dir
    result = check(folder)
    for problem in sorted(result.problems):
        click.echo(str(problem))
    sessions = sum(len(c.sessions) for c in result.courses)
    warnings = len(result.problems) - len(result.errors)
    click.echo(
        f"{len(result.courses)} course(s), {sessions} session(s): "
        f"{len(result.errors)} error(s), {warnings} warning(s)",
        err=bool(result.errors),
    )
    sys.exit(1 if result.errors else 0)


@content.command("preview")
@click.argument("folder", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.argument("session", required=False)
@click.option(
    "--channel",
    type=click.Choice([channel.name for channel in CHANNELS]),
    default="whatsapp",
    show_default=True,
)
@click.option("--course", "course_id", help="course id when FOLDER holds several")
def content_preview(folder: Path, session: str | None, channel: str, course_id: str | None) -> None:
    """Print a session (number or id; default: all) and its quiz as a channel would show
    them, the right answers marked."""
    from bot.content import check
    from bot.preview_text import session_preview

    result = check(folder)
    for problem in result.errors:
        click.echo(str(problem), err=True)
    courses = [c for c in result.courses if course_id in (None, c.id)]
    if not courses:
        raise click.ClickException("no valid course found")
    for course in courses:
        numbers: Sequence[int] = range(1, len(course.sessions) + 1)
        if session:
            wanted = [n for n in numbers if str(n) == session or course.session(n).id == session]
            if not wanted:
                raise click.ClickException(
                    f"{course.id} has no session '{session}' (1-{len(course.sessions)} or an id)"
                )
            numbers = wanted
        for number in numbers:
            click.echo(session_preview(course, number, channel))


@content.command("search")
@click.argument("words", nargs=-1, required=True, metavar='[DIR] "QUESTION"')
@click.option("--session", help="boost this session id, as for a learner reading it")
@click.option("--top", "-k", default=5, show_default=True, help="passages to print")
def content_search(words: tuple[str, ...], session: str | None, top: int) -> None:
    """Print the passages that best answer a question, best first (as the assistant sees
    them): score, course, session number and id, title, first line."""
    from bot.assistant import Assistant
    from bot.content import check

    if len(words) > 2:
        raise click.UsageError('give at most a folder and a question in quotes: DIR "QUESTION"')
    folder = Path(words[0]) if len(words) == 2 else Config.from_env().content_dir
    result = check(folder)
    for problem in result.errors:
        click.echo(str(problem), err=True)
    assistant = Assistant()
    hits = sorted(
        (
            (hit, course)
            for course in result.courses
            for hit in assistant.search(course, words[-1], session)
        ),
        key=lambda pair: -pair[0].score,
    )[:top]
    if not hits:
        click.echo("no passage matches: the assistant would say it could not find it")
        return
    click.echo("score  course  session  title  first line")
    for hit, course in hits:
        p = hit.passage
        click.echo(
            f"{hit.score:5.2f}  {course.id}  {p.session_number} {p.session_id}  "
            f"{p.title}  {p.first_line[:100]}"
        )


@content.command("questions")
@click.option("--course", "course_id", help="only this course")
@click.option("--limit", default=500, show_default=True, help="most recent questions read")
def content_questions(course_id: str | None, limit: int) -> None:
    """List the questions learners asked, per session, and how each was answered
    (model, passage, budget, none; with the reason a model answer was not used)."""
    from bot.content import check
    from bot.services import connect_store

    config = Config.from_env()
    store = _owned(lambda: connect_store(config))
    courses = {c.id: c for c in check(config.content_dir).courses}
    groups: dict[tuple[str, str], list[dict]] = {}
    for record in store.asked(course_id, limit):
        groups.setdefault((record.get("course", ""), record.get("session", "")), []).append(record)
    if not groups:
        click.echo("no questions recorded yet")
        return

    def order(key: tuple[str, str]) -> tuple[str, int]:
        course = courses.get(key[0])
        return key[0], (course.number_of(key[1]) if course else None) or 0

    for key in sorted(groups, key=order):
        course = courses.get(key[0])
        number = course.number_of(key[1]) if course else None
        title = course.session(number).title if course and number else key[1]
        click.echo(f"{key[0]} · Session {number or '?'}: {title} · {len(groups[key])} question(s)")
        for record in groups[key]:
            how = record.get("mode", "?") + (
                f": {record['reason']}" if record.get("reason") else ""
            )
            source = record.get("source_session")
            where = f"  (answered from {source})" if source and source != key[1] else ""
            at = record.get("at")
            when = at.strftime("%Y-%m-%d %H:%M") if at else ""
            click.echo(f"  {when}  [{how}] {record.get('question', '')}{where}")
