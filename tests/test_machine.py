"""The learner state machine, table-driven: every command in every situation."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from flows.course import Catalog, Session
from flows.events import Ask, Inbound
from flows.machine import step
from flows.state import Learner, Progress, from_doc, to_doc
from tests.conftest import T0, make_course

COURSE = make_course(4)
CATALOG = Catalog((COURSE, make_course(2, "other", enroll=("start other training",))))
KEY = "console:ada"


def send(
    learner: Learner,
    text: str,
    catalog: Catalog = CATALOG,
    minutes: int = 1,
    payload: str | None = None,
    channel: str = "console",
):
    now = (learner.last_inbound_at or T0) + timedelta(minutes=minutes)
    event = Inbound(
        key=KEY,
        channel=channel,
        text=text,
        payload=payload,
        name="Ada",
        message_id=f"m-{now.isoformat()}",
    )
    return step(learner, catalog, event, now)


def run(*texts: str, catalog: Catalog = CATALOG, learner: Learner | None = None):
    learner = learner or Learner(KEY)
    outcome = None
    for text in texts:
        outcome = send(learner, text, catalog)
        learner = outcome.learner
    return outcome


def said(outcome) -> str:
    return "\n".join(r.text for r in outcome.replies)


def progress(outcome, course_id: str = "demo") -> Progress:
    return outcome.learner.progress_in(course_id)


# --- situations -------------------------------------------------------------------------

ENROLLED = ("start demo training",)
ON_3 = (*ENROLLED, "next", "next")
ON_LAST = (*ON_3, "next")
FINISHED = (*ON_LAST, "next")
PAUSED = (*ON_3, "exit")
CONFIRMING = (*ON_3, "restart")

SITUATIONS = {
    "new": (),
    "enrolled": ENROLLED,
    "on 3": ON_3,
    "on last": ON_LAST,
    "finished": FINISHED,
    "paused": PAUSED,
    "confirming": CONFIRMING,
}

# (situation, text) → a phrase the reply must contain, and the current session after it
# ("" means: not in the course, or unchanged).
TABLE = [
    ("new", "next", "To start a course, send its phrase", None),
    ("new", "menu", "To start a course", None),
    ("new", "section 2", "To start a course", None),
    ("new", "restart", "To start a course", None),
    ("new", "exit", "To start a course", None),
    ("new", "resume", "nothing to resume", None),
    ("new", "yes", "nothing to confirm", None),
    ("new", "progress", "haven't started a course", None),
    ("new", "courses", "Demo Course", None),
    ("new", "help", "How this works", None),
    ("new", "what is this?", "To start a course", None),
    ("new", "STOP", "won't get reminders", None),
    ("new", "START", "Reminders are back on", None),
    ("new", "start demo training", "Welcome, Ada", "s1"),
    ("new", "Start Demo Trainin", "Welcome, Ada", "s1"),
    ("enrolled", "next", "Session 2: Topic 2", "s2"),
    ("enrolled", "previous", "at Session 1, the first one", "s1"),
    ("enrolled", "back", "at Session 1, the first one", "s1"),
    ("enrolled", "menu", "Progress: 0/4 sessions completed", "s1"),
    ("enrolled", "complete", "Session 1 marked complete", "s1"),
    ("enrolled", "section 1", "Session 1: Topic 1", "s1"),
    ("enrolled", "section 2", "Session 2 is locked", "s1"),
    ("enrolled", "section 0", "There is no session “0”. Choose a number from 1 to 4", "s1"),
    ("enrolled", "section 99", "Choose a number from 1 to 4", "s1"),
    ("enrolled", "section abc", "Choose a number from 1 to 4", "s1"),
    ("enrolled", "start demo training", "already in **Demo Course**", "s1"),
    ("enrolled", "start other training", "Welcome, Ada", "s1"),
    ("on 3", "previous", "Session 2: Topic 2", "s2"),
    ("on 3", "section 1", "Session 1: Topic 1", "s1"),
    ("on 3", "section 3", "Session 3: Topic 3", "s3"),
    ("on 3", "section 4", "Session 4 is locked", "s3"),
    ("on 3", "go 2", "Session 2: Topic 2", "s2"),
    ("on 3", "menu", "Current: Session 3: Topic 3", "s3"),
    ("on 3", "progress", "Demo Course**: 2/4 sessions completed, now on Session 3", "s3"),
    ("on 3", "restart", "Restart **Demo Course** from Session 1?", "s3"),
    ("on 3", "exit", "Your progress is saved: 2/4 sessions completed", "s3"),
    ("on 3", "resume", "Session 3: Topic 3", "s3"),
    ("on 3", "yes", "nothing to confirm", "s3"),
    ("on last", "next", "Congratulations, Ada", "s4"),
    ("on last", "complete", "Congratulations, Ada", "s4"),
    ("on last", "section 4", "Session 4: Topic 4", "s4"),
    ("finished", "next", "already completed **Demo Course**", "s4"),
    ("finished", "section 1", "Session 1: Topic 1", "s1"),
    ("finished", "menu", "Progress: 4/4 sessions completed", "s4"),
    ("paused", "next", "You've paused **Demo Course**", "s3"),
    ("paused", "menu", "You've paused", "s3"),
    ("paused", "a question?", "You've paused", "s3"),
    ("paused", "resume", "Picking up **Demo Course** where you left off", "s3"),
    ("paused", "progress", "paused on Session 3", "s3"),
    ("paused", "start demo training", "Welcome back, Ada", "s3"),
    ("confirming", "yes", "restarted from the beginning", "s1"),
    ("confirming", "no", "Kept your progress", "s3"),
    ("confirming", "next", "Session 4: Topic 4", "s4"),
]


@pytest.mark.parametrize(
    ("situation", "text", "phrase", "current"), TABLE, ids=[f"{s}:{t}" for s, t, _, _ in TABLE]
)
def test_every_command_in_every_situation(situation, text, phrase, current):
    before = run(*SITUATIONS[situation]).learner if SITUATIONS[situation] else Learner(KEY)
    outcome = send(before, text)
    assert phrase in said(outcome)
    if current is not None:
        assert progress(outcome).current == current
    # progress never goes backwards except by restart
    if text not in ("yes",) or situation != "confirming":
        assert set(progress(outcome).completed) >= set(before.progress_in("demo").completed)


def test_every_command_in_every_situation_is_handled():
    """Each command word in each situation gives at least one reply or an effect."""
    words = [
        "next",
        "previous",
        "menu",
        "complete",
        "section 2",
        "progress",
        "courses",
        "help",
        "restart",
        "exit",
        "resume",
        "STOP",
        "START",
        "yes",
        "no",
        "",
        "🙂",
        "x" * 5000,
    ]
    for situation, texts in SITUATIONS.items():
        learner = run(*texts).learner if texts else Learner(KEY)
        for word in words:
            outcome = send(learner, word)
            assert outcome.replies or outcome.effects, (situation, word)


def test_enrollment_welcomes_by_name_with_session_count_then_session_1():
    outcome = run("start demo training")
    welcome, session = outcome.replies
    assert "Welcome, Ada" in welcome.text and "4 short sessions" in welcome.text
    assert session.text.startswith("📚 **Session 1: Topic 1**")
    assert "Reply **next** for Session 2" in session.text
    assert [b.payload for b in session.buttons] == ["next", "menu"]
    assert outcome.learner.active_course == "demo"
    assert progress(outcome).started_at is not None


def test_next_marks_completed_and_last_next_celebrates_once():
    outcome = run(*ON_LAST, "next")
    assert "Congratulations, Ada" in said(outcome)
    assert progress(outcome).completed == ("s1", "s2", "s3", "s4")
    finished_at = progress(outcome).completed_at
    assert finished_at is not None
    again = send(outcome.learner, "next")
    assert "Congratulations" not in said(again)
    assert progress(again).completed_at == finished_at


def test_complete_finishes_the_course_when_it_is_the_last_one_missing():
    outcome = run(*ON_LAST, "complete")
    assert "Congratulations" in said(outcome)


def test_last_session_buttons_offer_complete():
    outcome = run(*ON_LAST)
    assert [b.payload for b in outcome.replies[-1].buttons] == ["previous", "complete", "menu"]


def test_free_navigation_allows_jumping_ahead():
    free = replace(COURSE, navigation="free")
    outcome = run(*ENROLLED, "section 4", catalog=Catalog((free,)))
    assert "Session 4: Topic 4" in said(outcome)


def test_next_on_last_session_lists_what_remains():
    free = Catalog((replace(COURSE, navigation="free"),))
    outcome = run(*ENROLLED, "section 4", "next", catalog=free)
    assert "3 still to finish: Session 1, Session 2, Session 3" in said(outcome)
    assert progress(outcome).completed_at is None
    outcome = run(*ENROLLED, "section 4", "complete", catalog=free)
    assert "Session 4 marked complete" in said(outcome)
    assert "still to finish" in said(outcome)


def test_buttons_are_handled_like_typed_commands():
    learner = run(*ENROLLED).learner
    outcome = send(learner, "", payload="next")
    assert "Session 2: Topic 2" in said(outcome)
    outcome = send(Learner(KEY), "", payload="enroll:demo")
    assert "Welcome, Ada" in said(outcome)


def test_enroll_button_for_unknown_or_unoffered_course():
    assert "no longer available" in said(send(Learner(KEY), "", payload="enroll:nope"))
    web_only = replace(COURSE, channels=("web",))
    outcome = send(
        Learner(KEY), "", payload="enroll:demo", catalog=Catalog((web_only,)), channel="whatsapp"
    )
    assert "isn't offered on this channel" in said(outcome)


def test_free_text_in_a_course_is_a_question_about_the_current_session():
    outcome = run(*ON_3, "How do I quote a customer?")
    assert outcome.replies == ()
    assert outcome.effects == (Ask("How do I quote a customer?", "demo", "s3"),)


def test_empty_and_media_only_messages():
    learner = run(*ENROLLED).learner
    assert "didn't catch anything" in said(send(learner, "   "))
    media = step(learner, CATALOG, Inbound(KEY, "whatsapp", "", media_count=1), T0)
    assert "text only" in said(media)


def test_restart_confirmed_clears_progress_and_delivers_session_1():
    outcome = run(*CONFIRMING, "yes")
    assert progress(outcome).completed == ()
    assert "Session 1: Topic 1" in said(outcome)
    assert outcome.learner.pending is None


def test_stop_and_start_toggle_opt_out_without_leaving_the_course():
    outcome = run(*ON_3, "STOP")
    assert outcome.learner.opted_out
    assert progress(outcome).current == "s3"
    assert not send(outcome.learner, "START").learner.opted_out


def test_exit_then_resume_keeps_progress():
    outcome = run(*PAUSED)
    assert outcome.learner.paused
    assert "resume" in said(outcome)
    resumed = send(outcome.learner, "resume")
    assert not resumed.learner.paused
    assert progress(resumed).completed == ("s1", "s2")


def test_removed_session_moves_learner_to_first_unfinished_and_says_so():
    learner = run(*ON_3).learner  # completed s1, s2, on s3
    edited = replace(COURSE, sessions=tuple(s for s in COURSE.sessions if s.id != "s3"))
    outcome = send(learner, "menu", catalog=Catalog((edited,)))
    text = said(outcome)
    assert "has been removed" in text and "Session 3" in text
    assert progress(outcome).current == "s4"


def test_next_after_a_removed_session_shows_the_new_current_one_without_completing_it():
    learner = run(*ON_3).learner  # completed s1, s2, on s3
    edited = replace(COURSE, sessions=tuple(s for s in COURSE.sessions if s.id != "s3"))
    for command in ("next", "complete"):
        outcome = send(learner, command, catalog=Catalog((edited,)))
        assert "has been removed" in said(outcome)
        assert "Session 3: Topic 4" in said(outcome)
        assert progress(outcome).current == "s4"
        assert progress(outcome).completed == ("s1", "s2")


def test_inserted_and_renamed_sessions_keep_progress_by_id():
    learner = run(*ON_3).learner
    new = Session("intro", "New intro", "Inserted at the front.")
    edited = replace(COURSE, sessions=(new, *COURSE.sessions))
    outcome = send(learner, "menu", catalog=Catalog((edited,)))
    assert "Current: Session 4: Topic 3" in said(outcome)
    assert "Progress: 2/5" in said(outcome)


def test_course_removed_from_catalog():
    learner = run(*ON_3).learner
    outcome = send(learner, "next", catalog=Catalog(()))
    assert "no longer available" in said(outcome)
    assert outcome.learner.active_course is None
    assert outcome.learner.progress_in("demo").completed == ("s1", "s2")


def test_empty_course_answers_clearly_and_leaves_training():
    empty = replace(COURSE, sessions=())
    outcome = send(Learner(KEY), "start demo training", catalog=Catalog((empty,)))
    assert "has no sessions yet" in said(outcome)
    assert outcome.learner.active_course is None
    learner = run(*ON_3).learner
    outcome = send(learner, "next", catalog=Catalog((empty,)))
    assert "has no sessions yet" in said(outcome)
    assert outcome.learner.active_course is None


def test_course_message_overrides():
    custom = replace(COURSE, messages={"welcome": "Hello {name}, {total} lessons await."})
    outcome = send(Learner(KEY), "start demo training", catalog=Catalog((custom,)))
    assert outcome.replies[0].text == "Hello Ada, 4 lessons await."


def test_time_spent_is_counted_per_session_and_capped():
    learner = run(*ENROLLED).learner
    learner = send(learner, "what?", minutes=5).learner
    learner = send(learner, "and?", minutes=600).learner
    assert learner.progress_in("demo").seconds["s1"] == 5 * 60 + 15 * 60


def test_state_round_trips_through_documents():
    learner = run(*PAUSED).learner
    assert from_doc(KEY, to_doc(learner)) == learner
    assert from_doc(KEY, None) == Learner(KEY)


def test_sample_course_end_to_end(sample_catalog):
    learner = Learner("console:ada")
    texts = ["I am a new partner", "next", "menu", "section 2", "exit"]
    outputs = []
    for text in texts:
        outcome = send(learner, text, catalog=sample_catalog)
        learner = outcome.learner
        outputs.append(said(outcome))
    assert "Welcome, Ada" in outputs[0] and "7 short sessions" in outputs[0]
    assert "Session 2: The three Solaro kits" in outputs[1]
    assert "📊 Progress: 1/7 sessions completed" in outputs[2]
    assert "📍 Current: Session 2" in outputs[2]
    assert "progress is saved" in outputs[4]
