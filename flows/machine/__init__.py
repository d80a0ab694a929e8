"""The learner state machine: one event in, the new state, replies and effects out.

`step` is a pure function. It computes the learner's `Situation` once (not enrolled, in a
course, in a quiz, awaiting a grade, confirming, paused) and walks that situation's route
table in `routes.py`: ordered (predicate, handler) rows, the first match handles. The
handlers live by concern:

    turn.py         Turn (the outcome being built) and progress bookkeeping
    situation.py    Situation, situation_of, Message / QuizMessage
    routes.py       the predicates and the tables; step
    account.py      help, courses, progress, STOP / START, timezone, certificate
    enrollment.py   enroll, exit, resume, restart (confirmed), not in a course
    navigation.py   next, previous, complete, section, menu, questions for the assistant
    progression.py  delivering sessions, completing them and the course
    questions.py    how a quiz question is shown (public builders for authoring tools)
    quizzing.py     starting, resuming, reconciling, quitting and finishing attempts
    grading.py      reading and marking answers, model-graded written answers
    review.py       spaced review
"""

from flows.machine.progression import session_reply
from flows.machine.questions import question_reply, quiz_replies
from flows.machine.routes import step

__all__ = ["question_reply", "quiz_replies", "session_reply", "step"]
