"""What every profile page shares: its paths, the signed-in account and profile it is about, the
personal-page frame it is rendered in, and the form it posts."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any, Final

from fastapi import Request
from fastapi.responses import Response

from haven.accounts.guard import form_expired, sign_in_first, signed_in
from haven.accounts.models import Account
from haven.accounts.paths import PATHS as ACCOUNT_PATHS
from haven.profiles.models import Profile
from haven.profiles.sections import Section
from haven.profiles.service import ProfileNotFound
from haven.services import services
from haven.web.clock import SystemClock
from haven.web.forms import FieldView
from haven.web.i18n import N_, OTHER, Language, translations
from haven.web.personal import BadForm, read_form

BASE: Final[dict[Language, str]] = {"en": "/en/account/profiles", "fr": "/fr/compte/profils"}
SLUGS: Final[dict[str, dict[Language, str]]] = {
    "check": {"en": "check-answers", "fr": "verifier-reponses"},
    "submit": {"en": "submit", "fr": "soumettre"},
    "confirmation": {"en": "confirmation", "fr": "confirmation"},
    "add": {"en": "add", "fr": "ajouter"},
    "remove": {"en": "remove", "fr": "retirer"},
}
MAX_JOBS: Final = 20
STATE_LABELS: Final = {
    "draft": N_("Draft"),
    "submitted": N_("Submitted"),
    "expired": N_("Expired"),
    "invited": N_("Invited to apply"),
}


def profile_path(lang: Language, profile_id: uuid.UUID, *rest: str) -> str:
    return "/".join([BASE[lang], str(profile_id), *rest])


def section_path(lang: Language, profile_id: uuid.UUID, section: Section, *rest: str) -> str:
    return profile_path(lang, profile_id, section.slugs[lang], *rest)


def layout(views: list[FieldView]) -> list[tuple[str, Any]]:
    """Fields in page order, the four scores of one test grouped into one fieldset."""
    items: list[tuple[str, Any]] = []
    for view in views:
        if view.kind == "score":
            if items and items[-1][0] == "scores" and items[-1][1][0].name[:2] == view.name[:2]:
                items[-1][1].append(view)
            else:
                items.append(("scores", [view]))
        else:
            items.append(("field", view))
    return items


def current_date() -> dt.date:
    return SystemClock().today()


@dataclass
class Kit:
    """The tools of one language's profile pages."""

    lang: Language
    other: Language = field(init=False)
    paths: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.other = OTHER[self.lang]
        self.paths = {name: value[self.lang] for name, value in ACCOUNT_PATHS.items()}
        self.gettext = translations(self.lang).gettext

    def page(
        self, request: Request, account: Account, template: str, title: str, other_path: str, **context: Any
    ) -> Response:
        return services(request).personal.render(
            request,
            self.lang,
            template,
            title=title,
            other_path=other_path,
            paths=self.paths,
            signed_in=True,
            account=account,
            base=BASE[self.lang],
            **context,
        )

    async def load(
        self, request: Request, profile_id: str
    ) -> tuple[Account | None, Profile | None, Response | None]:
        """The signed-in account and its profile ``profile_id``, or the response that refuses."""
        account = await signed_in(request)
        if account is None:
            return None, None, sign_in_first(request, self.lang)
        app = services(request)
        assert app.profiles is not None
        try:
            profile = await app.profiles.get(account.id, uuid.UUID(profile_id))
        except (ValueError, ProfileNotFound):
            return account, None, self.not_found(request, account)
        return account, profile, None

    async def load_post(
        self, request: Request, profile_id: str
    ) -> tuple[Account, Profile, dict[str, str]] | Response:
        """For a form posted about a profile: the account, its profile and the form, or the
        response that refuses (signed out, not theirs, a bad or stale form)."""
        account, profile, refusal = await self.load(request, profile_id)
        if refusal is not None or account is None or profile is None:
            return refusal or Response(status_code=404)
        form = await self.form_of(request)
        if isinstance(form, Response):
            return form
        return account, profile, form

    def not_found(self, request: Request, account: Account) -> Response:
        _ = self.gettext
        title = _("We could not find this profile")
        return self.page(request, account, "profiles/not_found.html", title, self.paths["home"], status=404)

    async def form_of(self, request: Request) -> dict[str, str] | Response:
        """The posted form, or the response to a form that is malformed or has a stale CSRF token."""
        try:
            form = await read_form(request)
        except BadForm:
            return Response(status_code=400)
        if not services(request).personal.csrf_ok(request, form):
            return form_expired(request, self.lang, request.url.path)
        return form

    def redirect(self, request: Request, location: str) -> Response:
        return services(request).personal.redirect(request, location)

    def confirmation(self, profile_id: uuid.UUID) -> str:
        return profile_path(self.lang, profile_id, SLUGS["confirmation"][self.lang])
