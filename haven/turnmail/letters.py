"""The "it is your turn" email, in the language of the page the address was left on."""

from __future__ import annotations

from datetime import UTC, datetime

from haven.web.clock import OTTAWA
from haven.web.i18n import N_, Language, translations


def turn_letter(lang: Language, link: str, minutes: int, expires: float) -> tuple[str, str]:
    """The subject and body; ``expires`` is when the link stops letting in (wall clock, seconds)."""
    _ = translations(lang).gettext
    local = datetime.fromtimestamp(expires, UTC).astimezone(OTTAWA)
    until = local.strftime("%H:%M") if lang == "en" else local.strftime("%H h %M")
    body = _(
        N_(
            "It is your turn in the queue for Haven. Open this link within {minutes} minutes "
            "(until {time}, Ottawa time) to go in; your place is kept until then:\n\n{link}\n\n"
            "The link works once. If it has expired, you can join the queue again.\n\n"
            "You get this email because this address was left on Haven's waiting page. "
            "Haven has now deleted the address. If it was not you, you can ignore this email."
        )
    ).format(minutes=minutes, time=until, link=link)
    return _(N_("It is your turn in the queue for Haven")), body + "\n\n" + _(N_("The Haven team")) + "\n"
