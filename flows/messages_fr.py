"""The bot's own words in French, key for key with `flows.messages.CATALOG`.

Selected by `language: fr` in `course.yaml`; a key missing here falls back to English and
shows on the admin Languages page.
"""

from __future__ import annotations

FR: dict[str, str] = {
    "welcome": (
        "👋 Bienvenue, {name} ! Vous êtes inscrit(e) à **{course}** : {total:one=# courte "
        "session|other=# courtes sessions}. "
        "Lisez-en une à la fois, répondez **suivant** quand vous êtes prêt(e) pour la suivante, "
        "et posez-moi toutes vos questions sur ce que vous lisez."
    ),
    "welcome_back": (
        "👋 Bon retour, {name} ! Vous suivez déjà **{course}** ; voici où vous en étiez."
    ),
    "session": "📚 **Session {number} : {title}**\n\n{body}\n\n{hint}",
    "session_header": "Session {number} : {title}",
    "hint_next": (
        "👉 Répondez **suivant** pour la session {next}, **menu** pour les options, "
        "ou posez-moi une question."
    ),
    "hint_last": (
        "👉 C'est la dernière session. Répondez **terminé** quand vous l'avez terminée, "
        "ou posez-moi une question."
    ),
    "marked_complete": (
        "✅ Session {number} terminée. Répondez **suivant** pour la session {next}."
    ),
    "marked_complete_last": "✅ Session {number} terminée.",
    "course_complete": (
        "🎉 Félicitations, {name} ! Vous avez terminé **{course}** : {total:one=son unique "
        "session|other=les # sessions}. "
        "Répondez **menu** pour revoir une session ou **cours** pour voir les autres cours."
    ),
    "course_already_complete": (
        "🎓 Vous avez déjà terminé **{course}**. Répondez **section N** pour revoir une "
        "session, **recommencer** pour le reprendre à zéro, ou **cours** pour les autres cours."
    ),
    "remaining": (
        "📌 Vous êtes à la dernière session, mais il en reste {count} à terminer : {sessions}. "
        "Répondez **section N** pour y aller."
    ),
    "at_first": "Vous êtes à la session 1, la première. Répondez **suivant** pour continuer.",
    "locked": (
        "🔒 La session {target} est verrouillée : les sessions s'ouvrent dans l'ordre. "
        "Terminez d'abord la session {open}, ou répondez **section {open}** pour y aller."
    ),
    "out_of_range": "Il n'y a pas de session « {given} ». Choisissez un numéro de 1 à {total}.",
    "menu": (
        "**{course}**\n"
        "📊 Progression : {done}/{total} sessions terminées\n"
        "📍 En cours : session {number} : {title}\n\n"
        "**suivant** · **précédent** · **section N** · **terminé**\n"
        "**quiz** · **réviser** · **progression** · **cours** · **aide** · **recommencer** · "
        "**quitter**"
    ),
    "progress_line": "• **{course}** : {done}/{total} sessions terminées{state}",
    "progress_state_current": ", en cours : session {number}",
    "progress_state_paused": ", en pause à la session {number}",
    "progress_state_done": " 🎓",
    "progress": "**Votre progression**\n{lines}",
    "progress_none": (
        "Vous n'avez pas encore commencé de cours. Répondez **cours** pour les voir."
    ),
    "courses": "**Cours**\n{lines}\n\nEnvoyez la phrase d'un cours pour le commencer.",
    "course_line": "• **{title}** : {description} Dites « {phrase} ».",
    "courses_none": "Aucun cours n'est disponible ici pour l'instant. Revenez plus tard.",
    "help": (
        "**Mode d'emploi**\n"
        "Lisez une session à la fois et posez-moi vos questions.\n\n"
        "• **suivant** / **précédent** : passer d'une session à l'autre\n"
        "• **section N** : aller à la session N\n"
        "• **terminé** : marquer cette session comme terminée (après son quiz, s'il y en a un)\n"
        "• **quiz** / **refaire** : passer le quiz de la session ; **passer** une question, "
        "**abandonner** le quiz\n"
        "• **réviser** : revoir les questions manquées, quand elles reviennent\n"
        "• **menu** ou **progression** : voir où vous en êtes\n"
        "• **cours** : voir tous les cours\n"
        "• **recommencer** : recommencer ce cours\n"
        "• **quitter** : faire une pause ; **reprendre** pour revenir\n"
        "• **STOP** / **START** : couper / rétablir les rappels\n"
        "• **fuseau horaire Europe/Paris** : votre fuseau horaire, pour les rappels\n"
        "• **certificat** : recevoir à nouveau votre certificat\n"
        "• **lier** : suivre ce cours aussi sur un autre canal (WhatsApp, Slack)"
    ),
    "not_enrolled": (
        "👋 Bonjour{name_part} ! Je suis votre assistant de formation. Pour commencer un "
        "cours, envoyez sa phrase :\n{phrases}\n\nRépondez **cours** pour les détails ou "
        "**aide** pour le mode d'emploi."
    ),
    "paused": (
        "⏸️ Vous avez mis **{course}** en pause. Répondez **reprendre** pour reprendre à la "
        "session {number}, ou **cours** pour voir les autres cours."
    ),
    "exit": (
        "👋 Vous avez quitté **{course}**. Votre progression est enregistrée : {done}/{total} "
        "sessions terminées. Répondez **reprendre** à tout moment pour reprendre à la "
        "session {number}."
    ),
    "resume": "▶️ Bon retour, {name} ! On reprend **{course}** là où vous l'aviez laissé.",
    "nothing_to_resume": "Il n'y a rien à reprendre. Répondez **cours** pour commencer un cours.",
    "restart_confirm": (
        "🔄 Recommencer **{course}** depuis la session 1 ? Vos sessions terminées seront "
        "effacées. Répondez **oui** pour recommencer ou **non** pour garder votre progression."
    ),
    "restart_done": "🔄 **{course}** recommence depuis le début.",
    "restart_cancelled": "👍 Votre progression dans **{course}** est conservée.",
    "nothing_to_confirm": "Il n'y a rien à confirmer. Répondez **menu** pour les options.",
    "stop": (
        "🔕 Vous ne recevrez plus de rappels ni de messages non sollicités. "
        "Répondez **START** pour les réactiver. Vous pouvez continuer à apprendre à tout moment."
    ),
    "start": "🔔 Les rappels sont réactivés.",
    "empty_message": "Je n'ai rien reçu. Répondez **aide** pour voir ce que vous pouvez faire.",
    "media_only": (
        "📎 Je ne lis que le texte pour l'instant. Tapez votre question ou une commande "
        "comme **menu**."
    ),
    "course_empty": (
        "⚠️ **{course}** n'a pas encore de session, il n'y a donc rien à lire. Je vous ai sorti "
        "de la formation ; répondez **cours** pour choisir un autre cours."
    ),
    "course_gone": (
        "⚠️ Le cours que vous suiviez n'est plus disponible. Votre progression est conservée. "
        "Répondez **cours** pour choisir un autre cours."
    ),
    "session_moved": (
        "ℹ️ La session où vous étiez a été retirée du cours ; je vous ai donc placé(e) à la "
        "session {number}."
    ),
    "not_offered": "**{course}** n'est pas proposé sur ce canal.",
    "answer_passage": (
        "📖 Voici le passage de **Session {number} : {title}** qui correspond le mieux à votre "
        "question (un extrait du cours, pas une réponse personnalisée) :\n\n{passage}"
    ),
    "answer_none": (
        "🤔 Je n'ai pas trouvé cela dans **{course}**. Essayez avec d'autres mots, ou répondez "
        "**menu** pour les options."
    ),
    "slow_down": (
        "🐢 Cela fait beaucoup de messages d'un coup. Veuillez patienter une minute ; je lirai "
        "ce que vous enverrez ensuite."
    ),
    "answer_model": "{answer}\n\n— Session {number} : {title}",
    "answer_elsewhere": (
        "📍 Cela vient de la session {number}, pas de celle que vous lisez : "
        "répondez **section {number}** pour y aller."
    ),
    "answer_later": (
        "📍 Cela vient de la session {number}, plus loin dans le cours : vous y arriverez bientôt."
    ),
    "answer_off_course": (
        "🙂 Je ne peux répondre qu'aux questions sur **{course}**. Posez-moi toutes vos "
        "questions sur ce que vous lisez, ou répondez **menu** pour les options."
    ),
    "answer_empty": "🤔 Je n'ai pas reçu de question. Tapez-la en un seul message.",
    "answer_truncated": (
        "✂️ Votre message était long ; je n'en ai lu que les {limit} premiers caractères."
    ),
    "answer_budget": (
        "ℹ️ Vous avez atteint la limite de réponses rédigées pour aujourd'hui ; voici donc le "
        "passage correspondant du cours. Les réponses complètes reviennent demain."
    ),
    "answer_unavailable": (
        "ℹ️ Je ne peux pas rédiger de réponse pour l'instant ; voici donc le passage "
        "correspondant du cours."
    ),
    "buttons_hint": "👉 Répondez {commands}",
    "button_session": "📖 Session {number}",
    "reminder": (
        "👋 {name}, la session {number} sur {total} vous attend : **{title}**. "
        "Touchez **Reprendre** pour continuer **{course}** là où vous vous étiez arrêté(e)."
    ),
    "reminder_last": (
        "👋 {name}, la session {number} sur {total} de **{course}** vous attend toujours : "
        "**{title}**. C'est mon dernier rappel ; répondez **reprendre** quand vous serez prêt(e)."
    ),
    "timezone_set": (
        "🕒 Fuseau horaire réglé sur **{zone}**. Les rappels respecteront vos heures de nuit."
    ),
    "timezone_current": (
        "🕒 Votre fuseau horaire est **{zone}**. Pour le changer, répondez par exemple "
        "**fuseau horaire Europe/Berlin**."
    ),
    "timezone_unknown": (
        "Je ne connais pas le fuseau horaire « {given} ». Utilisez un nom comme "
        "**Europe/Berlin** ou **Africa/Lagos**."
    ),
    "certificate_issued": (
        "🎓 Votre certificat pour **{course}** est prêt : {url}\n"
        "Code de vérification {code}{expiry}. Tout le monde peut le vérifier sur {verify_url}"
    ),
    "certificate_expiry": " (valable jusqu'au {date})",
    "certificate_none": (
        "Vous n'avez pas encore de certificat. Terminez un cours et je vous enverrai le vôtre ici."
    ),
    "certificate_not_offered": "**{course}** ne délivre pas de certificat.",
    "link_code": (
        "🔗 Votre code de liaison est **{code}** (valable {minutes} minutes, une seule fois).\n"
        "Sur votre autre canal, envoyez : lier {code}"
    ),
    "link_done": (
        "✅ C'est lié ! Ce canal poursuit maintenant la même formation que l'autre. "
        "Répondez **menu** pour continuer."
    ),
    "link_wrong": (
        "Ce code n'est pas le bon. Vérifiez les 6 chiffres et envoyez **lier** suivi du code, "
        "ou envoyez **lier** sur votre premier canal pour un nouveau code."
    ),
    "link_expired": (
        "Ce code a expiré (un code dure {minutes} minutes). "
        "Envoyez **lier** sur votre premier canal pour en obtenir un nouveau."
    ),
    "link_used": (
        "Ce code a déjà été utilisé. "
        "Envoyez **lier** sur votre premier canal pour en obtenir un nouveau."
    ),
    "link_void": (
        "Ce code n'est plus valable après trop d'essais erronés. "
        "Envoyez **lier** sur votre premier canal pour en obtenir un nouveau."
    ),
    "link_already": "Ce canal est déjà lié à votre compte. Rien à faire.",
    "link_taken": (
        "Ce canal est déjà lié à un autre compte, je ne peux donc pas le lier. "
        "Veuillez contacter votre formateur."
    ),
    "link_has_progress": (
        "Ce canal a déjà sa propre progression de formation : je ne la fusionne pas avec "
        "votre autre compte. Veuillez contacter votre formateur pour les réunir."
    ),
    "certificate_revoked": (
        "Votre certificat pour **{course}** a été révoqué. Veuillez contacter votre formateur."
    ),
    "certificate_expiring": (
        "⏳ {name}, votre certificat **{title}** pour **{course}** expire le {date}. "
        "Pour le renouveler, ouvrez le cours et répondez **recommencer** pour le refaire."
    ),
    # Le certificat PDF et sa page publique de vérification (texte brut, sans Markdown).
    "certificate_pdf_certifies": "Ce certificat atteste que",
    "certificate_pdf_completed": "a suivi avec succès le cours {course}",
    "certificate_pdf_issued": "Délivré le {date}",
    "certificate_pdf_valid_until": "Valable jusqu'au {date}",
    "certificate_pdf_code": "Code de vérification : {code}",
    "certificate_pdf_verify_at": "Vérifier sur : {url}",
    "verify_page_title": "Vérification de certificat",
    "verify_heading_valid": "Certificat valide",
    "verify_heading_expired": "Certificat expiré",
    "verify_heading_revoked": "Certificat révoqué",
    "verify_awarded_to": "Décerné à",
    "verify_code_issued": "Code {code} · délivré le {date}",
    "verify_valid_until": " · valable jusqu'au {date}",
    "verify_valid": "Ce certificat est authentique et actuellement valide.",
    "verify_expired": "Ce certificat était authentique mais a expiré.",
    "verify_revoked": "Ce certificat a été révoqué et n'est plus valide.",
    "button_open_course": "📚 Ouvrir le cours",
    "button_previous": "⬅️ Précédent",
    "button_next": "Suivant ➡️",
    "button_complete": "✅ Terminé",
    "button_menu": "📋 Menu",
    "button_resume": "▶️ Reprendre",
    "button_yes": "Oui, recommencer",
    "button_no": "Non, garder",
    # --- quizzes ---
    "quiz_start": (
        "📝 **Vérification rapide** : {count:one=# question|other=# questions} sur la session "
        "{number}{limit}. "
        "Répondez à chacune par son numéro, sa lettre ou son texte ; **passer** pour passer une "
        "question, **abandonner** pour quitter le quiz à tout moment."
    ),
    "quiz_start_final": (
        "🎓 **Examen final** : {count:one=# question|other=# questions} sur l'ensemble du "
        "cours{limit}. Réussissez-le "
        "pour terminer **{course}**. Répondez à chacune par son numéro, sa lettre ou son "
        "texte ; **passer** pour passer une question, **abandonner** pour arrêter à tout moment."
    ),
    "quiz_limit": " (limite de temps : {limit})",
    "time_minutes": "{minutes} min",
    "time_seconds": "{seconds} s",
    "quiz_resume": "▶️ On reprend votre quiz à la question {index} sur {count}.",
    "quiz_question": "❓ **Question {index} sur {count}**\n\n{prompt}\n\n{options}{how}",
    "quiz_question_review": (
        "🔁 **Révision** (session {number}) : une question que vous aviez manquée.\n\n"
        "{prompt}\n\n{options}{how}"
    ),
    "quiz_how_single": "Répondez avec le numéro de votre réponse (1-{count}).",
    "quiz_how_multi": (
        "Plusieurs réponses peuvent être justes : répondez avec tous les numéros qui "
        "conviennent, par exemple **1,3**."
    ),
    "quiz_how_true_false": "Répondez **true** (vrai) ou **false** (faux).",
    "quiz_how_text": "Répondez en une ou deux phrases.",
    "option_true": "Vrai",
    "option_false": "Faux",
    "quiz_right": "✅ Exact !{explain}",
    "quiz_wrong": "❌ Pas tout à fait. La bonne réponse est {answer}.{explain}",
    "quiz_skipped": "⏭️ Question passée. La bonne réponse est {answer}.{explain}",
    "quiz_skipped_text": "⏭️ Question passée. Une bonne réponse : {rubric}{explain}",
    "quiz_keywords_right": (
        "📝 **Vérification par mots-clés** : votre réponse couvre {met} des {total} points du "
        "barème ; elle compte donc comme juste.\n{points}{explain}"
    ),
    "quiz_keywords_wrong": (
        "📝 **Vérification par mots-clés** : votre réponse couvre {met} des {total} points du "
        "barème ; elle ne compte donc pas comme juste cette fois.\n{points}{explain}"
    ),
    "quiz_grading": "📝 Je vérifie votre réponse…",
    "quiz_grading_wait": "⏳ Je vérifie encore votre réponse écrite : un instant, s'il vous plaît.",
    "quiz_model_right": (
        "📝 **Corrigé par l'assistant** : la réponse compte comme juste. {feedback}{explain}"
    ),
    "quiz_model_wrong": (
        "📝 **Corrigé par l'assistant** : la réponse ne compte pas comme juste cette fois. "
        "{feedback}{explain}"
    ),
    "quiz_grade_fallback": (
        "⚠️ L'assistant n'a pas pu corriger votre réponse : vérification par mots-clés.\n"
    ),
    "quiz_keyword_met": "✅ {point}",
    "quiz_keyword_missed": "▫️ {point}",
    "quiz_text_ungraded": (
        "📝 Merci ! Cette question n'a pas de barème ; toutes les réponses comptent."
    ),
    "quiz_late_note": " ⏱️ Cette réponse est arrivée après la limite de temps.",
    "quiz_result_pass": (
        "🏁 **Résultat : {score}/{total} ({percent} %)**. 🎉 Vous avez réussi : le seuil de "
        "réussite est de {pass_mark} %.{late}{keywords}"
    ),
    "quiz_result_fail": (
        "🏁 **Résultat : {score}/{total} ({percent} %)**. Le seuil de réussite est de "
        "{pass_mark} % : ce n'est pas pour cette fois.{late}{keywords}"
    ),
    "quiz_result_late": (
        " ⏱️ {count:one=# de vos réponses est arrivée|other=# de vos réponses sont arrivées} "
        "après la limite de temps de {limit}."
    ),
    "quiz_result_keywords": (
        " 📝 Les réponses rédigées ont été notées par une vérification des mots-clés du barème."
    ),
    "quiz_retry": (
        "Répondez **refaire** pour réessayer (il vous reste "
        "{left:one=# tentative|other=# tentatives}) ou **réviser** "
        "pour relire d'abord la session {number}."
    ),
    "quiz_max_attempts": (
        "🔒 Vous avez utilisé {max:one=votre unique tentative|other=vos # tentatives} au quiz de "
        "la session {number}. Veuillez "
        "contacter votre formateur ou votre responsable partenaire : il peut vous débloquer "
        "d'autres tentatives. En attendant, vous pouvez relire la session : répondez **réviser**."
    ),
    "quiz_passed_already": (
        "✅ Vous avez déjà réussi le quiz de la session {number} ({score}/{total}). "
        "Répondez **suivant** pour continuer."
    ),
    "quiz_none": "La session {number} n'a pas de quiz. Répondez **suivant** pour continuer.",
    "quiz_not_active": (
        "Vous n'êtes pas en train de passer un quiz. Répondez **quiz** pour passer le quiz de "
        "cette session."
    ),
    "quiz_busy": (
        "📝 Vous êtes en plein quiz (question {index} sur {count}). Répondez-y, répondez "
        "**passer** pour la passer, ou **abandonner** pour quitter le quiz (vos réponses jusqu'ici "
        "sont conservées)."
    ),
    "quiz_quit": (
        "🚪 Vous avez quitté le quiz ; vos réponses jusqu'ici sont conservées. Répondez "
        "**quiz** pour le reprendre là où vous vous étiez arrêté(e), ou **menu** pour les "
        "options."
    ),
    "quiz_empty": "Je n'ai pas reçu de réponse. {how} Ou répondez **passer** ou **abandonner**.",
    "quiz_bad_number": (
        "« {given} » ne fait pas partie des options : choisissez un numéro de 1 à {count}."
    ),
    "quiz_unreadable": (
        "Je n'ai pas pu lire « {given} » comme une réponse. {how} Ou répondez **passer** ou "
        "**abandonner**."
    ),
    "quiz_repeated": (
        "Vous avez donné l'option {number} plus d'une fois. Répondez avec chaque option une "
        "seule fois, par exemple **1,3**."
    ),
    "quiz_one_answer": (
        "Cette question n'a qu'une seule bonne réponse : répondez avec une seule option."
    ),
    "quiz_stale_button": (
        "Ce bouton appartient à une question précédente. Voici la question en cours."
    ),
    "quiz_question_removed": (
        "ℹ️ Une question de ce quiz a été retirée du cours ; elle ne compte donc plus."
    ),
    "quiz_question_changed": "ℹ️ Cette question vient d'être modifiée ; la voici de nouveau.",
    "quiz_changed": (
        "ℹ️ Ce quiz a changé depuis que vous l'avez commencé ; cette tentative est donc close. "
        "Répondez **quiz** pour le recommencer."
    ),
    "quiz_over": "Ce quiz est terminé. Répondez **menu** pour les options.",
    "quiz_unfinished": (
        "📌 La session {number} reste inachevée tant que vous n'avez pas réussi son quiz : "
        "répondez **section {number}** puis **quiz** quand vous êtes prêt(e)."
    ),
    "quiz_reread": (
        "📖 Voici de nouveau la session {number}. Répondez **refaire** quand vous êtes prêt(e)."
    ),
    "course_complete_final": (
        "🎓 Félicitations, {name} ! Vous avez réussi l'examen final et terminé **{course}**."
    ),
    "review_intro": (
        "🔁 Avant la session {number}, une petite révision d'une question que vous aviez manquée."
    ),
    "review_start": (
        "🔁 **Révision** : {count:one=# question que vous aviez manquée est|other=# questions "
        "que vous aviez manquées sont} à revoir."
    ),
    "review_none": "👍 Rien à réviser pour l'instant. Voici la session {number} à relire.",
    "review_quit": "🚪 Révision fermée ; ces questions reviendront un autre jour.",
    "review_done": (
        "🔁 Révision terminée : {score} sur {total} justes. Les questions manquées reviennent "
        "un autre jour ; chacune s'arrête après deux bonnes réponses d'affilée."
    ),
    "button_retake": "🔁 Réessayer",
    "button_review": "📖 Relire",
    "button_quiz": "📝 Passer le quiz",
    "button_skip": "⏭️ Passer",
    "invitation": (
        "👋 Bonjour {name} ! Vous êtes inscrit(e) à **{course}**. Répondez « {phrase} » "
        "pour commencer votre première courte session quand vous le souhaitez."
    ),
}
