"""Grading: reading a message in a quiz as an answer, marking it, the feedback, and the
written answers a model grades off the webhook.

A written answer with a model configured: the quiz keeps the answer in `awaiting`, says
"Checking your answer…" and emits `Grade`; `bot/` grades it off the webhook and feeds the
verdict back as an `Inbound` carrying `Graded`. Until then the learner is asked to wait;
after GRADE_WAIT (the grader crashed or was restarted) their next message settles it with
the keyword verdict, so nobody is stuck.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flows.course import Course, Question
from flows.events import Ask, Grade, Graded, Outcome, Reply
from flows.machine.questions import ask, current_question, how_to_answer, order_of
from flows.machine.quizzing import finish, in_quiz, quit_quiz, reconcile
from flows.machine.situation import QuizMessage
from flows.machine.turn import Turn, add_reply, progress_of, save_attempt, set_progress
from flows.messages import md_escape, say
from flows.quiz import (
    MAX_GIVEN,
    MODEL_PASS,
    SPACED_KINDS,
    Parsed,
    Verdict,
    find_question,
    grade,
    is_late,
    right_positions,
    schedule_miss,
    schedule_right,
)
from flows.state import REVIEW, QuizAnswer, QuizAttempt


def record(
    turn: Turn,
    course: Course,
    attempt: QuizAttempt,
    question: Question,
    parsed: Parsed | None,
    given: str,
) -> Outcome:
    """Grade an answer (None: skipped), give feedback, update the review schedule, and put
    the next question or the result."""
    asked = attempt.current
    assert asked is not None
    now = turn.now
    order = order_of(turn, course, attempt, question)
    skipped = parsed is None
    verdict = Verdict(False) if parsed is None else grade(question, order, asked.options, parsed)
    late = is_late(attempt.started_at, attempt.time_limit, now)
    answer = QuizAnswer(
        question_id=question.id,
        given=given[:MAX_GIVEN],
        picked=verdict.picked,
        correct=verdict.correct,
        at=now,
        seconds=max((now - (attempt.asked_at or now)).total_seconds(), 0.0),
        late=late,
        skipped=skipped,
        grading=verdict.grading,
    )
    if question.kind == "text" and not skipped and question.rubric and turn.event.model_grading:
        return _await_grade(turn, course, attempt, question, answer)
    feedback = _feedback(course, question, order, asked.options, verdict, skipped)
    return _answered(turn, course, attempt, question, answer, feedback)


def _answered(
    turn: Turn,
    course: Course,
    attempt: QuizAttempt,
    question: Question,
    answer: QuizAnswer,
    feedback: str,
) -> Outcome:
    """Keep a graded answer, update the review schedule, give the feedback, and put the
    next question or the result."""
    now = turn.now
    attempt = replace(attempt, answers=(*attempt.answers, answer), asked_at=now, awaiting=None)
    progress = progress_of(turn, course).with_attempt(attempt)
    if question.kind in SPACED_KINDS:
        origin = find_question(course, question.id)
        session_id = origin[0].id if origin else attempt.session_id
        if not answer.correct:
            progress = replace(
                progress, reviews=schedule_miss(progress.reviews, question.id, session_id, now)
            )
        elif attempt.kind == REVIEW:
            progress = replace(progress, reviews=schedule_right(progress.reviews, question.id, now))
    turn = set_progress(turn, course, progress)
    if answer.late:
        feedback += say("quiz_late_note", course)
    turn = add_reply(turn, Reply(feedback, course_id=course.id))
    if attempt.current is not None:
        return ask(turn, course, attempt).done()
    return finish(turn, course, attempt)


def _await_grade(
    turn: Turn, course: Course, attempt: QuizAttempt, question: Question, answer: QuizAnswer
) -> Outcome:
    """Hold a written answer for the model's verdict (its keyword verdict kept as fallback)."""
    turn = save_attempt(turn, course, replace(attempt, awaiting=answer)).say("quiz_grading", course)
    return turn.done(
        Grade(
            course_id=course.id,
            session_id=attempt.session_id,
            question_id=question.id,
            attempt=attempt.number,
            question=question.prompt,
            rubric=question.rubric,
            answer=answer.given,
            keyword_correct=answer.correct,
        )
    )


def on_verdict(turn: Turn, graded: Graded) -> Outcome:
    """A verdict on the answer the learner's quiz waits for; a verdict for anything else
    (the learner's wait ran out, a retake, a duplicate) changes nothing."""
    quiz = in_quiz(turn)
    if quiz is None:
        return turn.done()
    course, attempt = quiz
    waiting = attempt.awaiting
    if waiting is None or (attempt.session_id, attempt.number, waiting.question_id) != (
        graded.session_id,
        graded.attempt,
        graded.question_id,
    ):
        return turn.done()
    turn, current, _ = reconcile(turn, course, attempt)
    return turn.done() if current is None else settle_grade(turn, course, current, graded)


def settle_grade(
    turn: Turn, course: Course, attempt: QuizAttempt, graded: Graded | None
) -> Outcome:
    """Record the awaited answer with the model's verdict, or (None, or the model failed)
    with the keyword verdict, saying it was a keyword check; then carry on with the quiz."""
    waiting = attempt.awaiting
    asked = attempt.current
    found = find_question(course, waiting.question_id) if waiting else None
    if found is None or asked is None or waiting is None or asked.question_id != found[1].id:
        # content edits took the question away while it was being graded: carry on without it
        attempt = replace(attempt, awaiting=None)
        turn = save_attempt(turn, course, attempt)
        if attempt.current is None:
            return finish(turn, course, attempt)
        return ask(turn, course, attempt).done()
    question = found[1]
    explain = f"\n\n{question.explain}" if question.explain else ""
    if graded is not None and graded.mode == "model":
        right = graded.score >= MODEL_PASS
        feedback = say(
            "quiz_model_right" if right else "quiz_model_wrong",
            course,
            feedback=md_escape(graded.feedback),
            explain=explain,
        )
        answer = replace(waiting, correct=right, grading="model")
        return _answered(turn, course, attempt, question, answer, feedback)
    verdict = grade(question, (), (), Parsed(text=waiting.given.strip()))
    feedback = say("quiz_grade_fallback", course) + _feedback(
        course, question, (), (), verdict, False
    )
    answer = replace(waiting, correct=verdict.correct, grading="keywords")
    return _answered(turn, course, attempt, question, answer, feedback)


def _feedback(
    course: Course,
    question: Question,
    order: tuple[int, ...],
    options: tuple[str, ...],
    verdict: Verdict,
    skipped: bool,
) -> str:
    """Right or wrong, the right answer, and the author's explanation."""
    explain = f" {question.explain}" if question.explain else ""
    if question.kind == "text":
        if skipped:
            return say("quiz_skipped_text", course, rubric=question.rubric, explain=explain)
        checked = verdict.keywords
        if checked is None or not checked.points:
            return say("quiz_text_ungraded", course)
        points = "\n".join(
            say("quiz_keyword_met" if p.met else "quiz_keyword_missed", course, point=p.text)
            for p in checked.points
        )
        return say(
            "quiz_keywords_right" if verdict.correct else "quiz_keywords_wrong",
            course,
            met=checked.met,
            total=len(checked.points),
            points=points,
            explain=f"\n\n{question.explain}" if question.explain else "",
        )
    if verdict.correct:
        return say("quiz_right", course, explain=explain)
    positions = right_positions(question, order)
    if question.kind == "true_false":
        answer = ", ".join(f"**{md_escape(options[p - 1])}**" for p in positions)
    else:
        answer = ", ".join(f"**{p}) {md_escape(options[p - 1])}**" for p in positions)
    key = "quiz_skipped" if skipped else "quiz_wrong"
    return say(key, course, answer=answer, explain=explain)


# --- a message in a quiz: the handlers of the quiz routes -------------------------------


def finish_attempt(message: QuizMessage) -> Outcome:
    """Every question is answered (an edit removed the rest): the result."""
    return finish(message.turn, message.course, message.attempt)


def ask_again(message: QuizMessage) -> Outcome:
    """Put the current question (again)."""
    return ask(message.turn, message.course, message.attempt).done()


def say_how_to_answer(message: QuizMessage) -> Outcome:
    """An empty message (a photo, a sticker) in a quiz."""
    how = how_to_answer(message.course, message.question, len(message.options))
    return message.turn.say("quiz_empty", message.course, how=how).done()


def refuse_stale_button(message: QuizMessage) -> Outcome:
    """An option button of an earlier question."""
    turn = message.turn.say("quiz_stale_button", message.course)
    return ask(turn, message.course, message.attempt).done()


def skip_question(message: QuizMessage) -> Outcome:
    return record(message.turn, message.course, message.attempt, message.question, None, "")


def record_answer(message: QuizMessage) -> Outcome:
    course, attempt, question = message.course, message.attempt, message.question
    return record(message.turn, course, attempt, question, message.parsed, message.answer)


def leave_quiz(message: QuizMessage) -> Outcome:
    return quit_quiz(message.turn, message.course, message.attempt)


def busy(message: QuizMessage) -> Outcome:
    """A command that must wait until the quiz is finished or quit."""
    attempt = message.attempt
    turn = message.turn.say(
        "quiz_busy", message.course, index=len(attempt.answers) + 1, count=len(attempt.asked)
    )
    return ask(turn, message.course, attempt).done()


def ask_about_question(message: QuizMessage) -> Outcome:
    """A question about the quiz ("why is it 10%?") goes to the assistant; the quiz
    question follows its answer."""
    course, attempt = message.course, message.attempt
    origin = message.found[0]
    then = (current_question(course, attempt),)
    return message.turn.done(Ask(message.answer, course.id, origin.id, then=then))


def explain_error(message: QuizMessage) -> Outcome:
    """Not an answer to this question: say why, and how to answer."""
    parsed = message.parsed
    # `say` escapes `given` (what the learner typed)
    values: dict[str, Any] = {k: str(v)[:60] for k, v in parsed.values.items()}
    how = how_to_answer(message.course, message.question, len(message.options))
    return message.turn.say(parsed.error, message.course, how=how, **values).done()


def settle_overdue(message: QuizMessage) -> Outcome:
    """The grader took longer than GRADE_WAIT: the keyword verdict stands, the quiz goes on
    (the message itself was not an answer to anything)."""
    return settle_grade(message.turn, message.course, message.attempt, None)


def ask_to_wait(message: QuizMessage) -> Outcome:
    return message.turn.say("quiz_grading_wait", message.course).done()
