"""Loading and validating course folders (course.yaml + NN-slug.md session files).

Every problem is reported as `path:line: message` so an author can jump to it. The
`Library` keeps the running bot on the last good version of each course: a broken edit
is reported and logged, never served.
"""

from __future__ import annotations

from bot.content.checks import CheckResult, check, check_enrollment, course_folders, load_course
from bot.content.library import Library
from bot.content.parsing import Problem

__all__ = [
    "CheckResult",
    "Library",
    "Problem",
    "check",
    "check_enrollment",
    "course_folders",
    "load_course",
]
