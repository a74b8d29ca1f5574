"""The account home and the Express Entry profile pages, in both languages.

Every page here is personal: signed-in only, ``private, no-store``, every form with a CSRF token. Routes
translate: they read the form, call the service, and render or redirect.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from haven.accounts.guard import sign_in_first, signed_in
from haven.accounts.models import Account
from haven.accounts.paths import PATHS as ACCOUNT_PATHS
from haven.profiles import scoring
from haven.profiles.models import Profile
from haven.profiles.pages import (
    BASE,
    SLUGS,
    STATE_LABELS,
    Kit,
    current_date,
    layout,
    profile_path,
    section_path,
)
from haven.profiles.sections import (
    SECTIONS,
    Section,
    applicable,
    field_of,
    new_questions,
)
from haven.profiles.service import (
    ActiveProfileExists,
    ProfileIncomplete,
    ProfileNotEditable,
    ProfileNotFound,
    status,
)
from haven.profiles.summary import answer_rows
from haven.profiles.work_pages import add_work_routes
from haven.services import services
from haven.web.forms import FormError, Reading, field_view
from haven.web.i18n import LANGUAGES, Language
from haven.web.security import new_token


class SubmitRefused(Exception):
    """A submission that must be answered with the check page and its errors."""


Handler = Callable[..., Awaitable[Response]]


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    for lang in LANGUAGES:
        _add_routes(router, lang)
    return router


def _add_routes(router: APIRouter, lang: Language) -> None:
    kit = Kit(lang)
    other, paths, _ = kit.other, kit.paths, kit.gettext
    page, load, not_found, form_of = kit.page, kit.load, kit.not_found, kit.form_of

    # The account home: every profile, its state and score ----------------------------------------

    async def home(request: Request) -> Response:
        account = await signed_in(request)
        if account is None:
            return sign_in_first(request, lang)
        app = services(request)
        assert app.profiles is not None
        now = dt.datetime.now(dt.UTC)
        rows = []
        for profile in await app.profiles.all_for(account.id):
            state = status(profile, now)
            rows.append(
                {
                    "profile": profile,
                    "state": state.state,
                    "state_label": _(STATE_LABELS[state.state]),
                    "until": state.until.date().isoformat() if state.until else None,
                    "href": profile_path(lang, profile.id)
                    if state.state == "draft"
                    else profile_path(lang, profile.id, SLUGS["confirmation"][lang]),
                }
            )
        active = any(row["state"] in ("draft", "submitted", "invited") for row in rows)
        return page(
            request,
            account,
            "profiles/home.html",
            _("Your account"),
            ACCOUNT_PATHS["home"][other],
            rows=rows,
            can_start=not active,
            create_key=new_token(),
            verified=account.email_verified_at is not None,
        )

    async def start(request: Request) -> Response:
        account = await signed_in(request)
        if account is None:
            return sign_in_first(request, lang)
        form = await form_of(request)
        if isinstance(form, Response):
            return form
        app = services(request)
        assert app.profiles is not None
        try:
            profile = await app.profiles.start(account.id, form.get("create_key", "")[:64] or new_token())
        except ActiveProfileExists:
            return app.personal.redirect(request, paths["home"])
        return app.personal.redirect(request, profile_path(lang, profile.id))

    # The task list ---------------------------------------------------------------------------

    async def task_list(request: Request, profile_id: str) -> Response:
        account, profile, refusal = await load(request, profile_id)
        if refusal is not None or account is None or profile is None:
            return refusal or Response(status_code=404)
        if profile.state != "draft":
            return services(request).personal.redirect(
                request, profile_path(lang, profile.id, SLUGS["confirmation"][lang])
            )
        done = set(profile.answers.get("_complete", []))
        tasks = [
            {
                "title": _(section.title),
                "href": section_path(lang, profile.id, section),
                "state": "done"
                if section.key in done
                else "started"
                if section.key in profile.answers
                else "todo",
            }
            for section in applicable(profile.answers)
        ]
        missing = scoring.missing_sections(profile.answers)
        until = status(profile, dt.datetime.now(dt.UTC)).until
        return page(
            request,
            account,
            "profiles/task_list.html",
            _("Your Express Entry profile"),
            profile_path(other, profile.id),
            profile=profile,
            tasks=tasks,
            ready=not missing,
            check_href=profile_path(lang, profile.id, SLUGS["check"][lang]),
            until=until.date().isoformat() if until else "",
        )

    # Sections --------------------------------------------------------------------------------

    def section_page(
        request: Request,
        account: Account,
        profile: Profile,
        section: Section,
        values: dict[str, str],
        reading: Reading | None,
        status_code: int = 200,
    ) -> Response:
        specs = section.fields_for(values, profile.answers)
        views = [field_view(spec, values, reading, _) for spec in specs]
        return page(
            request,
            account,
            "profiles/section.html",
            _(section.title),
            section_path(other, profile.id, section),
            status=status_code,
            errors=reading.errors if reading else [],
            items=layout(views),
            profile=profile,
            intro=_(section.intro) if section.intro else None,
            action=section_path(lang, profile.id, section),
            back=profile_path(lang, profile.id),
            toggle_form="answers",
            asked=" ".join(spec.name for spec in specs),
        )

    def stored_values(app_profiles: Any, profile: Profile, section: Section) -> dict[str, str]:
        values = {k: v for k, v in profile.answers.get(section.key, {}).items() if isinstance(v, str)}
        if section.key == "personal":
            values["passport_number"] = app_profiles.passport_number(profile) or ""
        return values

    async def section_form(request: Request, profile_id: str, slug: str) -> Response:
        account, profile, refusal = await load(request, profile_id)
        if refusal is not None or account is None or profile is None:
            return refusal or Response(status_code=404)
        section = next((s for s in SECTIONS if s.slugs[lang] == slug), None)
        if section is None or not section.applies(profile.answers):
            return not_found(request, account)
        app = services(request)
        return section_page(
            request, account, profile, section, stored_values(app.profiles, profile, section), None
        )

    async def section_save(request: Request, profile_id: str, slug: str) -> Response:
        loaded = await kit.load_post(request, profile_id)
        if isinstance(loaded, Response):
            return loaded
        account, profile, form = loaded
        section = next((s for s in SECTIONS if s.slugs[lang] == slug), None)
        if section is None or not section.applies(profile.answers):
            return not_found(request, account)
        app = services(request)
        assert app.profiles is not None
        later = form.get("action") == "later"
        values = {k: v for k, v in form.items() if k not in ("csrf", "action", "asked")}
        reading = section.read(values, profile.answers, _, current_date())
        # Questions that follow from this page's answers (where you studied, once the level is known)
        # are shown next, not reported as missing: nobody has seen them yet.
        new = new_questions(section, values, profile.answers, form.get("asked"))
        shown = Reading(reading.answers, [e for e in reading.errors if field_of(e.field) not in new])
        kept = {**values, **reading.answers}
        passport = kept.pop("passport_number", None)
        try:
            await app.profiles.save(
                account.id,
                profile.id,
                section.key,
                kept,
                complete=not reading.errors,
                passport_number=passport,
            )
        except ProfileNotEditable:
            return app.personal.redirect(request, profile_path(lang, profile.id, SLUGS["confirmation"][lang]))
        if later:
            return app.personal.redirect(request, paths["home"])
        if form.get("action") == "language":  # the language switch: same page, other language
            return app.personal.redirect(request, section_path(other, profile.id, section))
        if reading.errors:
            fresh = await app.profiles.get(account.id, profile.id)
            status = 422 if shown.errors else 200
            return section_page(request, account, fresh, section, kept, shown, status)
        return app.personal.redirect(request, profile_path(lang, profile.id))

    # Work history: a list of jobs --------------------------------------------------------------

    # Check your answers, declare and submit ----------------------------------------------------------------

    def check_page(
        request: Request, account: Account, profile: Profile, submit_key: str, errors: list[FormError]
    ) -> Response:
        app = services(request)
        assert app.profiles is not None
        groups = answer_rows(
            profile, app.profiles.passport_number(profile), lang, lambda s: section_path(lang, profile.id, s)
        )
        return page(
            request,
            account,
            "profiles/check_answers.html",
            _("Check your answers before you submit your profile"),
            profile_path(other, profile.id, SLUGS["check"][other]),
            status=422 if errors else 200,
            profile=profile,
            groups=groups,
            submit_key=submit_key,
            action=profile_path(lang, profile.id, SLUGS["submit"][lang]),
            verified=account.email_verified_at is not None,
            errors=errors,
        )

    async def check_answers(request: Request, profile_id: str) -> Response:
        account, profile, refusal = await load(request, profile_id)
        if refusal is not None or account is None or profile is None:
            return refusal or Response(status_code=404)
        app = services(request)
        if profile.state != "draft":
            return app.personal.redirect(request, profile_path(lang, profile.id, SLUGS["confirmation"][lang]))
        missing = scoring.missing_sections(profile.answers)
        if missing:
            return app.personal.redirect(request, profile_path(lang, profile.id))
        return check_page(request, account, profile, new_token(), [])

    async def submit(request: Request, profile_id: str) -> Response:
        # The usual case costs one read (the session) and one write transaction, which checks
        # ownership, completeness and freshness on the locked row before it commits.
        account = await signed_in(request)
        if account is None:
            return sign_in_first(request, lang)
        try:
            wanted = uuid.UUID(profile_id)
        except ValueError:
            return not_found(request, account)
        form = await form_of(request)
        if isinstance(form, Response):
            return form
        app = services(request)
        assert app.profiles is not None
        confirmation = profile_path(lang, wanted, SLUGS["confirmation"][lang])
        submit_key = form.get("submit_key", "")[:64] or new_token()
        problems = []
        if form.get("declaration") != "yes":
            problems.append(
                FormError("declaration", _("Select to confirm that your answers are true and complete"))
            )
        if account.email_verified_at is None:
            problems.append(
                FormError(
                    "declaration", _("Confirm your email address before you submit: use the link we sent you")
                )
            )
        today = current_date()

        def assess(locked: Profile) -> tuple[list[str], tuple[int, str]]:
            if problems or scoring.stale_results(locked.answers, today):
                raise SubmitRefused
            missing = scoring.missing_sections(locked.answers)
            return missing, ((0, "") if missing else scoring.score(locked.answers, today))

        try:
            await app.profiles.submit(account.id, wanted, submit_key, assess)
        except ProfileNotFound:
            return not_found(request, account)
        except ProfileIncomplete:
            return app.personal.redirect(request, profile_path(lang, wanted))
        except ProfileNotEditable:
            return app.personal.redirect(request, paths["home"])
        except SubmitRefused:
            profile = await app.profiles.get(account.id, wanted)
            if scoring.stale_results(profile.answers, today):
                problems.append(
                    FormError(
                        "declaration",
                        _(
                            "Your language test results are more than 2 years old: "
                            "take a new test and change your answers"
                        ),
                    )
                )
            return check_page(request, account, profile, submit_key, problems)
        # Only now, after the commit, is the profile called submitted (or was it already: a retry).
        return app.personal.redirect(request, confirmation)

    async def confirmation_page(request: Request, profile_id: str) -> Response:
        account, profile, refusal = await load(request, profile_id)
        if refusal is not None or account is None or profile is None:
            return refusal or Response(status_code=404)
        if profile.state == "draft":
            return services(request).personal.redirect(request, profile_path(lang, profile.id))
        state = status(profile, dt.datetime.now(dt.UTC))
        return page(
            request,
            account,
            "profiles/confirmation.html",
            _("Profile submitted"),
            profile_path(other, profile.id, SLUGS["confirmation"][other]),
            profile=profile,
            state_label=_(STATE_LABELS[state.state]),
            until=state.until.date().isoformat() if state.until else "",
        )

    base = BASE[lang]
    routes: list[tuple[str, Handler, str]] = [
        (ACCOUNT_PATHS["home"][lang], home, "GET"),
        (base, start, "POST"),
        (base + "/{profile_id}", task_list, "GET"),
        (base + "/{profile_id}/" + SLUGS["check"][lang], check_answers, "GET"),
        (base + "/{profile_id}/" + SLUGS["submit"][lang], submit, "POST"),
        (base + "/{profile_id}/" + SLUGS["confirmation"][lang], confirmation_page, "GET"),
        (base + "/{profile_id}/{slug}", section_form, "GET"),
        (base + "/{profile_id}/{slug}", section_save, "POST"),
    ]
    add_work_routes(router, kit)  # before the generic section routes, which would take its paths
    for route_path, handler, method in routes:
        router.add_api_route(route_path, handler, methods=[method])
