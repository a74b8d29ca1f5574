"""What every profile page shares: the signed-in account and profile it is about, the personal-page
frame it is rendered in, and the form it posts. Handlers receive it as ``Kit``, a dependency built
from the page's language and the app's services."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final

from fastapi import Depends
from fastapi.responses import Response

from haven.accounts.guard import PersonalPage, personal_page, sign_in_first, signed_in
from haven.accounts.models import Account
from haven.accounts.paths import PATHS as ACCOUNT_PATHS
from haven.accounts.service import SEEN_EVERY, SESSION_IDLE
from haven.profiles.models import Profile
from haven.profiles.paths import BASE, SLUGS, profile_path
from haven.profiles.sections import Shown
from haven.profiles.service import ProfileNotFound
from haven.web.forms import FieldView
from haven.web.i18n import N_, OTHER, Language

MAX_JOBS: Final = 20
STATE_LABELS: Final = {
    "draft": N_("Draft"),
    "submitted": N_("Submitted"),
    "expired": N_("Expired"),
    "invited": N_("Invited to apply"),
    "accepted": N_("Application started"),
    "withdrawn": N_("Withdrawn"),
}


@dataclass(frozen=True)
class Item:
    """One question on a profile page (the four scores of one test are one), with the rule that
    shows it in place when it follows from an earlier answer."""

    kind: str  # "field" or "scores"
    views: list[FieldView]
    rule: str | None  # JSON, for the page's script
    hidden: bool  # not asked, given the answers the page was drawn with

    @property
    def field(self) -> FieldView:
        return self.views[0]

    @property
    def names(self) -> str:
        return " ".join(view.name for view in self.views)


def layout(views: list[FieldView], follow_ups: Mapping[str, Shown], values: Mapping[str, str]) -> list[Item]:
    """Fields in page order, the four scores of one test grouped into one fieldset; a follow-up
    question is on the page, hidden while the answers it follows from do not call for it."""
    items: list[Item] = []
    for view in views:
        if (
            view.kind == "score"
            and items
            and items[-1].kind == "scores"
            and items[-1].field.name[:2] == view.name[:2]
        ):
            items[-1].views.append(view)
            continue
        rule = follow_ups.get(view.name)
        items.append(
            Item(
                "scores" if view.kind == "score" else "field",
                [view],
                json.dumps(rule.rule()) if rule else None,
                rule is not None and not rule.holds(values),
            )
        )
    return items


class ProfilePages(PersonalPage):
    """One request to a profile page, with what every profile page does."""

    @property
    def other(self) -> Language:
        return OTHER[self.lang]

    @property
    def paths(self) -> dict[str, str]:
        """The account pages in this language."""
        return {name: value[self.lang] for name, value in ACCOUNT_PATHS.items()}

    def crumbs(self, template: str) -> list[tuple[str, str]]:
        """The trail above a profile page: the home page, the account (but on the account's own
        page), and the profile's task list on a page inside a profile."""
        _ = self.gettext
        trail = [(_("Home"), f"/{self.lang}/")]
        if template == "profiles/home.html":
            return trail
        trail.append((_("Your account"), self.paths["home"]))
        rest = self.request.url.path.removeprefix(BASE[self.lang] + "/").split("/")
        if template not in ("profiles/task_list.html", "profiles/not_found.html") and len(rest) > 1:
            trail.append((_("Your profile"), f"{BASE[self.lang]}/{rest[0]}"))
        return trail

    def page(self, account: Account, template: str, title: str, other_path: str, **context: Any) -> Response:
        return self.app.personal.render(
            self.request,
            self.lang,
            template,
            title=title,
            other_path=other_path,
            paths=self.paths,
            signed_in=True,
            account=account,
            base=BASE[self.lang],
            crumbs=self.crumbs(template),
            here=self.request.url.path,
            # The warning before the session ends counts from this page; the server may have seen
            # the session up to a minute before this request (it notes it once a minute).
            session_seconds=int((SESSION_IDLE - SEEN_EVERY).total_seconds()),
            **context,
        )

    def confirmation(self, profile_id: uuid.UUID) -> str:
        return profile_path(self.lang, profile_id, SLUGS["confirmation"][self.lang])

    async def account(self) -> Account | Response:
        """The signed-in account, or the way to sign in that comes back here."""
        account = await signed_in(self.request)
        return sign_in_first(self.request, self.lang) if account is None else account

    async def load(self, profile_id: str) -> tuple[Account, Profile] | Response:
        """The signed-in account and its profile ``profile_id``, or the response that refuses."""
        account = await self.account()
        if isinstance(account, Response):
            return account
        return await self._profile_of(account, profile_id)

    async def load_submitted(self, profile_id: str) -> tuple[Account, Profile] | Response:
        """As ``load``, for a page of a profile once submitted: a draft's goes to its task list."""
        loaded = await self.load(profile_id)
        if not isinstance(loaded, Response) and loaded[1].state == "draft":
            return self.redirect(profile_path(self.lang, loaded[1].id))
        return loaded

    async def _profile_of(self, account: Account, profile_id: str) -> tuple[Account, Profile] | Response:
        try:
            profile = await self.app.profiles.get(account.id, uuid.UUID(profile_id))
        except (ValueError, ProfileNotFound):
            return self.not_found(account)
        return account, profile

    async def load_post(
        self, profile_id: str, *, hold: bool = False
    ) -> tuple[Account, Profile, dict[str, str]] | Response:
        """For a form posted about a profile: the account, its profile and the form, or the
        response that refuses (signed out, not theirs, a bad or stale form). With ``hold``, a form
        sent after the session ended is kept, for its page to put back once the person has signed in
        again (``held``)."""
        account = await signed_in(self.request)
        if account is None:
            if hold and self.app.personal.session_id(self.request) is not None:
                return await self.hold_and_sign_in()
            return sign_in_first(self.request, self.lang)
        loaded = await self._profile_of(account, profile_id)
        if isinstance(loaded, Response):
            return loaded
        form = await self.form()
        if isinstance(form, Response):
            return form
        return account, loaded[1], form

    async def hold_and_sign_in(self) -> Response:
        """Keep what was typed (a form of ours, its CSRF token right) and send the person to sign in,
        then back to this page."""
        form = await self.form()
        if isinstance(form, Response):
            return form
        typed = {name: value for name, value in form.items() if name not in ("csrf", "action", "asked")}
        response = sign_in_first(self.request, self.lang, ended="held")
        if not self.app.personal.hold_form(response, self.request, typed):
            return sign_in_first(self.request, self.lang, ended="lost")
        return response

    def held(self, account: Account) -> dict[str, str] | None:
        """What ``account`` typed on this page when their session had ended, if it was kept (see
        ``hold_and_sign_in``)."""
        return self.app.personal.held_form(self.request, str(account.id))

    def restored(self, response: Response) -> Response:
        """A page that has put back what ``held`` kept, or saved the page: the browser forgets it."""
        self.app.personal.forget_held(response, self.request)
        return response

    def not_found(self, account: Account) -> Response:
        title = self.gettext("We could not find this profile")
        return self.page(account, "profiles/not_found.html", title, self.paths["home"], status=404)

    async def form(self) -> dict[str, str] | Response:
        """The posted form (see ``PersonalPage.posted``); an expired one links back to this page."""
        return await self.posted(self.request.url.path)


Kit = Annotated[ProfilePages, Depends(personal_page(ProfilePages))]
