"""Course loading and validation: every problem as path:line: message."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from bot.content import Library, check
from tests.conftest import SAMPLE

GOOD_COURSE = "title: Demo\nenroll: [start demo]\n"
GOOD_SESSION = "---\ntitle: One\n---\nHello **world**.\n"
QUIZ = "---\ntitle: A\nquiz:\n{}\n---\nB\n"


def write(folder: Path, files: dict[str, str | bytes]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
    return folder


def problems(root: Path) -> list[str]:
    return [str(p) for p in check(root).problems]


def test_sample_content_is_clean_and_complete():
    result = check(SAMPLE)
    assert result.problems == []
    ids = {c.id: c for c in result.courses}
    assert len(ids["partner-onboarding"].sessions) == 7
    assert len(ids["sales-basics"].sessions) == 4
    assert ids["partner-onboarding"].enroll[0] == "I am a new partner"
    assert any(s.media for s in ids["partner-onboarding"].sessions)
    for course in result.courses:
        for session in course.sessions:
            words = len(session.body.split())
            assert 150 <= words <= 450, (course.id, session.id, words)


def test_a_course_written_elsewhere_loads(tmp_path: Path):
    course = write(
        tmp_path / "safety",
        {
            "course.yaml": "title: Site Safety\ndescription: d\nenroll: ['start safety']\n"
            "navigation: free\nchannels: [web]\n",
            "1_intro.md": "---\ntitle: Intro\n---\nWear a helmet.\n",
            "2 Ladders.md": "---\ntitle: Ladders\nid: ladders\n---\nThree points of contact.\n",
            "10-fire.md": "---\ntitle: Fire\n---\nKnow the exits.\n",
        },
    )
    result = check(tmp_path)
    assert result.errors == []
    loaded = result.courses[0]
    assert [s.id for s in loaded.sessions] == ["fire", "intro", "ladders"]  # file-name order
    assert loaded.navigation == "free"
    assert check(course).courses[0].id == "safety"  # a single course folder works too


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"course.yaml": "title: [oops\n"}, "c/course.yaml:1: invalid YAML"),
        ({"course.yaml": "title: T\ncolour: red\n"}, "c/course.yaml:2: unknown key 'colour'"),
        ({"course.yaml": "description: no title\n"}, "c/course.yaml:1: 'title' is required"),
        ({"course.yaml": "title: T\nnavigation: random\n"}, "c/course.yaml:2: 'navigation'"),
        ({"course.yaml": "title: T\nchannels: [fax]\n"}, "c/course.yaml:2: 'channels'"),
        (
            {"course.yaml": "title: T\nwhatsapp:\n  combine_replies: maybe\n"},
            "c/course.yaml:3: 'combine_replies' must be true or false",
        ),
        (
            {"course.yaml": "title: T\nwhatsapp: {combine: true}\n"},
            "c/course.yaml:2: unknown key 'combine' in whatsapp settings",
        ),
        (
            {"course.yaml": "title: T\nenroll: [menu]\n"},
            "c/course.yaml:2: enrollment phrase 'menu'",
        ),
        (
            {"course.yaml": "title: T\nmessages:\n  hello: hi\n"},
            "c/course.yaml:3: unknown message key",
        ),
        (
            {"course.yaml": "title: T\nmessages:\n  welcome: Hi {nick}\n"},
            "c/course.yaml:3: message 'welcome' uses {nick}",
        ),
        ({"course.yaml": "title: T\nquiz: {pass_mark: 120}\n"}, "c/course.yaml:2: 'pass_mark'"),
        ({"01-a.md": "no front matter\n"}, "c/01-a.md:1: missing front matter"),
        ({"01-a.md": "---\ntitle: A\n"}, "c/01-a.md:1: front matter is not closed"),
        (
            {"01-a.md": "---\ntitle: A\nsummary: x\n---\nBody\n"},
            "c/01-a.md:3: unknown key 'summary'",
        ),
        ({"01-a.md": "---\ntitle: [A\n---\nBody\n"}, "c/01-a.md:2: invalid YAML"),
        ({"01-a.md": "---\nid: a\n---\nBody\n"}, "c/01-a.md:2: 'title' is required"),
        ({"01-a.md": "---\ntitle: A\n---\n\n"}, "c/01-a.md:4: the session has no text"),
        ({"01-a.md": "---\ntitle: A\nid: Bad Id\n---\nB\n"}, "c/01-a.md:3: session id 'Bad Id'"),
        (
            {"01-a.md": "---\ntitle: A\n---\nText\n\n![chart](media/none.png)\n"},
            "c/01-a.md:6: media file 'media/none.png' not found",
        ),
        ({"01-a.md": "---\ntitle: A\n---\n![x](../course.yaml)\n"}, "c/01-a.md:4: media file"),
        (
            {"01-a.md": "---\ntitle: A\n---\nText\n\n![clip](media/none.mp4)\n"},
            "c/01-a.md:6: linked file 'media/none.mp4' not found",
        ),
        ({"01-a.md": b"---\ntitle: A\n---\nbad \xff byte\n"}, "c/01-a.md:4: not valid UTF-8"),
        (
            {"01-a.md": GOOD_SESSION, "02-a.md": GOOD_SESSION},
            "c/02-a.md:1: duplicate session id 'a'",
        ),
        (
            {"01-a.md": QUIZ.format("  - q: Pick\n    options: [x, y]\n    answer: 3")},
            "c/01-a.md:6: answer out of range",
        ),
        (
            {"01-a.md": QUIZ.format("  - q: Pick\n    options: [x, x]\n    answer: 1")},
            "c/01-a.md:5: duplicate options",
        ),
        (
            {"01-a.md": QUIZ.format("  - q: T?\n    type: true_false\n    answer: 1")},
            "c/01-a.md:6: a true_false question needs answer: true or false",
        ),
        (
            {
                "01-a.md": QUIZ.format(
                    "  - q: Pick\n    options: [a,b,c,d,e,f,g,h,i,j,k]\n    answer: 1"
                )
            },
            "c/01-a.md:5: 11 options",
        ),
        (
            {"01-a.md": "---\ntitle: A\nquiz:\n  - q: Explain\n    type: text\n---\nB\n"},
            "c/01-a.md:4: warning: a text question without a 'rubric'",
        ),
        (
            {"01-a.md": "---\ntitle: A\n---\n" + "Long sentence here. " * 100},
            "c/01-a.md:1: warning: ",
        ),
        ({"notes.md": "# notes\n"}, "c/notes.md:1: warning: ignored"),
    ],
)
def test_problems_are_reported_with_path_and_line(tmp_path: Path, files, expected):
    write(tmp_path / "c", {"course.yaml": GOOD_COURSE, "01-one.md": GOOD_SESSION, **files})
    found = [p.replace(str(tmp_path) + os.sep, "") for p in problems(tmp_path)]
    assert any(p.startswith(expected) for p in found), found


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"course.yaml": "title: T\nenroll: [a, b\nnavigation: free\n"}, "c/course.yaml:2:"),
        ({"course.yaml": "title: T\nquiz: {pass_mark: 80\n"}, "c/course.yaml:2:"),
        ({"course.yaml": 'title: "unclosed\nfoo: bar\n'}, "c/course.yaml:1:"),
        ({"course.yaml": "title: T\ndescription: 'it's'\n"}, "c/course.yaml:2:"),
        (
            {"01-a.md": "---\ntitle: A\nquiz:\n  - q: Pick\n    options: [x, y\n---\nB\n"},
            "c/01-a.md:5:",
        ),
        ({"01-a.md": "---\ntitle: A\nid: a: b\n---\nB\n"}, "c/01-a.md:3:"),
    ],
)
def test_invalid_yaml_is_reported_on_the_line_to_fix(tmp_path: Path, files, expected):
    """Failed before: an unclosed `[`, `{` or quote was reported on the line after it (where
    YAML noticed), in course.yaml and front matter alike, even past the front matter's end."""
    write(tmp_path / "c", {"course.yaml": GOOD_COURSE, "01-one.md": GOOD_SESSION, **files})
    found = [p.replace(str(tmp_path) + os.sep, "") for p in problems(tmp_path)]
    assert any(p.startswith(expected + " invalid YAML") for p in found), found


def test_a_link_to_a_missing_course_file_is_reported(tmp_path: Path):
    """Failed before: only images were checked, so `[Price list](media/prices.pdf)` with no
    such file passed `content check` and learners got a dead link."""
    body = (
        "---\ntitle: A\n---\nSee [the prices](media/prices.pdf).\n\n"
        "[Sheet](media/sheet%20one.pdf) · [Web](https://example.com/x.pdf) · [Top](#top)\n\n"
        "[Notes](media/notes.html)\n"
    )
    write(tmp_path / "c", {"course.yaml": GOOD_COURSE, "01-a.md": body})
    write(tmp_path / "c" / "media", {"sheet one.pdf": b"%PDF-1.4", "notes.html": "<p>x</p>"})
    found = [p.replace(str(tmp_path) + os.sep, "") for p in problems(tmp_path)]
    assert "c/01-a.md:4: linked file 'media/prices.pdf' not found" in found, found
    assert any(p.startswith("c/01-a.md:8: 'media/notes.html' is not an allowed") for p in found)
    assert not any(":6:" in p for p in found), found  # present file, web link, anchor


def test_every_problem_is_reported_at_once(tmp_path: Path):
    write(
        tmp_path / "c",
        {
            "course.yaml": "title: T\ncolour: red\nshape: round\n",
            "01-a.md": "---\ntitle: A\nsummary: x\n---\nB\n",
            "02-b.md": "no front matter",
        },
    )
    assert len(check(tmp_path).errors) == 4


def test_enrollment_phrase_shared_by_two_courses(tmp_path: Path):
    write(
        tmp_path / "a",
        {"course.yaml": "title: A\nenroll: ['Start now']\n", "01-x.md": GOOD_SESSION},
    )
    write(
        tmp_path / "b",
        {"course.yaml": "title: B\nenroll: ['start NOW!']\n", "01-x.md": GOOD_SESSION},
    )
    assert any("also used by 'a'" in p for p in problems(tmp_path))


def test_empty_or_missing_folder(tmp_path: Path):
    assert "no course folders" in problems(tmp_path)[0]
    assert "no such content folder" in problems(tmp_path / "missing")[0]


def test_library_reloads_changes_and_keeps_the_last_good_version(tmp_path: Path):
    folder = write(tmp_path / "c", {"course.yaml": GOOD_COURSE, "01-one.md": GOOD_SESSION})
    clock = [0.0]
    library = Library(tmp_path, check_every=1.0, clock=lambda: clock[0])
    first = library.current().get("c")
    assert first is not None and first.sessions[0].title == "One"

    time.sleep(0.01)
    (folder / "02-two.md").write_text("---\ntitle: Two\n---\nMore.\n")
    assert library.current().get("c") is first  # not re-checked yet
    clock[0] += 2
    assert [s.title for s in library.current().get("c").sessions] == ["One", "Two"]

    (folder / "course.yaml").write_text("title: [broken\n")
    clock[0] += 2
    served = library.current().get("c")
    assert served is not None and len(served.sessions) == 2  # last good version
    assert any("invalid YAML" in str(p) for p in library.problems)
