"""The bot's own words in English: the catalog every other language translates key for key
(`flows.messages_fr`) and a course may override (`messages:` in course.yaml)."""

from __future__ import annotations

CATALOG: dict[str, str] = {
    "welcome": (
        "👋 Welcome, {name}! You're enrolled in **{course}**: {total:one=# short session|other=# "
        "short sessions}. "
        "Read one at a time, reply **next** when you're ready for the next one, and ask me "
        "anything about what you read."
    ),
    "welcome_back": (
        "👋 Welcome back, {name}! You're already in **{course}**; here is where you were."
    ),
    "session": "📚 **Session {number}: {title}**\n\n{body}\n\n{hint}",
    "session_header": "Session {number}: {title}",
    "hint_next": (
        "👉 Reply **next** for Session {next}, **menu** for options, or ask me a question."
    ),
    "hint_last": (
        "👉 This is the last session. Reply **complete** when you have finished it, "
        "or ask me a question."
    ),
    "marked_complete": "✅ Session {number} marked complete. Reply **next** for Session {next}.",
    "marked_complete_last": "✅ Session {number} marked complete.",
    "course_complete": (
        "🎉 Congratulations, {name}! You have completed **{course}**: {total:one=its one "
        "session|other=all # sessions}. "
        "Reply **menu** to review any session or **courses** to see what else you can take."
    ),
    "course_already_complete": (
        "🎓 You have already completed **{course}**. Reply **section N** to review a session, "
        "**restart** to take it again, or **courses** for other courses."
    ),
    "remaining": (
        "📌 You're on the last session, but {count} still to finish: {sessions}. "
        "Reply **section N** to go to one."
    ),
    "at_first": "You're at Session 1, the first one. Reply **next** to continue.",
    "locked": (
        "🔒 Session {target} is locked: sessions open in order. "
        "Finish Session {open} first, or reply **section {open}** to go there."
    ),
    "out_of_range": "There is no session “{given}”. Choose a number from 1 to {total}.",
    "menu": (
        "**{course}**\n"
        "📊 Progress: {done}/{total} sessions completed\n"
        "📍 Current: Session {number}: {title}\n\n"
        "**next** · **previous** · **section N** · **complete**\n"
        "**quiz** · **review** · **progress** · **courses** · **help** · **restart** · **exit**"
    ),
    "progress_line": "• **{course}**: {done}/{total} sessions completed{state}",
    "progress_state_current": ", now on Session {number}",
    "progress_state_paused": ", paused on Session {number}",
    "progress_state_done": " 🎓",
    "progress": "**Your progress**\n{lines}",
    "progress_none": "You haven't started a course yet. Reply **courses** to see them.",
    "courses": "**Courses**\n{lines}\n\nSend a course's phrase to start it.",
    "course_line": "• **{title}**: {description} Say “{phrase}”.",
    "courses_none": "There are no courses available here yet. Please check back later.",
    "help": (
        "**How this works**\n"
        "Read one session at a time and ask me anything about it.\n\n"
        "• **next** / **previous**: move between sessions\n"
        "• **section N**: jump to session N\n"
        "• **complete**: mark this session done (after its quiz, when it has one)\n"
        "• **quiz** / **retake**: take this session's quiz; **skip** a question, **quit** it\n"
        "• **review**: go over questions you missed, when they are due\n"
        "• **menu** or **progress**: see where you are\n"
        "• **courses**: see all courses\n"
        "• **restart**: start this course over\n"
        "• **exit**: pause; **resume** to come back\n"
        "• **STOP** / **START**: turn reminders off / on"
        "\n• **timezone Europe/Berlin**: your time zone, for reminders"
        "\n• **certificate**: get your certificate again"
        "\n• **link**: use this course on another channel too (WhatsApp, Slack)"
    ),
    "not_enrolled": (
        "👋 Hi{name_part}! I'm your training assistant. To start a course, send its phrase:\n"
        "{phrases}\n\nReply **courses** for details or **help** for how this works."
    ),
    "paused": (
        "⏸️ You've paused **{course}**. Reply **resume** to continue at Session {number}, "
        "or **courses** to see other courses."
    ),
    "exit": (
        "👋 You've left **{course}**. Your progress is saved: {done}/{total} sessions completed. "
        "Reply **resume** any time to pick up at Session {number}."
    ),
    "resume": "▶️ Welcome back, {name}! Picking up **{course}** where you left off.",
    "nothing_to_resume": "There's nothing to resume. Reply **courses** to start a course.",
    "restart_confirm": (
        "🔄 Restart **{course}** from Session 1? Your completed sessions will be cleared. "
        "Reply **yes** to restart or **no** to keep your progress."
    ),
    "restart_done": "🔄 **{course}** restarted from the beginning.",
    "restart_cancelled": "👍 Kept your progress in **{course}**.",
    "nothing_to_confirm": "There's nothing to confirm right now. Reply **menu** for options.",
    "stop": (
        "🔕 You won't get reminders or other messages you didn't ask for. "
        "Reply **START** to turn them back on. You can keep learning any time."
    ),
    "start": "🔔 Reminders are back on.",
    "empty_message": "I didn't catch anything there. Reply **help** to see what you can do.",
    "media_only": (
        "📎 I can read text only for now. Type your question or a command such as **menu**."
    ),
    "course_empty": (
        "⚠️ **{course}** has no sessions yet, so there's nothing to read. I've taken you out of "
        "training; reply **courses** to choose another course."
    ),
    "course_gone": (
        "⚠️ The course you were taking is no longer available. Your progress is kept. "
        "Reply **courses** to choose another course."
    ),
    "session_moved": (
        "ℹ️ The session you were on has been removed from the course, so I've moved you "
        "to Session {number}."
    ),
    "not_offered": "**{course}** isn't offered on this channel.",
    "answer_passage": (
        "📖 Here is the part of **Session {number}: {title}** that best matches your question "
        "(a passage from the course, not a personal answer):\n\n{passage}"
    ),
    "answer_none": (
        "🤔 I couldn't find that in **{course}**. Try asking with other words, or reply **menu** "
        "for options."
    ),
    "slow_down": (
        "🐢 That's a lot of messages at once. Please wait a minute; I'll read what you send "
        "after that."
    ),
    "answer_model": "{answer}\n\n— Session {number}: {title}",
    "answer_elsewhere": (
        "📍 That's from Session {number}, not the one you're reading: "
        "reply **section {number}** to go there."
    ),
    "answer_later": "📍 That's from Session {number}, later in the course: you'll get there soon.",
    "answer_off_course": (
        "🙂 I can only help with questions about **{course}**. Ask me anything about what "
        "you are reading, or reply **menu** for options."
    ),
    "answer_empty": "🤔 I didn't get a question there. Type it in one message.",
    "answer_truncated": "✂️ Your message was long, so I only read its first {limit} characters.",
    "answer_budget": (
        "ℹ️ You've reached today's limit for written answers, so here is the matching part "
        "of the course. Full answers are back tomorrow."
    ),
    "answer_unavailable": (
        "ℹ️ I can't write an answer right now, so here is the matching part of the course."
    ),
    "button_session": "📖 Session {number}",
    # Buttons written out for a channel that cannot show them ({commands}: "*next* · *menu*").
    "buttons_hint": "👉 Reply {commands}",
    "reminder": (
        "👋 {name}, session {number} of {total} is waiting: **{title}**. "
        "Tap **Resume** to pick up **{course}** where you left off."
    ),
    "reminder_last": (
        "👋 {name}, session {number} of {total} of **{course}** is still waiting: **{title}**. "
        "This is my last reminder; reply **resume** whenever you're ready."
    ),
    "timezone_set": "🕒 Time zone set to **{zone}**. Reminders will respect your night-time.",
    "timezone_current": (
        "🕒 Your time zone is **{zone}**. To change it, reply e.g. **timezone Europe/Berlin**."
    ),
    "timezone_unknown": (
        "I don't know the time zone “{given}”. Use a name such as **Europe/Berlin** or "
        "**Africa/Lagos**."
    ),
    "certificate_issued": (
        "🎓 Your certificate for **{course}** is ready: {url}\n"
        "Verification code {code}{expiry}. Anyone can check it at {verify_url}"
    ),
    "certificate_expiry": " (valid until {date})",
    "certificate_none": (
        "You don't have a certificate yet. Finish a course and I'll send yours here."
    ),
    "certificate_not_offered": "**{course}** doesn't award a certificate.",
    "link_code": (
        "🔗 Your linking code is **{code}** (valid {minutes} minutes, once).\n"
        "On your other channel, send: link {code}"
    ),
    "link_done": (
        "✅ Linked! This channel now continues the same training as your other one. "
        "Reply **menu** to carry on."
    ),
    "link_wrong": (
        "That code isn't right. Check the 6 digits and send **link** followed by them, "
        "or send **link** on your first channel for a new code."
    ),
    "link_expired": (
        "That code has expired (codes last {minutes} minutes). "
        "Send **link** on your first channel for a new one."
    ),
    "link_used": (
        "That code has already been used. Send **link** on your first channel for a new one."
    ),
    "link_void": (
        "That code is no longer valid after too many wrong tries. "
        "Send **link** on your first channel for a new one."
    ),
    "link_already": "This channel is already linked to your account. Nothing to do.",
    "link_taken": (
        "This channel is already linked to another account, so I can't link it. "
        "Please contact your trainer."
    ),
    "link_has_progress": (
        "This channel already has its own training progress, so I won't merge it into your "
        "other account. Please contact your trainer to combine them."
    ),
    "certificate_revoked": (
        "Your certificate for **{course}** has been revoked. Please contact your trainer."
    ),
    "certificate_expiring": (
        "⏳ {name}, your **{title}** certificate for **{course}** expires on {date}. "
        "To renew it, open the course and reply **restart** to take it again."
    ),
    # The certificate PDF and its public verification page (plain text: no Markdown).
    "certificate_pdf_certifies": "This certifies that",
    "certificate_pdf_completed": "has completed the course {course}",
    "certificate_pdf_issued": "Issued {date}",
    "certificate_pdf_valid_until": "Valid until {date}",
    "certificate_pdf_code": "Verification code: {code}",
    "certificate_pdf_verify_at": "Verify at: {url}",
    "verify_page_title": "Certificate verification",
    "verify_heading_valid": "Certificate valid",
    "verify_heading_expired": "Certificate expired",
    "verify_heading_revoked": "Certificate revoked",
    "verify_awarded_to": "Awarded to",
    "verify_code_issued": "Code {code} · issued {date}",
    "verify_valid_until": " · valid until {date}",
    "verify_valid": "This certificate is genuine and currently valid.",
    "verify_expired": "This certificate was genuine but has expired.",
    "verify_revoked": "This certificate has been revoked and is no longer valid.",
    "button_open_course": "📚 Open course",
    "button_previous": "⬅️ Previous",
    "button_next": "Next ➡️",
    "button_complete": "✅ Complete",
    "button_menu": "📋 Menu",
    "button_resume": "▶️ Resume",
    "button_yes": "Yes, restart",
    "button_no": "No, keep it",
    # --- quizzes ---
    "quiz_start": (
        "📝 **Quick check**: {count:one=# question|other=# questions} on Session {number}{limit}. "
        "Answer each by its "
        "number, letter or text; **skip** a question or **quit** the quiz any time."
    ),
    "quiz_start_final": (
        "🎓 **Final exam**: {count:one=# question|other=# questions} from the whole course{limit}. "
        "Pass it to complete "
        "**{course}**. Answer each by its number, letter or text; **skip** a question or **quit** "
        "any time."
    ),
    "quiz_limit": " (time limit: {limit})",
    "time_minutes": "{minutes} min",
    "time_seconds": "{seconds} s",
    "quiz_resume": "▶️ Picking up your quiz at question {index} of {count}.",
    "quiz_question": "❓ **Question {index} of {count}**\n\n{prompt}\n\n{options}{how}",
    "quiz_question_review": (
        "🔁 **Review** (from Session {number}): a question you missed before.\n\n"
        "{prompt}\n\n{options}{how}"
    ),
    "quiz_how_single": "Reply with the number of your answer (1-{count}).",
    "quiz_how_multi": (
        "More than one answer can be right: reply with every number that applies, like **1,3**."
    ),
    "quiz_how_true_false": "Reply **true** or **false**.",
    "quiz_how_text": "Reply in a sentence or two.",
    "option_true": "True",
    "option_false": "False",
    "quiz_right": "✅ Right!{explain}",
    "quiz_wrong": "❌ Not quite. The right answer is {answer}.{explain}",
    "quiz_skipped": "⏭️ Skipped. The right answer is {answer}.{explain}",
    "quiz_skipped_text": "⏭️ Skipped. A good answer: {rubric}{explain}",
    "quiz_keywords_right": (
        "📝 **Keyword check**: your answer covers {met} of {total} points of the marking guide, "
        "so it counts as right.\n{points}{explain}"
    ),
    "quiz_keywords_wrong": (
        "📝 **Keyword check**: your answer covers {met} of {total} points of the marking guide, "
        "so it doesn't count as right this time.\n{points}{explain}"
    ),
    "quiz_grading": "📝 Checking your answer…",
    "quiz_grading_wait": "⏳ Still checking your written answer: one moment, please.",
    "quiz_model_right": "📝 **Marked by the assistant**: this counts as right. {feedback}{explain}",
    "quiz_model_wrong": (
        "📝 **Marked by the assistant**: this doesn't count as right this time. {feedback}{explain}"
    ),
    "quiz_grade_fallback": (
        "⚠️ The assistant couldn't mark your answer, so it was a keyword check.\n"
    ),
    "quiz_keyword_met": "✅ {point}",
    "quiz_keyword_missed": "▫️ {point}",
    "quiz_text_ungraded": "📝 Thanks! This question has no marking guide, so every answer counts.",
    "quiz_late_note": " ⏱️ This answer came after the time limit.",
    "quiz_result_pass": (
        "🏁 **Result: {score}/{total} ({percent}%)**. 🎉 You passed: the pass mark is "
        "{pass_mark}%.{late}{keywords}"
    ),
    "quiz_result_fail": (
        "🏁 **Result: {score}/{total} ({percent}%)**. The pass mark is {pass_mark}%, so not this "
        "time.{late}{keywords}"
    ),
    "quiz_result_late": " ⏱️ {count} of your answers came after the {limit} time limit.",
    "quiz_result_keywords": " 📝 Written answers were marked by a keyword check of the guide.",
    "quiz_retry": (
        "Reply **retake** to try again ({left:one=# attempt|other=# attempts} left) or "
        "**review** to re-read "
        "Session {number} first."
    ),
    "quiz_max_attempts": (
        "🔒 You've used {max:one=your one attempt|other=all # attempts} at the Session {number} "
        "quiz. Please contact your "
        "trainer or partner manager: they can unlock more attempts for you. Meanwhile you can "
        "re-read the session: reply **review**."
    ),
    "quiz_passed_already": (
        "✅ You've already passed the Session {number} quiz ({score}/{total}). Reply **next** to "
        "continue."
    ),
    "quiz_none": "Session {number} has no quiz. Reply **next** to continue.",
    "quiz_not_active": (
        "You're not in a quiz right now. Reply **quiz** to take this session's quiz."
    ),
    "quiz_busy": (
        "📝 You're in the middle of a quiz (question {index} of {count}). Answer it, reply "
        "**skip** to skip it, or **quit** to leave the quiz (your answers so far are kept)."
    ),
    "quiz_quit": (
        "🚪 You've left the quiz; your answers so far are kept. Reply **quiz** to pick it up "
        "where you left off, or **menu** for options."
    ),
    "quiz_empty": "I didn't catch an answer. {how} Or reply **skip** or **quit**.",
    "quiz_bad_number": "“{given}” isn't one of the options: choose a number from 1 to {count}.",
    "quiz_unreadable": (
        "I couldn't read “{given}” as an answer. {how} Or reply **skip** or **quit**."
    ),
    "quiz_repeated": (
        "You gave option {number} more than once. Reply with each option once, like **1,3**."
    ),
    "quiz_one_answer": "This question has one right answer: reply with a single option.",
    "quiz_stale_button": "That button belongs to an earlier question. Here is the current one.",
    "quiz_question_removed": (
        "ℹ️ A question of this quiz was removed from the course, so it no longer counts."
    ),
    "quiz_question_changed": "ℹ️ This question was just updated, so here it is again.",
    "quiz_changed": (
        "ℹ️ This quiz changed since you started it, so that attempt is closed. Reply **quiz** "
        "to start it again."
    ),
    "quiz_over": "That quiz is over. Reply **menu** for options.",
    "quiz_unfinished": (
        "📌 Session {number} stays unfinished until you pass its quiz: reply **section {number}** "
        "and then **quiz** when you're ready."
    ),
    "quiz_reread": "📖 Here is Session {number} again. Reply **retake** when you're ready.",
    "course_complete_final": (
        "🎓 Congratulations, {name}! You passed the final exam and completed **{course}**."
    ),
    "review_intro": "🔁 Before Session {number}, a quick review of a question you missed earlier.",
    "review_start": (
        "🔁 **Review**: {count:one=# question|other=# questions} you missed before "
        "{count:one=is|other=are} due."
    ),
    "review_none": "👍 Nothing is due for review right now. Here is Session {number} to re-read.",
    "review_quit": "🚪 Review closed; those questions will come back another day.",
    "review_done": (
        "🔁 Review done: {score} of {total} right. Missed questions come back on a later day; "
        "each one stops after two right answers in a row."
    ),
    "button_retake": "🔁 Retake",
    "button_review": "📖 Re-read",
    "button_quiz": "📝 Take the quiz",
    "button_skip": "⏭️ Skip",
    "invitation": (
        "👋 Hi {name}! You've been signed up for **{course}**. Reply “{phrase}” to start "
        "your first short session whenever you're ready."
    ),
}
