"""Quizzes through `trainbot chat` (a real subprocess on the shipped sample course) and
through `trainbot content check`."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.test_cli import trainbot

# partner-onboarding: session 2 has a 2-question quiz (options shuffled per learner), the
# answers are given by option text so the test does not depend on the shuffled order


def test_chat_all_right_prints_the_score_and_the_next_session():
    script = (
        "I am a new partner\nnext\nnext\nwhy can the Max run a pump?\nSolaro Max\nfalse\nexit\n"
    )
    result = trainbot("chat", "--name", "Ada", stdin=script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # the question mid-quiz is answered from the course, then the quiz question comes again
    passage = out.index("Here is the part of *Session 2")
    assert out.index("Question 1 of 2") < passage < out.rindex("Question 1 of 2")
    assert "Quick check*: 2 questions on Session 2" in out
    assert "Question 1 of 2" in out and "Question 2 of 2" in out
    assert out.count("✅ Right!") == 2
    assert "Result: 2/2 (100%)" in out and "You passed" in out
    assert "Session 3: How pricing works" in out.split("Result: 2/2")[1]
    assert "2/7 sessions completed" in out
    assert "Traceback" not in result.stderr


def test_chat_wrong_answers_show_the_right_answer_and_the_explanation():
    script = "I am a new partner\nnext\nnext\nSolaro Lite\ntrue\nretake\nexit\n"
    result = trainbot("chat", "--name", "Ada", "--as", "grace", stdin=script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "❌ Not quite. The right answer is *" in out and ") Solaro Max*." in out
    assert "Only the Solaro Max, with its 3 kW inverter and 5 kWh battery" in out
    assert "The right answer is *False*." in out
    assert "Solaro Home has a 2.4 kWh battery." in out
    assert "Result: 0/2 (0%)" in out and "pass mark is 80%" in out
    assert "2 attempts left" in out
    assert out.count("Quick check") == 2  # retake starts attempt 2
    assert "Traceback" not in result.stderr


def _course(folder: Path, sessions: dict[str, str], course_yaml: str = "") -> None:
    folder.mkdir()
    (folder / "course.yaml").write_text(
        "title: Quizzes\nenroll: [start quiz course]\n" + textwrap.dedent(course_yaml)
    )
    for name, text in sessions.items():
        (folder / name).write_text(textwrap.dedent(text).lstrip())


def test_content_check_validates_quizzes(tmp_path: Path):
    folder = tmp_path / "quizzes"
    eleven = ", ".join(f'"o{i}"' for i in range(11))
    _course(
        folder,
        {
            "01-a.md": f"""
            ---
            title: A
            time_limit: soon
            quiz:
              - q: Range?
                options: [x, y, z]
                answer: 4
              - q: Duplicates?
                options: [Maybe, "maybe ", yes]
                answer: 1
              - q: Boolean?
                type: true_false
                answer: 2
              - q: Rubric?
                type: text
              - q: Too many?
                options: [{eleven}]
                answer: 1
              - q: Same id
                id: dup
                options: [a, b]
                answer: 1
            ---
            Body.
            """,
            "02-b.md": """
            ---
            title: B
            final: yes please
            draw: 0
            quiz:
              - q: Same id again
                id: dup
                options: [a, b]
                answer: 2
            ---
            Body.
            """,
        },
        course_yaml="quiz: {pass_mark: 80, shuffle: maybe, time_limit: 0}\n",
    )
    result = trainbot("content", "check", str(tmp_path))
    assert result.returncode == 1
    out = result.stdout
    a, b, course = folder / "01-a.md", folder / "02-b.md", folder / "course.yaml"
    expected = [
        f"{a}:3: 'time_limit' must be minutes (a number) or a duration like '90s', '10m'",
        f"{a}:7: answer out of range: choose from 1 to 3",
        f"{a}:9: duplicate options",
        f"{a}:9: warning: an option is read as true (YAML reads yes, no, on, off that way)",
        f"{a}:13: a true_false question needs answer: true or false",
        f"{a}:14: warning: a text question without a 'rubric' cannot be graded",
        f"{a}:17: 11 options: at most 10 fit a WhatsApp list",
        f"{b}:3: 'final' must be true or false",
        f"{b}:4: 'draw' must be a number of questions, 1+",
        f"{b}:5: quiz question id 'dup' is also used in 01-a.md",
        f"{course}:3: 'shuffle' must be true or false",
        f"{course}:3: 'time_limit' must be minutes (a number) or a duration like '90s', '10m'",
    ]
    for line in expected:
        assert line in out, f"missing: {line}\n{out}"


def test_content_check_final_exam_and_draw(tmp_path: Path):
    folder = tmp_path / "finals"
    _course(
        folder,
        {
            "01-a.md": """
            ---
            title: A
            quiz:
              - q: One?
                type: true_false
                answer: true
            ---
            Body.
            """,
            "02-final.md": """
            ---
            title: Final exam
            final: true
            draw: 5
            time_limit: 10m
            ---
            """,
            "03-after.md": """
            ---
            title: After
            ---
            Body.
            """,
        },
    )
    result = trainbot("content", "check", str(tmp_path))
    assert result.returncode == 0, result.stdout
    final = folder / "02-final.md"
    assert f"{final}:3: warning: the final exam is not the last session" in result.stdout
    assert f"{final}:4: warning: draw: 5 but only 1 questions exist: all are asked" in result.stdout
