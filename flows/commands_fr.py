"""The command words of a French course (`flows.commands.COMMAND_WORDS["fr"]`), beside the
French messages (`flows.messages_fr`): what a learner may type, by command."""

from __future__ import annotations

# Command words a learner of a French course may type, by command (`flows.commands.Cmd`
# values). English words keep working; accents are optional ("precedent"). None of these
# is an English command of another meaning ("pause" and "start" mean what they do in English).
# `section` and `timezone` are prefixes followed by a session number or a zone name.
COMMANDS_FR: dict[str, tuple[str, ...]] = {
    "next": ("suivant", "suivante", "continuer", "la suite", "suite"),
    "previous": ("précédent", "précédente", "retour", "revenir"),
    "menu": ("menu", "options"),
    "complete": ("terminé", "terminée", "fini", "finie", "j'ai fini", "j'ai terminé"),
    "progress": ("progression", "statut", "avancement"),
    "courses": ("cours", "catalogue", "formations"),
    "help": ("aide", "commandes", "au secours"),
    "restart": ("recommencer", "recommencer le cours", "tout recommencer"),
    "exit": ("quitter", "pause", "sortir"),
    "resume": ("reprendre", "reprendre le cours"),
    "stop": ("stop", "arrêt", "arrêter les rappels", "désabonner", "se désabonner"),
    "start": ("start", "reprendre les rappels", "réactiver les rappels"),
    "yes": ("oui", "o", "confirmer", "d'accord"),
    "no": ("non", "annuler"),
    "quiz": ("quiz", "commencer le quiz", "faire le quiz", "teste-moi", "testez-moi"),
    "retake": ("refaire", "refaire le quiz", "réessayer", "recommencer le quiz"),
    "review": ("réviser", "révision", "revoir"),
    "skip": ("passer", "passer la question", "sauter"),
    "quit": ("abandonner", "abandonner le quiz", "quitter le quiz", "arrêter le quiz"),
    "certificate": ("certificat", "mon certificat", "attestation"),
    "link": ("lier", "relier"),
    "section": ("section", "session", "partie", "aller à", "chapitre"),
    "timezone": ("fuseau horaire", "fuseau"),
}
