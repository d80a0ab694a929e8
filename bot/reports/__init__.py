"""Every admin figure, computed by MongoDB aggregation pipelines in this package, one
module per page or group of figures (the split of issue 19).

The overview page, the JSON API and `trainbot report` all call `Reports`, so they show the
same numbers. The pipelines use only operators that both real MongoDB and the embedded
store (mongomock-ng) evaluate the same way; a median is taken in Python because `$median`
needs MongoDB 7.

It reads what the other parts write (docs/admin.md has the field list), defensively, so a
missing field shows as "no data yet":
- quiz attempts: `progress.<course>.quizzes` (`flows.state.QuizAttempt` via `to_doc`);
- questions asked: the `questions` collection (`Store.log_question`), with the answer mode;
- certificates: the `certificates` collection (`bot.certificates`); a learner's certificate
  state is that of their newest one, as `Certificates.status_of` says.
"""

from __future__ import annotations

from bot.reports.certification import CertificationFigures
from bot.reports.common import ANSWER_MODES, STATUSES
from bot.reports.content import ContentFigures
from bot.reports.courses import CourseFigures, CourseReport
from bot.reports.learner import LearnerPages
from bot.reports.trends import TrendFigures


class Reports(CourseFigures, ContentFigures, CertificationFigures, LearnerPages, TrendFigures):
    """Read-only analytics over learners, deliveries and certificates."""


__all__ = ["ANSWER_MODES", "STATUSES", "CourseReport", "Reports"]
