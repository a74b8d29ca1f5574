"""The emails accounts send, in the account's language, with links to this portal."""

from __future__ import annotations

from urllib.parse import quote

from haven.accounts.paths import path
from haven.settings import Settings
from haven.web.i18n import N_, Language, translations


def _paths(lang: str) -> tuple[str, str]:
    language: Language = "fr" if lang == "fr" else "en"
    return path("verify", language), path("reset", language)


class Letters:
    def __init__(self, settings: Settings) -> None:
        self.base = settings.base_url

    def verify(self, lang: str, token: str) -> tuple[str, str]:
        _ = translations("fr" if lang == "fr" else "en").gettext
        link = f"{self.base}{_paths(lang)[0]}?token={quote(token)}"
        body = _(
            N_(
                "To confirm the email address of your Haven account, open this link within 3 days:\n\n"
                "%(link)s\n\nIf you did not create a Haven account, you can ignore this email."
            )
        ) % {"link": link}
        return _(N_("Haven: confirm your email address")), body + "\n\n" + _(N_("The Haven team")) + "\n"

    def already_registered(self, lang: str) -> tuple[str, str]:
        _ = translations("fr" if lang == "fr" else "en").gettext
        link = f"{self.base}{_paths(lang)[1].rsplit('/', 1)[0]}"
        body = _(
            N_(
                "Someone tried to create a Haven account with this email address, which already has one. "
                "If it was you, sign in at %(link)s, or reset your password there.\n\n"
                "If it was not you, you can ignore this email: nothing has changed."
            )
        ) % {"link": link}
        return _(N_("You already have a Haven account")), body + "\n\n" + _(N_("The Haven team")) + "\n"

    def reset(self, lang: str, token: str) -> tuple[str, str]:
        _ = translations("fr" if lang == "fr" else "en").gettext
        link = f"{self.base}{_paths(lang)[1]}?token={quote(token)}"
        body = _(
            N_(
                "To choose a new password for your Haven account, open this link within 1 hour:\n\n"
                "%(link)s\n\nIf you did not ask for this, you can ignore this email: "
                "your password has not changed."
            )
        ) % {"link": link}
        return _(N_("Reset your Haven password")), body + "\n\n" + _(N_("The Haven team")) + "\n"
