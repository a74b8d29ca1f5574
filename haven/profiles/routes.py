"""The account home and the Express Entry profile pages, in both languages.

Every page here is personal: signed-in only, ``private, no-store``, every form with a CSRF token. Routes
translate: they read the form, call the service, and render or redirect.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

from haven.accounts.models import Account
from haven.accounts.routes import PATHS as ACCOUNT_PATHS
from haven.accounts.routes import form_expired, sign_in_first, signed_in
from haven.checker.explain import N_
from haven.profiles import scoring
from haven.profiles.models import Profile
from haven.profiles.sections import (
    BY_KEY,
    SECTIONS,
    Section,
    applicable,
    field_of,
    job_reading,
    new_questions,
)
from haven.profiles.service import (
    ActiveProfileExists,
    ProfileIncomplete,
    ProfileNotEditable,
    ProfileNotFound,
    status,
)
from haven.profiles.summary import answer_rows, job_summary
from haven.services import services
from haven.web.clock import SystemClock
from haven.web.forms import FieldView, FormError, Reading, field_view
from haven.web.i18n import LANGUAGES, OTHER, Language, translations
from haven.web.personal import BadForm, read_form
from haven.web.security import new_token


class SubmitRefused(Exception):
    """A submission that must be answered with the check page and its errors."""


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


def _today() -> dt.date:
    return SystemClock().today()


Handler = Callable[..., Awaitable[Response]]


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    for lang in LANGUAGES:
        _add_routes(router, lang)
    return router


def _add_routes(router: APIRouter, lang: Language) -> None:
    _ = translations(lang).gettext
    other = OTHER[lang]
    paths = {name: value[lang] for name, value in ACCOUNT_PATHS.items()}

    def page(
        request: Request, account: Account, template: str, title: str, other_path: str, **context: Any
    ) -> Response:
        return services(request).personal.render(
            request,
            lang,
            template,
            title=title,
            other_path=other_path,
            paths=paths,
            signed_in=True,
            account=account,
            base=BASE[lang],
            **context,
        )

    async def load(
        request: Request, profile_id: str
    ) -> tuple[Account | None, Profile | None, Response | None]:
        account = await signed_in(request)
        if account is None:
            return None, None, sign_in_first(request, lang)
        app = services(request)
        assert app.profiles is not None
        try:
            profile = await app.profiles.get(account.id, uuid.UUID(profile_id))
        except (ValueError, ProfileNotFound):
            return account, None, not_found(request, account)
        return account, profile, None

    def not_found(request: Request, account: Account) -> Response:
        return page(
            request,
            account,
            "profiles/not_found.html",
            _("We could not find this profile"),
            paths["home"],
            status=404,
        )

    async def form_of(request: Request) -> dict[str, str] | Response:
        try:
            form = await read_form(request)
        except BadForm:
            return Response(status_code=400)
        if not services(request).personal.csrf_ok(request, form):
            return form_expired(request, lang, request.url.path)
        return form

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
        if section.key == "work":
            return jobs_page(request, account, profile)
        app = services(request)
        return section_page(
            request, account, profile, section, stored_values(app.profiles, profile, section), None
        )

    async def section_save(request: Request, profile_id: str, slug: str) -> Response:
        account, profile, refusal = await load(request, profile_id)
        if refusal is not None or account is None or profile is None:
            return refusal or Response(status_code=404)
        section = next((s for s in SECTIONS if s.slugs[lang] == slug), None)
        if section is None or not section.applies(profile.answers):
            return not_found(request, account)
        form = await form_of(request)
        if isinstance(form, Response):
            return form
        app = services(request)
        assert app.profiles is not None
        if section.key == "work":
            return await jobs_done(request, account, profile, form)
        later = form.get("action") == "later"
        values = {k: v for k, v in form.items() if k not in ("csrf", "action", "asked")}
        reading = section.read(values, profile.answers, _, _today())
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

    def jobs_page(
        request: Request, account: Account, profile: Profile, errors: list[FormError] | None = None
    ) -> Response:
        section = BY_KEY["work"]
        jobs = profile.answers.get("work", {}).get("jobs", [])
        summaries = [
            {
                **job_summary(job, lang),
                "href": section_path(lang, profile.id, section, str(index)),
                "remove": section_path(lang, profile.id, section, str(index), SLUGS["remove"][lang]),
            }
            for index, job in enumerate(jobs)
        ]
        return page(
            request,
            account,
            "profiles/jobs.html",
            _(section.title),
            section_path(other, profile.id, section),
            status=422 if errors else 200,
            errors=errors or [],
            jobs=summaries,
            profile=profile,
            add_href=section_path(lang, profile.id, section, SLUGS["add"][lang]),
            action=section_path(lang, profile.id, section),
            back=profile_path(lang, profile.id),
            can_add=len(jobs) < MAX_JOBS,
        )

    async def jobs_done(
        request: Request, account: Account, profile: Profile, form: dict[str, str]
    ) -> Response:
        app = services(request)
        assert app.profiles is not None
        work = dict(profile.answers.get("work", {"jobs": []}))
        if form.get("action") == "later":
            return app.personal.redirect(request, paths["home"])
        await app.profiles.save(account.id, profile.id, "work", work, complete=True)
        return app.personal.redirect(request, profile_path(lang, profile.id))

    def job_page(
        request: Request,
        account: Account,
        profile: Profile,
        index: int | None,
        values: dict[str, str],
        reading: Reading | None,
    ) -> Response:
        section = BY_KEY["work"]
        rest = (SLUGS["add"][lang],) if index is None else (str(index),)
        views = [field_view(spec, values, reading, _) for spec in section.fields]
        title = _("Add a job") if index is None else _("Change a job")
        other_rest = (SLUGS["add"][other],) if index is None else (str(index),)
        return page(
            request,
            account,
            "profiles/section.html",
            title,
            section_path(other, profile.id, section, *other_rest),
            status=422 if reading and reading.errors else 200,
            errors=reading.errors if reading else [],
            items=layout(views),
            profile=profile,
            intro=None,
            action=section_path(lang, profile.id, section, *rest),
            back=section_path(lang, profile.id, section),
            later=False,
        )

    async def job_form(request: Request, profile_id: str, which: str) -> Response:
        account, profile, refusal = await load(request, profile_id)
        if refusal is not None or account is None or profile is None:
            return refusal or Response(status_code=404)
        jobs = profile.answers.get("work", {}).get("jobs", [])
        index = None if which == SLUGS["add"][lang] else int(which) if which.isdigit() else -1
        if index is not None and not 0 <= index < len(jobs):
            return not_found(request, account)
        values = dict(jobs[index]) if index is not None else {}
        return job_page(request, account, profile, index, values, None)

    async def job_save(request: Request, profile_id: str, which: str) -> Response:
        account, profile, refusal = await load(request, profile_id)
        if refusal is not None or account is None or profile is None:
            return refusal or Response(status_code=404)
        form = await form_of(request)
        if isinstance(form, Response):
            return form
        jobs = list(profile.answers.get("work", {}).get("jobs", []))
        index = None if which == SLUGS["add"][lang] else int(which) if which.isdigit() else -1
        if (index is not None and not 0 <= index < len(jobs)) or (index is None and len(jobs) >= MAX_JOBS):
            return not_found(request, account)
        values = {k: v for k, v in form.items() if k not in ("csrf", "action")}
        reading = job_reading(values, _, _today())
        if reading.errors:
            return job_page(request, account, profile, index, {**values, **reading.answers}, reading)
        if index is None:
            jobs.append(reading.answers)
        else:
            jobs[index] = reading.answers
        app = services(request)
        assert app.profiles is not None
        try:
            await app.profiles.save(account.id, profile.id, "work", {"jobs": jobs}, complete=False)
        except ProfileNotEditable:
            return app.personal.redirect(request, profile_path(lang, profile.id, SLUGS["confirmation"][lang]))
        return app.personal.redirect(request, section_path(lang, profile.id, BY_KEY["work"]))

    async def job_remove(request: Request, profile_id: str, which: str) -> Response:
        account, profile, refusal = await load(request, profile_id)
        if refusal is not None or account is None or profile is None:
            return refusal or Response(status_code=404)
        form = await form_of(request)
        if isinstance(form, Response):
            return form
        jobs = list(profile.answers.get("work", {}).get("jobs", []))
        if not which.isdigit() or not 0 <= int(which) < len(jobs):
            return not_found(request, account)
        del jobs[int(which)]
        app = services(request)
        assert app.profiles is not None
        await app.profiles.save(account.id, profile.id, "work", {"jobs": jobs}, complete=False)
        return app.personal.redirect(request, section_path(lang, profile.id, BY_KEY["work"]))

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
        today = _today()

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
        (base + "/{profile_id}/" + BY_KEY["work"].slugs[lang] + "/{which}", job_form, "GET"),
        (base + "/{profile_id}/" + BY_KEY["work"].slugs[lang] + "/{which}", job_save, "POST"),
        (
            base + "/{profile_id}/" + BY_KEY["work"].slugs[lang] + "/{which}/" + SLUGS["remove"][lang],
            job_remove,
            "POST",
        ),
        (base + "/{profile_id}/{slug}", section_form, "GET"),
        (base + "/{profile_id}/{slug}", section_save, "POST"),
    ]
    for route_path, handler, method in routes:
        router.add_api_route(route_path, handler, methods=[method])
