"""Where the account pages live, in each language: the one table the pages, the letters and the
shield's password lane read (it imports nothing of Haven's but the language type)."""

from __future__ import annotations

from typing import Final

from haven.web.i18n import LANGUAGES, Language

PATHS: Final[dict[str, dict[Language, str]]] = {
    "home": {"en": "/en/account", "fr": "/fr/compte"},
    "sign_up": {"en": "/en/account/sign-up", "fr": "/fr/compte/inscription"},
    "sign_in": {"en": "/en/account/sign-in", "fr": "/fr/compte/connexion"},
    "sign_out": {"en": "/en/account/sign-out", "fr": "/fr/compte/deconnexion"},
    "stay": {"en": "/en/account/stay-signed-in", "fr": "/fr/compte/rester-connecte"},
    "check_email": {"en": "/en/account/check-your-email", "fr": "/fr/compte/verifiez-vos-courriels"},
    "verify": {"en": "/en/account/verify-email", "fr": "/fr/compte/confirmer-courriel"},
    "resend": {"en": "/en/account/send-link-again", "fr": "/fr/compte/renvoyer-lien"},
    "forgot": {"en": "/en/account/forgot-password", "fr": "/fr/compte/mot-de-passe-oublie"},
    "reset": {"en": "/en/account/reset-password", "fr": "/fr/compte/nouveau-mot-de-passe"},
}

# The pages whose POST hashes a password (argon2id): the shield sends them to its hash lane.
PASSWORD_PAGES: Final = ("sign_up", "sign_in", "reset")


def path(name: str, lang: Language) -> str:
    return PATHS[name][lang]


def password_paths() -> frozenset[str]:
    """Every address, in both languages, whose POST hashes a password."""
    return frozenset(PATHS[name][lang] for name in PASSWORD_PAGES for lang in LANGUAGES)
