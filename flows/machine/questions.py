"""How a quiz question is shown: numbered options in this learner's (seeded) order, the
option buttons, and how to answer. Public builders (`question_reply`, `quiz_replies`) let
authoring tools show exactly what a learner gets."""

from __future__ import annotations

from flows.course import Course, Question, Session
from flows.events import Button, Reply
from flows.machine.turn import Turn, add_reply
from flows.messages import md_escape, say
from flows.quiz import find_question, option_order, seed_for, shown_options
from flows.state import REVIEW, QuizAttempt

BUTTON = "quiz:"  # an option button's payload: quiz:<question id>:<position shown>


def read_button(text: str) -> tuple[str, str] | None:
    """(question id, position shown) of an option button's payload; None for anything else."""
    if not text.startswith(BUTTON):
        return None
    question_id, _, position = text.removeprefix(BUTTON).rpartition(":")
    return question_id, position


def limit_text(course: Course, seconds: int) -> str:
    if seconds % 60 == 0:
        return say("time_minutes", course, minutes=seconds // 60)
    return say("time_seconds", course, seconds=seconds)


def true_false(course: Course) -> tuple[str, str]:
    return say("option_true", course), say("option_false", course)


def order_of(
    turn: Turn, course: Course, attempt: QuizAttempt, question: Question
) -> tuple[int, ...]:
    seed = seed_for(turn.learner.key, question.id, attempt.kind, attempt.number)
    return option_order(question, seed, course.quiz.shuffle)


def shown_to(
    turn: Turn, course: Course, attempt: QuizAttempt, question: Question
) -> tuple[str, ...]:
    return shown_options(question, order_of(turn, course, attempt, question), true_false(course))


def how_to_answer(course: Course, question: Question, count: int) -> str:
    return say(f"quiz_how_{question.kind}", course, count=count)


def current_question(course: Course, attempt: QuizAttempt) -> Reply:
    """The current question of an attempt, with its options as this learner sees them."""
    asked = attempt.current
    assert asked is not None
    found = find_question(course, asked.question_id)
    assert found is not None  # reconcile drops questions the course no longer has
    origin, question = found
    place = (len(attempt.answers) + 1, len(attempt.asked))
    return question_reply(course, origin, question, asked.options, place, attempt.kind == REVIEW)


def question_reply(
    course: Course,
    origin: Session,
    question: Question,
    options: tuple[str, ...],
    place: tuple[int, int] = (1, 1),
    review: bool = False,
) -> Reply:
    """A question with its numbered options (and buttons where one tap answers), `place`
    being (index, count) in the attempt. Public so that authoring tools (`content preview`,
    the channel lint) show exactly what a learner gets. Button titles are whole ("2) The
    retailer's own margin"): each channel fits them to its own limit."""
    numbered = "  \n".join(f"{n}\\) {md_escape(o)}" for n, o in enumerate(options, 1))
    values = {
        "index": place[0],
        "count": place[1],
        "prompt": question.prompt,
        "options": f"{numbered}\n\n" if numbered else "",
        "how": how_to_answer(course, question, len(options)),
        "number": course.number_of(origin.id),
    }
    key = "quiz_question_review" if review else "quiz_question"
    if question.kind in ("single", "true_false"):
        buttons = tuple(
            Button(f"{n}) {o}", f"{BUTTON}{question.id}:{n}") for n, o in enumerate(options, 1)
        )
    else:
        buttons = (Button(say("button_skip", course), "skip"),)
    return Reply(say(key, course, **values), buttons, (), course.id)


def quiz_replies(course: Course, number: int) -> tuple[Reply, ...]:
    """Session `number`'s own questions as a learner gets them, in the author's order
    (unshuffled): what `content preview` shows and the channel lint measures."""
    session = course.session(number)
    words = true_false(course)
    return tuple(
        question_reply(
            course,
            session,
            question,
            shown_options(question, option_order(question, "", False), words),
            (index, len(session.quiz)),
        )
        for index, question in enumerate(session.quiz, 1)
    )


def ask(turn: Turn, course: Course, attempt: QuizAttempt) -> Turn:
    return add_reply(turn, current_question(course, attempt))
