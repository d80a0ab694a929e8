"""The bot's own words in French, key for key with `flows.messages.CATALOG`.

Selected by `language: fr` in `course.yaml`; a key missing here falls back to English and
shows on the admin Languages page.
"""

from __future__ import annotations

FR: dict[str, str] = {
    "welcome": (
        "👋 Bienvenue, {name} ! Vous êtes inscrit(e) à **{course}** : {total} courtes sessions. "
        "Lisez-en une à la fois, répondez **next** quand vous êtes prêt(e) pour la suivante, "
        "et posez-moi toutes vos questions sur ce que vous lisez."
    ),
    "welcome_back": (
        "👋 Bon retour, {name} ! Vous suivez déjà **{course}** ; voici où vous en étiez."
    ),
    "session": "📚 **Session {number} : {title}**\n\n{body}\n\n{hint}",
    "hint_next": (
        "👉 Répondez **next** pour la session {next}, **menu** pour les options, "
        "ou posez-moi une question."
    ),
    "hint_last": (
        "👉 C'est la dernière session. Répondez **complete** quand vous l'avez terminée, "
        "ou posez-moi une question."
    ),
    "marked_complete": ("✅ Session {number} terminée. Répondez **next** pour la session {next}."),
    "marked_complete_last": "✅ Session {number} terminée.",
    "course_complete": (
        "🎉 Félicitations, {name} ! Vous avez terminé **{course}** : les {total} sessions. "
        "Répondez **menu** pour revoir une session ou **courses** pour voir les autres cours."
    ),
    "course_already_complete": (
        "🎓 Vous avez déjà terminé **{course}**. Répondez **section N** pour revoir une "
        "session, **restart** pour recommencer, ou **courses** pour les autres cours."
    ),
    "remaining": (
        "📌 Vous êtes à la dernière session, mais il en reste {count} à terminer : {sessions}. "
        "Répondez **section N** pour y aller."
    ),
    "at_first": "Vous êtes à la session 1, la première. Répondez **next** pour continuer.",
    "locked": (
        "🔒 La session {target} est verrouillée : les sessions s'ouvrent dans l'ordre. "
        "Terminez d'abord la session {open}, ou répondez **section {open}** pour y aller."
    ),
    "out_of_range": "Il n'y a pas de session « {given} ». Choisissez un numéro de 1 à {total}.",
    "menu": (
        "**{course}**\n"
        "📊 Progression : {done}/{total} sessions terminées\n"
        "📍 En cours : session {number} : {title}\n\n"
        "**next** · **previous** · **section N** · **complete**\n"
        "**progress** · **courses** · **help** · **restart** · **exit**"
    ),
    "progress_line": "• **{course}** : {done}/{total} sessions terminées{state}",
    "progress_state_current": ", en cours : session {number}",
    "progress_state_paused": ", en pause à la session {number}",
    "progress_state_done": " 🎓",
    "progress": "**Votre progression**\n{lines}",
    "progress_none": (
        "Vous n'avez pas encore commencé de cours. Répondez **courses** pour les voir."
    ),
    "courses": "**Cours**\n{lines}\n\nEnvoyez la phrase d'un cours pour le commencer.",
    "course_line": "• **{title}** : {description} Dites « {phrase} ».",
    "courses_none": "Aucun cours n'est disponible ici pour l'instant. Revenez plus tard.",
    "help": (
        "**Mode d'emploi**\n"
        "Lisez une session à la fois et posez-moi vos questions.\n\n"
        "• **next** / **previous** : passer d'une session à l'autre\n"
        "• **section N** : aller à la session N\n"
        "• **complete** : marquer cette session comme terminée\n"
        "• **menu** ou **progress** : voir où vous en êtes\n"
        "• **courses** : voir tous les cours\n"
        "• **restart** : recommencer ce cours\n"
        "• **exit** : faire une pause ; **resume** pour revenir\n"
        "• **STOP** / **START** : couper / rétablir les rappels"
    ),
    "not_enrolled": (
        "👋 Bonjour{name_part} ! Je suis votre assistant de formation. Pour commencer un "
        "cours, envoyez sa phrase :\n{phrases}\n\nRépondez **courses** pour les détails ou "
        "**help** pour le mode d'emploi."
    ),
    "paused": (
        "⏸️ Vous avez mis **{course}** en pause. Répondez **resume** pour reprendre à la "
        "session {number}, ou **courses** pour voir les autres cours."
    ),
    "exit": (
        "👋 Vous avez quitté **{course}**. Votre progression est enregistrée : {done}/{total} "
        "sessions terminées. Répondez **resume** à tout moment pour reprendre à la "
        "session {number}."
    ),
    "resume": "▶️ Bon retour, {name} ! On reprend **{course}** là où vous l'aviez laissé.",
    "nothing_to_resume": "Il n'y a rien à reprendre. Répondez **courses** pour commencer un cours.",
    "restart_confirm": (
        "🔄 Recommencer **{course}** depuis la session 1 ? Vos sessions terminées seront "
        "effacées. Répondez **yes** pour recommencer ou **no** pour garder votre progression."
    ),
    "restart_done": "🔄 **{course}** recommence depuis le début.",
    "restart_cancelled": "👍 Votre progression dans **{course}** est conservée.",
    "nothing_to_confirm": "Il n'y a rien à confirmer. Répondez **menu** pour les options.",
    "stop": (
        "🔕 Vous ne recevrez plus de rappels ni de messages non sollicités. "
        "Répondez **START** pour les réactiver. Vous pouvez continuer à apprendre à tout moment."
    ),
    "start": "🔔 Les rappels sont réactivés.",
    "empty_message": "Je n'ai rien reçu. Répondez **help** pour voir ce que vous pouvez faire.",
    "media_only": (
        "📎 Je ne lis que le texte pour l'instant. Tapez votre question ou une commande "
        "comme **menu**."
    ),
    "course_empty": (
        "⚠️ **{course}** n'a pas encore de session, il n'y a donc rien à lire. Je vous ai sorti "
        "de la formation ; répondez **courses** pour choisir un autre cours."
    ),
    "course_gone": (
        "⚠️ Le cours que vous suiviez n'est plus disponible. Votre progression est conservée. "
        "Répondez **courses** pour choisir un autre cours."
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
    "button_previous": "⬅️ Précédent",
    "button_next": "Suivant ➡️",
    "button_complete": "✅ Terminé",
    "button_menu": "📋 Menu",
    "button_resume": "▶️ Reprendre",
    "button_yes": "Oui, recommencer",
    "button_no": "Non, garder",
    "nudge": (
        "👋 Bonjour {name}, un rappel de votre formateur : **{course}** vous attend à la "
        "session {number}. Répondez **menu** pour voir où vous en êtes."
    ),
    "invitation": (
        "👋 Bonjour {name} ! Vous êtes inscrit(e) à **{course}**. Répondez « {phrase} » "
        "pour commencer votre première courte session quand vous le souhaitez."
    ),
}
