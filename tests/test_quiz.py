"""The quiz engine and its place in the learner state machine (pure `flows`, no I/O).

Tables first: every question type × every answer form, then scores at the pass mark,
retakes, gating, quit/resume, bad input, content edits mid-quiz, final exams, time limits
and the spaced-review schedule with an injected clock.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from flows import quiz
from flows.course import Catalog, Course, Question, QuizPolicy, Session
from flows.events import Ask, CourseCompleted, Grade, Inbound, Outcome
from flows.machine import step
from flows.state import (
    QUIZ_ABANDONED,
    QUIZ_ACTIVE,
    QUIZ_FAILED,
    QUIZ_PASSED,
    REVIEW,
    Learner,
    Progress,
    QuizAttempt,
    from_doc,
    to_doc,
)
from tests.conftest import T0

KEY = "web:ada"
DAY = timedelta(days=1)

PRICE = Question(
    "price",
    "What discount does a Gold partner get?",
    "single",
    ("5%", "7%", "10%", "12%"),
    (3,),
    "Gold partners get 10% off list price.",
)
KITS = Question(
    "kits",
    "Which kit runs a water pump?",
    "single",
    ("Solaro Lite", "Solaro Home", "Solaro Max"),
    (3,),
    "Only the Max can run a pump.",
)
TIERS = Question(
    "tiers",
    "Which partner tiers get 30 days of credit?",
    "multi",
    ("Bronze", "Silver", "Gold"),
    (2, 3),
    "Silver and Gold get credit.",
)
SHIPS = Question(
    "ships", "Orders ship within two days.", "true_false", (), True, "They ship in two days."
)
OPENER = Question(
    "opener",
    "How would you open a call with a new retailer?",
    "text",
    rubric="Mentions the retailer's own business; asks a question; under 60 words.",
)


def course_of(
    *quizzes: tuple[Question, ...],
    navigation: str = "sequential",
    policy: QuizPolicy | None = None,
    final: Session | None = None,
    messages: dict | None = None,
) -> Course:
    """Sessions s1..sn, session i with quiz `quizzes[i-1]`, then an optional final exam."""
    sessions = [
        Session(f"s{i}", f"Topic {i}", f"Body of topic {i}.", quiz=questions)
        for i, questions in enumerate(quizzes, start=1)
    ]
    if final is not None:
        sessions.append(final)
    return Course(
        id="demo",
        title="Demo Course",
        sessions=tuple(sessions),
        enroll=("start demo training",),
        navigation=navigation,
        quiz=policy or QuizPolicy(),
        messages=messages or {},
    )


class Chat:
    """A learner talking to the pure state machine, with a clock the test moves."""

    def __init__(self, course: Course, key: str = KEY, start: datetime = T0) -> None:
        self.course = course
        self.catalog = Catalog((course,))
        self.learner = Learner(key)
        self.now = start
        self.outcome: Outcome | None = None

    def send(self, text: str = "", payload: str | None = None, after=timedelta(seconds=10)):
        self.now += after
        event = Inbound(self.learner.key, "web", text=text, payload=payload, name="Ada")
        self.outcome = step(self.learner, self.catalog, event, self.now)
        self.learner = self.outcome.learner
        return self

    @property
    def text(self) -> str:
        assert self.outcome is not None
        return "\n---\n".join(r.text for r in self.outcome.replies)

    @property
    def effects(self) -> tuple:
        assert self.outcome is not None
        return self.outcome.effects

    @property
    def progress(self) -> Progress:
        return self.learner.progress_in(self.course.id)

    @property
    def attempt(self) -> QuizAttempt:
        return self.progress.quizzes[-1]

    def start(self) -> Chat:
        """Enroll and say `next` on session 1 (whose quiz then starts)."""
        return self.send("start demo training").send("next")

    def shown(self) -> tuple[str, ...]:
        current = self.progress.active_quiz
        assert current is not None and current.current is not None
        return current.current.options

    def question(self) -> Question:
        """The question the learner is being asked now."""
        active = self.progress.active_quiz
        assert active is not None and active.current is not None
        found = quiz.find_question(self.course, active.current.question_id)
        assert found is not None
        return found[1]

    def answer_right(self) -> Chat:
        """Answer the current question right, by the text of the right option(s)."""
        question = self.question()
        if question.kind == "true_false":
            return self.send("true" if question.answer is True else "false")
        if question.kind == "text":
            return self.send("How is your shop's business going: what sells best?")
        assert isinstance(question.answer, tuple)
        return self.send(" and ".join(question.options[n - 1] for n in question.answer))

    def answer_wrong(self) -> Chat:
        question = self.question()
        if question.kind == "true_false":
            return self.send("false" if question.answer is True else "true")
        if question.kind == "text":
            return self.send("Hello")
        assert isinstance(question.answer, tuple)
        wrong = next(o for n, o in enumerate(question.options, 1) if n not in question.answer)
        return self.send(wrong)


# --- every question type × every answer form -----------------------------------------

ANSWER_FORMS = [
    # single choice: 1) 5%  2) 7%  3) 10%  4) 12%, right: 3
    (PRICE, "number", "3", True),
    (PRICE, "number with bracket", "3)", True),
    (PRICE, "option N", "option 3", True),
    (PRICE, "letter", "c", True),
    (PRICE, "capital letter", "(C)", True),
    (PRICE, "option text", "10%", True),
    (PRICE, "option text, no symbol", "10", True),
    (PRICE, "arabic-indic digit", "٣", True),
    (PRICE, "fullwidth digit", "３", True),
    (PRICE, "circled digit", "③", True),
    (PRICE, "button", "button:3", True),
    (PRICE, "wrong number", "1", False),
    (PRICE, "wrong letter", "b", False),
    (PRICE, "wrong text", "12%", False),
    (PRICE, "wrong button", "button:4", False),
    (KITS, "distinctive words", "max", True),
    (KITS, "option text, any case", "SOLARO MAX", True),
    (KITS, "wrong words", "solaro lite", False),
    # multiple answers: 1) Bronze  2) Silver  3) Gold, right: 2 and 3
    (TIERS, "numbers with comma", "2,3", True),
    (TIERS, "numbers, any order", "3, 2", True),
    (TIERS, "numbers with and", "2 and 3", True),
    (TIERS, "letters", "b,c", True),
    (TIERS, "letters with spaces", "b c", True),
    (TIERS, "letters with and", "B and C", True),
    (TIERS, "option texts", "Silver and Gold", True),
    (TIERS, "option texts, comma", "silver, gold", True),
    (TIERS, "arabic-indic digits, arabic comma", "٢،٣", True),
    (TIERS, "one of two", "2", False),
    (TIERS, "all three", "1,2,3", False),
    (TIERS, "wrong text", "Bronze", False),
    # true / false, right: true (shown 1) True  2) False)
    (SHIPS, "true", "true", True),
    (SHIPS, "True.", "True.", True),
    (SHIPS, "yes", "yes", True),
    (SHIPS, "y", "Y", True),
    (SHIPS, "t", "t", True),
    (SHIPS, "number", "1", True),
    (SHIPS, "letter", "a", True),
    (SHIPS, "button", "button:1", True),
    (SHIPS, "false", "false", False),
    (SHIPS, "no", "No!", False),
    (SHIPS, "number 2", "2", False),
    (SHIPS, "letter b", "b", False),
    # written answers, graded by the rubric's keywords without a model
    (OPENER, "meets the rubric", "I'd ask about their business: what sells best?", True),
    (OPENER, "meets two of three", "Tell me about your business.", True),
    (OPENER, "misses the rubric", "Hello", False),
    (OPENER, "a yes is an answer", "yes", False),
]


@pytest.mark.parametrize(
    ("question", "form", "given", "right"),
    ANSWER_FORMS,
    ids=[f"{q.kind}-{form}" for q, form, _, _ in ANSWER_FORMS],
)
def test_answer_forms(question: Question, form: str, given: str, right: bool):
    chat = Chat(course_of((question,), ())).start()
    assert "Question 1 of 1" in chat.text
    if given.startswith("button:"):
        chat.send(payload=f"quiz:{question.id}:{given.removeprefix('button:')}")
    else:
        chat.send(given)
    answer = chat.attempt.answers[0]
    assert answer.correct is right, chat.text
    assert chat.attempt.status == (QUIZ_PASSED if right else QUIZ_FAILED)
    if question.kind == "text":
        assert "Keyword check" in chat.text
        assert "keyword check" in chat.text  # the result says how it was marked
        assert answer.grading == "keywords"
        assert not [e for e in chat.effects if isinstance(e, Grade)]  # no model, no wait
    elif right:
        assert "✅ Right!" in chat.text
        assert answer.picked  # the options chosen, by their text as shown
    else:
        assert "❌ Not quite. The right answer is" in chat.text
        assert question.explain in chat.text


def test_parse_answer_table_of_unreadable_input():
    three = ("Solaro Lite", "Solaro Home", "Solaro Max")
    table = [
        (KITS, three, "7", "quiz_bad_number"),
        (KITS, three, "0", "quiz_bad_number"),
        (KITS, three, "d", "quiz_bad_number"),
        (KITS, three, "", "quiz_empty"),
        (KITS, three, "   ", "quiz_empty"),
        (KITS, three, "1,1,1", "quiz_repeated"),
        (KITS, three, "1,3", "quiz_one_answer"),
        (KITS, three, "solaro", "quiz_unreadable"),  # names every option
        (KITS, three, "banana", "quiz_unreadable"),
        (TIERS, ("Bronze", "Silver", "Gold"), "2,2", "quiz_repeated"),
        (TIERS, ("Bronze", "Silver", "Gold"), "2,9", "quiz_bad_number"),
        (SHIPS, ("True", "False"), "maybe", "quiz_unreadable"),
        (SHIPS, ("True", "False"), "3", "quiz_bad_number"),
        (OPENER, (), "  ", "quiz_empty"),
    ]
    for question, options, given, error in table:
        assert quiz.parse_answer(question, options, given).error == error, given


def test_looks_like_question():
    assert quiz.looks_like_question("why is it 10%?")
    assert quiz.looks_like_question("What does Gold mean")
    assert quiz.looks_like_question("hmm?")
    assert not quiz.looks_like_question("10%")
    assert not quiz.looks_like_question("what")
    assert not quiz.looks_like_question("solaro max")


# --- scores at the pass mark -----------------------------------------------------------


def five_questions() -> tuple[Question, ...]:
    return tuple(
        Question(f"q{i}", f"Is {i} odd?", "true_false", (), bool(i % 2)) for i in range(1, 6)
    )


@pytest.mark.parametrize(
    ("pass_mark", "rights", "total", "passes", "shown"),
    [
        (80, 4, 5, True, "4/5 (80%)"),  # exactly the pass mark passes
        (80, 3, 5, False, "3/5 (60%)"),
        (80, 5, 5, True, "5/5 (100%)"),
        (60, 3, 5, True, "3/5 (60%)"),
        (61, 3, 5, False, "3/5 (60%)"),
        (100, 4, 5, False, "4/5 (80%)"),
        (0, 0, 5, True, "0/5 (0%)"),
    ],
)
def test_pass_mark_boundary(pass_mark, rights, total, passes, shown):
    course = course_of(five_questions(), (), policy=QuizPolicy(pass_mark=pass_mark))
    chat = Chat(course).start()
    for i in range(total):
        chat.answer_right() if i < rights else chat.answer_wrong()
    assert f"Result: {shown}" in chat.text
    assert chat.attempt.status == (QUIZ_PASSED if passes else QUIZ_FAILED)
    assert ("s1" in chat.progress.completed) is passes
    if passes:
        assert f"pass mark is {pass_mark}%" in chat.text
        assert "Session 2: Topic 2" in chat.text  # started with `next`: the next session follows
    else:
        assert "retake" in chat.text and chat.progress.current == "s1"


def test_percent_and_passed():
    assert [quiz.percent(s, t) for s, t in [(2, 3), (1, 3), (1, 8), (0, 0), (7, 7)]] == [
        67,
        33,
        13,
        0,
        100,
    ]
    assert quiz.passed(3, 4, 75) and not quiz.passed(2, 3, 67) and quiz.passed(2, 3, 66.6)
    assert not quiz.passed(0, 0, 0)


# --- retakes ---------------------------------------------------------------------------


def test_retake_up_to_max_attempts_then_contact_and_admin_flag():
    course = course_of((KITS,), (), policy=QuizPolicy(max_attempts=2))
    chat = Chat(course).start().answer_wrong()
    assert "(1 attempt left)" in chat.text and chat.progress.quiz_blocked == ()
    chat.send("retake")
    assert "Quick check" in chat.text and chat.attempt.number == 2
    chat.answer_wrong()
    assert "used all 2 attempts" in chat.text and "contact" in chat.text
    assert chat.progress.quiz_blocked == ("s1",)  # admin-visible flag
    for said in ("retake", "quiz", "next", "complete"):
        chat.send(said)
        assert "used all 2 attempts" in chat.text, said
        assert chat.progress.active_quiz is None
    assert [a.number for a in chat.progress.attempts("s1")] == [1, 2]
    # an admin clearing the flag grants another round of attempts
    chat.learner = chat.learner.with_progress("demo", replace(chat.progress, quiz_blocked=()))
    chat.send("retake")
    assert chat.attempt.number == 3
    chat.answer_right()
    assert chat.attempt.status == QUIZ_PASSED and "s1" in chat.progress.completed


def test_contact_message_is_course_overridable():
    course = course_of(
        (KITS,),
        (),
        policy=QuizPolicy(max_attempts=1),
        messages={"quiz_max_attempts": "Out of tries: write to academy@solaro.example."},
    )
    chat = Chat(course).start().answer_wrong()
    assert "academy@solaro.example" in chat.text


def test_passed_quiz_is_not_retaken_and_session_without_quiz_says_so():
    chat = Chat(course_of((KITS,), ())).start().answer_right()
    chat.send("previous").send("quiz")
    assert "already passed the Session 1 quiz (1/1)" in chat.text
    chat.send("next").send("quiz")
    assert "Session 2 has no quiz" in chat.text
    chat.send("skip")
    assert "Session 2 has no quiz" in chat.text


def test_review_after_failing_rereads_the_session():
    chat = Chat(course_of((KITS,), ())).start().answer_wrong()
    chat.send("review")
    assert "Session 1: Topic 1" in chat.text and "retake" in chat.text


# --- gating ----------------------------------------------------------------------------


def test_next_in_sequential_mode_is_gated_by_the_quiz():
    chat = Chat(course_of((), (KITS, SHIPS), ())).send("start demo training")
    chat.send("next")  # session 1 has no quiz: on to session 2
    assert "Session 2: Topic 2" in chat.text
    chat.send("next")
    assert "Quick check**: 2 questions on Session 2" in chat.text
    assert chat.progress.current == "s2" and "s2" not in chat.progress.completed
    chat.send("section 3")
    assert "finish or quit" not in chat.text and "middle of a quiz" in chat.text
    chat.send("quit").send("section 3")
    assert "Session 3 is locked" in chat.text
    chat.send("next")  # picks the quiz up again
    assert "Picking up your quiz at question 1 of 2" in chat.text
    chat.answer_right().answer_right()
    assert "Result: 2/2 (100%)" in chat.text and "Session 3: Topic 3" in chat.text
    assert chat.progress.completed == ("s1", "s2")


def test_complete_starts_the_quiz_and_does_not_move_on():
    chat = Chat(course_of((KITS,), ())).send("start demo training").send("complete")
    assert "Quick check" in chat.text
    chat.answer_right()
    assert "Session 1 marked complete" in chat.text and "Session 2: Topic" not in chat.text
    assert chat.progress.current == "s1" and chat.progress.completed == ("s1",)


def test_free_navigation_offers_the_quiz_once_then_lets_the_learner_move_on():
    chat = Chat(course_of((KITS,), (), navigation="free")).start()
    assert "Quick check" in chat.text
    chat.send("quit").send("next")
    assert "Session 1 stays unfinished" in chat.text and "Session 2: Topic 2" in chat.text
    assert chat.progress.completed == ()
    chat.send("section 1").send("quiz")
    assert "Picking up your quiz" in chat.text


def test_last_session_quiz_completes_the_course_once():
    chat = Chat(course_of((), (KITS,))).start().send("next")
    assert "Quick check" in chat.text
    chat.answer_right()
    assert "Congratulations" in chat.text
    assert CourseCompleted("demo") in chat.effects
    assert chat.progress.completed_at == chat.now


def test_course_without_quizzes_completes_with_the_effect():
    chat = Chat(course_of((), ())).start().send("next")
    assert "Congratulations" in chat.text and chat.effects == (CourseCompleted("demo"),)


# --- during a quiz: skip, quit, resume, commands, questions ----------------------------


def test_skip_counts_as_wrong_and_shows_the_answer():
    chat = Chat(course_of((KITS, SHIPS), ())).start().send("skip")
    assert "Skipped. The right answer is **3) Solaro Max**" in chat.text
    assert "Only the Max can run a pump." in chat.text
    answer = chat.attempt.answers[0]
    assert answer.skipped and not answer.correct and answer.given == ""


def test_quit_keeps_the_attempt_and_quiz_resumes_where_it_was():
    chat = Chat(course_of((KITS, SHIPS, TIERS), ())).start().answer_right()
    chat.send("quit")
    assert "left the quiz" in chat.text
    assert chat.attempt.status == QUIZ_ABANDONED and len(chat.attempt.answers) == 1
    chat.send("menu")
    assert "Progress: 0/2" in chat.text  # navigation works again
    chat.send("quiz")
    assert "Picking up your quiz at question 2 of 3" in chat.text
    assert chat.attempt.status == QUIZ_ACTIVE and chat.attempt.number == 1
    chat.answer_right().answer_right()
    assert "Result: 3/3" in chat.text
    assert len(chat.progress.quizzes) == 1


def test_exit_mid_quiz_and_resume_puts_the_question_again():
    chat = Chat(course_of((KITS, SHIPS), ())).start().answer_right()
    chat.send("exit")
    assert "progress is saved" in chat.text and chat.learner.paused
    chat.send("2")  # paused: not an answer
    assert chat.attempt.answers[-1].question_id == "kits"
    chat.send("resume")
    assert "Picking up your quiz at question 2 of 2" in chat.text
    assert "Orders ship within two days." in chat.text


@pytest.mark.parametrize("said", ["next", "previous", "section 2", "menu", "restart", "complete"])
def test_navigation_during_a_quiz_asks_to_finish_or_quit(said):
    chat = Chat(course_of((KITS,), ())).start()
    before = chat.learner
    chat.send(said)
    assert "middle of a quiz (question 1 of 1)" in chat.text
    assert "Which kit runs a water pump?" in chat.text  # and the question again
    assert chat.progress.active_quiz == before.progress_in("demo").active_quiz
    assert chat.learner.pending is None


def test_help_during_a_quiz_answers_and_puts_the_question_again():
    chat = Chat(course_of((KITS,), ())).start().send("help")
    assert "How this works" in chat.text and "Which kit runs a water pump?" in chat.text


def test_a_question_during_a_quiz_goes_to_the_assistant_and_the_quiz_resumes():
    chat = Chat(course_of((KITS,), ())).start().send("why is it the Max?")
    assert chat.outcome is not None and chat.outcome.replies == ()
    (ask,) = chat.effects
    assert isinstance(ask, Ask) and ask.question == "why is it the Max?"
    assert ask.session_id == "s1" and "Which kit runs a water pump?" in ask.then[0].text
    assert chat.attempt.answers == ()
    chat.send("3")
    assert "✅ Right!" in chat.text


def test_written_answers_may_contain_question_marks():
    chat = Chat(course_of((OPENER,), ())).start()
    chat.send("What does your business sell most?")
    assert chat.attempt.answers[0].correct  # an answer, not a question for the assistant


# --- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "reply"),
    [
        ("7", "“7” isn't one of the options: choose a number from 1 to 3."),
        ("", "I didn't catch an answer."),
        ("1,1,1", "You gave option 1 more than once"),
        ("1,3", "This question has one right answer"),
        ("purple", "I couldn't read “purple” as an answer."),
        ("**bold**", "I couldn't read “\\*\\*bold\\*\\*” as an answer."),
    ],
)
def test_bad_answers_get_a_clear_reply_and_change_nothing(given, reply):
    chat = Chat(course_of((KITS,), ())).start()
    before = chat.attempt
    chat.send(given)
    assert reply in chat.text
    assert chat.attempt.answers == before.answers


def test_unicode_digits_answer():
    chat = Chat(course_of((KITS, TIERS), ())).start().send("٣").send("２、３")
    assert [a.correct for a in chat.attempt.answers] == [True, True]


def test_an_old_button_is_recognised():
    chat = Chat(course_of((KITS, SHIPS), ())).start().answer_right()
    chat.send(payload="quiz:kits:3")
    assert "belongs to an earlier question" in chat.text and len(chat.attempt.answers) == 1
    chat.send("2").send(payload="quiz:ships:1")
    assert "That quiz is over" in chat.text


def test_answers_to_a_quiz_whose_questions_were_reordered_or_removed():
    chat = Chat(course_of((KITS, SHIPS, TIERS), ())).start().answer_right()
    # the author reorders the questions and deletes one while the learner is mid-quiz
    chat.course = course_of((TIERS, KITS), ())
    chat.catalog = Catalog((chat.course,))
    chat.send("2,3")
    assert "was removed from the course" in chat.text
    assert [a.question_id for a in chat.attempt.answers] == ["kits", "tiers"]
    assert "Result: 2/2" in chat.text  # the removed question no longer counts


def test_an_edited_question_is_asked_again_rather_than_graded():
    chat = Chat(course_of((KITS,), ())).start()
    edited = replace(KITS, options=("Solaro Max", "Solaro Lite", "Solaro Home"), answer=(1,))
    chat.course = course_of((edited,), ())
    chat.catalog = Catalog((chat.course,))
    chat.send("3")  # meant for the old options
    assert "just updated" in chat.text and chat.attempt.answers == ()
    chat.send("1")
    assert chat.attempt.answers[0].correct


def test_a_quiz_whose_session_was_removed_is_closed():
    chat = Chat(course_of((KITS,), ())).start()
    chat.course = replace(chat.course, sessions=chat.course.sessions[1:])
    chat.catalog = Catalog((chat.course,))
    chat.send("3")
    assert "quiz changed since you started it" in chat.text
    assert chat.attempt.status == QUIZ_ABANDONED and chat.progress.active_quiz is None


# --- shuffling, final exams, time limits ------------------------------------------------


def test_shuffle_is_seeded_per_learner_and_attempt():
    six = Question("six", "Pick f", "single", tuple("abcdef"), (6,))
    order = quiz.option_order(six, quiz.seed_for("k", "six", "quiz", 1), True)
    assert sorted(order) == [1, 2, 3, 4, 5, 6]
    assert order == quiz.option_order(six, quiz.seed_for("k", "six", "quiz", 1), True)
    orders = {
        quiz.option_order(six, quiz.seed_for(f"k{i}", "six", "quiz", 1), True) for i in range(9)
    }
    assert len(orders) > 1
    assert quiz.option_order(six, "any", False) == (1, 2, 3, 4, 5, 6)
    assert quiz.option_order(SHIPS, "any", True) == ()


def test_shuffled_options_are_graded_by_what_was_shown():
    course = course_of((KITS,), (), policy=QuizPolicy(shuffle=True))
    for key in ("web:a", "web:b", "web:c", "web:d"):
        chat = Chat(course, key=key).start()
        shown = chat.shown()
        assert sorted(shown) == sorted(KITS.options)
        chat.send(str(shown.index("Solaro Max") + 1))
        assert chat.attempt.answers[0].correct, (key, shown)
        assert chat.attempt.asked[0].options == shown  # stored as shown


def test_final_exam_draws_from_all_sessions_and_completes_the_course():
    final = Session("exam", "Final exam", "", final=True, draw=3)
    course = course_of((KITS, SHIPS), (PRICE, TIERS), final=final, navigation="free")
    chat = Chat(course).send("start demo training").send("section 3").send("complete")
    assert "Final exam**: 3 questions from the whole course" in chat.text
    drawn = [a.question_id for a in chat.progress.active_quiz.asked]
    assert len(set(drawn)) == 3 and set(drawn) <= {"kits", "ships", "price", "tiers"}
    again = Chat(course).send("start demo training").send("section 3").send("complete")
    assert [a.question_id for a in again.progress.active_quiz.asked] == drawn  # reproducible
    for _ in range(3):
        chat.answer_right()
    assert "passed the final exam and completed **Demo Course**" in chat.text
    assert CourseCompleted("demo") in chat.effects
    assert chat.progress.completed_at == chat.now and chat.progress.completed == ("exam",)
    assert chat.attempt.kind == "final"


def test_time_limit_marks_late_answers_and_the_score_says_so():
    course = course_of((KITS, SHIPS), (), policy=QuizPolicy(time_limit=60))
    chat = Chat(course).start()
    assert "(time limit: 1 min)" in chat.text
    chat.send("3", after=timedelta(seconds=20))
    chat.send("true", after=timedelta(minutes=2))
    assert "after the time limit" in chat.text
    assert [a.late for a in chat.attempt.answers] == [False, True]
    assert [a.seconds for a in chat.attempt.answers] == [20.0, 120.0]
    assert "Result: 2/2 (100%)" in chat.text
    assert "1 of your answers came after the 1 min time limit" in chat.text


def test_session_time_limit_overrides_the_course():
    session = Session("s1", "Topic 1", "Body.", quiz=(KITS,), time_limit=90)
    course = replace(course_of((), ()), sessions=(session, course_of((), ()).sessions[1]))
    chat = Chat(course).start()
    assert "(time limit: 90 s)" in chat.text


# --- spaced review ---------------------------------------------------------------------


def test_review_schedule_with_an_injected_clock():
    items = quiz.schedule_miss((), "kits", "s1", T0)
    (item,) = items
    assert (item.box, item.due, item.rights) == (1, T0 + DAY, 0)
    assert quiz.due_reviews(items, T0 + DAY / 2) == ()
    assert quiz.due_reviews(items, T0 + DAY) == items
    # right on day 1 → due on the 2nd day after the miss; right again → retired
    items = quiz.schedule_right(items, "kits", T0 + DAY)
    assert (items[0].box, items[0].due, items[0].rights) == (2, T0 + 2 * DAY, 1)
    assert quiz.schedule_right(items, "kits", T0 + 2 * DAY) == ()
    # wrong in a review → back to box 1, one day from then, the streak starts over
    items = quiz.schedule_miss(items, "kits", "s1", T0 + 2 * DAY)
    assert (items[0].box, items[0].due, items[0].rights) == (1, T0 + 3 * DAY, 0)
    # coming back late: the next due day is the first of 2, 4, 8… days still ahead
    late = quiz.schedule_right(items, "kits", T0 + 5 * DAY)
    assert (late[0].box, late[0].due) == (3, T0 + 2 * DAY + 4 * DAY)
    assert [quiz.review_interval(b).days for b in (1, 2, 3, 4)] == [1, 2, 4, 8]


def test_missed_questions_come_back_before_a_later_session_until_right_twice():
    course = course_of(
        (KITS, SHIPS, PRICE, TIERS, OPENER), (), (), (), policy=QuizPolicy(pass_mark=60)
    )
    chat = Chat(course).start()
    chat.answer_wrong().answer_right().answer_right().answer_right().answer_wrong()
    assert "Result: 3/5 (60%)" in chat.text and "Session 2: Topic 2" in chat.text
    assert [i.question_id for i in chat.progress.reviews] == [
        "kits"
    ]  # written answers aren't drilled
    chat.send("next", after=timedelta(hours=2))  # not due yet: straight on
    assert "Session 3: Topic 3" in chat.text
    chat.send("next", after=DAY)
    assert "Before Session 4, a quick review" in chat.text
    assert "Review** (from Session 1)" in chat.text and "Which kit runs a water pump?" in chat.text
    assert chat.progress.current == "s4"
    chat.send("solaro max")
    assert "✅ Right!" in chat.text and "Session 4: Topic 4" in chat.text
    assert chat.attempt.kind == REVIEW and chat.attempt.status == QUIZ_PASSED
    (item,) = chat.progress.reviews
    assert item.box == 2 and item.rights == 1
    chat.send("review")
    assert "Nothing is due for review" in chat.text
    chat.send("review", after=DAY)
    assert "1 question you missed before is due" in chat.text
    chat.send("3")
    assert "Review done: 1 of 1 right" in chat.text and chat.progress.reviews == ()


def test_a_wrong_review_answer_starts_the_schedule_over_and_quit_keeps_it_due():
    chat = Chat(course_of((KITS,), (), ())).start().answer_wrong().send("retake").answer_right()
    chat.send("next", after=DAY + timedelta(minutes=1))
    assert "quick review" in chat.text
    chat.send("quit")
    assert "Review closed" in chat.text and "Session 3: Topic 3" in chat.text
    chat.send("review")
    chat.answer_wrong()
    (item,) = chat.progress.reviews
    assert (item.box, item.rights, item.due) == (1, 0, chat.now + DAY)


# --- state survives the store ----------------------------------------------------------


def test_quiz_state_round_trips_through_to_doc():
    chat = Chat(
        course_of((KITS, SHIPS, OPENER, TIERS), (), policy=QuizPolicy(time_limit=60))
    ).start()
    chat.answer_wrong().send("skip").send("Tell me about your shop?", after=timedelta(minutes=3))
    chat.send("quit")
    learner = chat.learner
    assert from_doc(KEY, to_doc(learner)) == learner
    doc = to_doc(learner)
    attempt = doc["progress"]["demo"]["quizzes"][0]
    assert attempt["answers"][0]["picked"] == ["Solaro Lite"]
    assert attempt["asked"][0] == {"question_id": "kits", "options": list(KITS.options)}
    assert doc["progress"]["demo"]["reviews"][0]["question_id"] == "kits"
    assert isinstance(doc["progress"]["demo"]["quiz_blocked"], list)
    restored = from_doc(KEY, doc)
    assert restored.progress_in("demo").quizzes[0].answers[2].late


def test_old_documents_without_quiz_state_still_load():
    doc = {"progress": {"demo": {"current": "s1", "completed": ["s0"]}}}
    progress = from_doc(KEY, doc).progress_in("demo")
    assert progress.quizzes == () and progress.reviews == () and progress.active_quiz is None
    assert isinstance(progress.reviews, tuple)


def test_restart_keeps_attempt_history():
    chat = Chat(course_of((KITS,), (), policy=QuizPolicy(max_attempts=1))).start()
    chat.answer_wrong()
    assert chat.progress.quiz_blocked == ("s1",)
    chat.send("restart").send("yes")
    assert chat.progress.quizzes and chat.progress.quiz_blocked == ("s1",)
    chat.send("next")
    assert "used your one attempt at" in chat.text


def test_a_review_whose_question_was_removed_goes_on_to_the_session():
    chat = Chat(course_of((KITS, SHIPS), (), ())).start().answer_wrong().answer_right()
    chat.send("retake").answer_right().answer_right()
    chat.send("next", after=DAY)
    assert "quick review" in chat.text and chat.progress.current == "s3"
    chat.course = course_of((SHIPS,), (), ())
    chat.catalog = Catalog((chat.course,))
    chat.send("3")
    assert "Session 3: Topic 3" in chat.text and chat.progress.active_quiz is None
