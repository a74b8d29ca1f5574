"""The account home and the Express Entry profile pages, in both languages.

Every page here is personal: signed-in only, ``private, no-store``, every form with a CSRF token. Routes
translate: they read the form, call the service, and render or redirect. Each handler serves both
languages; the language it serves comes in as a dependency with the services (``Kit``).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Final

from fastapi import APIRouter
from fastapi.responses import Response

from haven.accounts.models import Account
from haven.accounts.paths import PATHS as ACCOUNT_PATHS
from haven.profiles import invitation_pages, scoring, work_pages
from haven.profiles.models import Profile
from haven.profiles.pages import STATE_LABELS, Kit, ProfilePages, layout
from haven.profiles.paths import BASE, SLUGS, profile_path, section_path
from haven.profiles.sections import SECTIONS, Section, applicable, field_of, new_questions
from haven.profiles.service import (
    ACTIVE,
    ActiveProfileExists,
    ProfileIncomplete,
    ProfileNotEditable,
    ProfileNotFound,
    SubmissionRefused,
    editable,
    status,
)
from haven.profiles.summary import answer_rows
from haven.web.forms import FormError, Reading, field_view
from haven.web.i18n import LANGUAGES, N_, Language
from haven.web.security import new_token

Handler = Callable[..., Awaitable[Response]]

# What the check page says for each reason the service refuses a submission.
REFUSALS: Final = {
    "declaration": N_("Select to confirm that your answers are true and complete"),
    "unconfirmed_email": N_("Confirm your email address before you submit: use the link we sent you"),
    "stale_results": N_(
        "Your language test results are more than 2 years old: take a new test and change your answers"
    ),
}


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    for lang in LANGUAGES:
        # The work history's routes first: the generic section routes would take their paths.
        for route_path, handler, method in (
            *work_pages.routes(lang),
            *invitation_pages.routes(lang),
            *routes(lang),
        ):
            router.add_api_route(route_path, handler, methods=[method])
    return router


def routes(lang: Language) -> list[tuple[str, Handler, str]]:
    base = BASE[lang]
    return [
        (ACCOUNT_PATHS["home"][lang], home, "GET"),
        (base, start, "POST"),
        (base + "/{profile_id}", task_list, "GET"),
        (base + "/{profile_id}/" + SLUGS["check"][lang], check_answers, "GET"),
        (base + "/{profile_id}/" + SLUGS["submit"][lang], submit, "POST"),
        (base + "/{profile_id}/" + SLUGS["confirmation"][lang], confirmation_page, "GET"),
        (base + "/{profile_id}/" + SLUGS["print"][lang], print_view, "GET"),
        (base + "/{profile_id}/{slug}", section_form, "GET"),
        (base + "/{profile_id}/{slug}", section_save, "POST"),
    ]


# The account home: every profile, its state and score ------------------------------------------


async def home(kit: Kit) -> Response:
    account = await kit.account()
    if isinstance(account, Response):
        return account
    _, lang, now = kit.gettext, kit.lang, kit.app.clock.now()
    rows = []
    for profile in await kit.app.profiles.all_for(account.id):
        state = status(profile, now)
        rows.append(
            {
                "profile": profile,
                "state": state.state,
                "state_label": _(STATE_LABELS[state.state]),
                "until": state.until.date().isoformat() if state.until else None,
                "href": profile_path(lang, profile.id)
                if state.state == "draft"
                else kit.confirmation(profile.id),
            }
        )
    active = any(row["state"] in ACTIVE for row in rows)
    return kit.page(
        account,
        "profiles/home.html",
        _("Your account"),
        ACCOUNT_PATHS["home"][kit.other],
        rows=rows,
        can_start=not active,
        create_key=new_token(),
        verified=account.email_verified_at is not None,
        saved=saved_notice(kit),
    )


async def start(kit: Kit) -> Response:
    account = await kit.account()
    if isinstance(account, Response):
        return account
    form = await kit.form()
    if isinstance(form, Response):
        return form
    create_key = form.get("create_key", "")[:64] or new_token()
    try:
        profile = await kit.app.profiles.start(account.id, create_key, now=kit.app.clock.now())
    except ActiveProfileExists:
        return kit.redirect(kit.paths["home"])
    return kit.redirect(profile_path(kit.lang, profile.id))


# The task list -----------------------------------------------------------------------------------


async def task_list(kit: Kit, profile_id: str) -> Response:
    loaded = await kit.load(profile_id)
    if isinstance(loaded, Response):
        return loaded
    account, profile = loaded
    _, lang = kit.gettext, kit.lang
    if profile.state != "draft":
        return kit.redirect(kit.confirmation(profile.id))
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
    until = status(profile, kit.app.clock.now()).until
    return kit.page(
        account,
        "profiles/task_list.html",
        _("Your Express Entry profile"),
        profile_path(kit.other, profile.id),
        profile=profile,
        tasks=tasks,
        ready=not scoring.missing_sections(profile.answers),
        check_href=profile_path(lang, profile.id, SLUGS["check"][lang]),
        until=until.date().isoformat() if until else "",
        saved=saved_notice(kit),
    )


# Sections ------------------------------------------------------------------------------------------


def section_page(
    kit: ProfilePages,
    account: Account,
    profile: Profile,
    section: Section,
    values: dict[str, str],
    reading: Reading | None,
    status_code: int = 200,
    *,
    restored: bool = False,
    follow_ups: bool = False,
) -> Response:
    """``follow_ups``: the answers just sent brought up questions the page had not shown."""
    _, lang = kit.gettext, kit.lang
    specs = section.fields_for(values, profile.answers)
    # Every question of the section is on the page: those that follow from an answer not given
    # (yet) are hidden, and the page's script shows them in place as the person answers.
    views = [field_view(spec, values, reading, _, lang=lang) for spec in section.fields]
    return kit.page(
        account,
        "profiles/section.html",
        _(section.title),
        section_path(kit.other, profile.id, section),
        status=status_code,
        errors=reading.errors if reading else [],
        items=layout(views, section.follow_ups, values),
        profile=profile,
        intro=_(section.intro) if section.intro else None,
        action=section_path(lang, profile.id, section),
        back=profile_path(lang, profile.id) if profile.state == "draft" else kit.confirmation(profile.id),
        later=profile.state == "draft",
        toggle_form="answers",
        asked=" ".join(spec.name for spec in specs),
        restored=restored,
        holds_typing=True,  # a form sent after the session ended is kept (``load_post``)
        follow_ups=follow_ups,
    )


def section_at(lang: Language, slug: str, profile: Profile) -> Section | None:
    """The section of this profile at ``slug``, if there is one and it applies to the profile."""
    section = next((s for s in SECTIONS if s.slugs[lang] == slug), None)
    return section if section is not None and section.applies(profile.answers) else None


async def section_form(kit: Kit, profile_id: str, slug: str) -> Response:
    loaded = await kit.load(profile_id)
    if isinstance(loaded, Response):
        return loaded
    account, profile = loaded
    section = section_at(kit.lang, slug, profile)
    if section is None:
        return kit.not_found(account)
    if not editable(profile, kit.app.clock.now()):
        return kit.redirect(kit.confirmation(profile.id))
    values = {k: v for k, v in profile.answers.get(section.key, {}).items() if isinstance(v, str)}
    if section.key == "personal":
        values["passport_number"] = kit.app.profiles.passport_number(profile) or ""
    held = kit.held(account)
    if held is None:
        return section_page(kit, account, profile, section, values, None)
    # What the person typed before their session ended, put back (not saved until they save it).
    # Every question is on the page, so what was sent is the whole page as it was (a box left
    # unticked is absent from it, and must stay unticked).
    page = section_page(kit, account, profile, section, held, None, restored=True)
    return kit.restored(page)


async def section_save(kit: Kit, profile_id: str, slug: str) -> Response:
    loaded = await kit.load_post(profile_id, hold=True)
    if isinstance(loaded, Response):
        return loaded
    account, profile, form = loaded
    section = section_at(kit.lang, slug, profile)
    if section is None:
        return kit.not_found(account)
    values = {k: v for k, v in form.items() if k not in ("csrf", "action", "asked")}
    reading = section.read(values, profile.answers, kit.gettext, kit.app.clock.today())
    # Questions that follow from this page's answers (where you studied, once the level is known)
    # are shown next, not reported as missing: nobody has seen them yet.
    new = new_questions(section, values, profile.answers, form.get("asked"))
    shown = Reading(reading.answers, [e for e in reading.errors if field_of(e.field) not in new])
    # What the page's answers call for is kept (as typed, right or wrong); the answers to questions
    # they no longer call for (hidden on the page, but sent with it) are not.
    asked_now = {spec.name for spec in section.fields_for(values, profile.answers)}
    kept = {**{k: v for k, v in values.items() if field_of(k) in asked_now}, **reading.answers}
    passport = kept.pop("passport_number", None)
    profiles = kit.app.profiles
    submitted = profile.state == "submitted"
    if submitted and reading.errors:
        # A submitted profile keeps only complete answers: it stays in the pool as it was until the
        # page is right (follow-up questions this page brought up are shown first, with no error).
        return section_page(
            kit, account, profile, section, kept, shown, 422 if shown.errors else 200, follow_ups=bool(new)
        )
    try:
        fresh = await profiles.save(
            account.id,
            profile.id,
            section.key,
            kept,
            complete=not reading.errors,
            now=kit.app.clock.now(),
            passport_number=passport,
        )
    except ProfileNotEditable:
        return kit.redirect(kit.confirmation(profile.id))
    # Saved: what was kept from an ended session is not needed any more (``restored`` forgets it).
    if form.get("action") == "later":
        return kit.restored(kit.redirect(kit.paths["home"] + "?saved=" + section.key))
    if form.get("action") == "language":  # the language switch: same page, other language
        return kit.redirect(section_path(kit.other, profile.id, section))
    if reading.errors:
        return section_page(
            kit, account, fresh, section, kept, shown, 422 if shown.errors else 200, follow_ups=bool(new)
        )
    if submitted:
        return kit.restored(kit.redirect(kit.confirmation(profile.id) + "?saved=" + section.key))
    return kit.restored(kit.redirect(profile_path(kit.lang, profile.id) + "?saved=" + section.key))


def saved_notice(kit: ProfilePages) -> str | None:
    """What the page says was just saved (``?saved=`` a section's key, or ``draft``), if anything."""
    key = kit.request.query_params.get("saved", "")
    if key == "draft":
        return kit.gettext(N_("Your draft is saved. You can come back to it from this page."))
    section = next((section for section in SECTIONS if section.key == key), None)
    if section is None:
        return None
    return kit.gettext(N_("Saved: your answers to “%(section)s”.")) % {"section": kit.gettext(section.title)}


# Check your answers, declare and submit ---------------------------------------------------------


def check_page(
    kit: ProfilePages, account: Account, profile: Profile, submit_key: str, errors: list[FormError]
) -> Response:
    lang = kit.lang
    groups = answer_rows(
        profile,
        kit.app.profiles.passport_number(profile),
        lang,
        lambda section: section_path(lang, profile.id, section),
    )
    return kit.page(
        account,
        "profiles/check_answers.html",
        kit.gettext("Check your answers before you submit your profile"),
        profile_path(kit.other, profile.id, SLUGS["check"][kit.other]),
        status=422 if errors else 200,
        profile=profile,
        groups=groups,
        submit_key=submit_key,
        action=profile_path(lang, profile.id, SLUGS["submit"][lang]),
        verified=account.email_verified_at is not None,
        errors=errors,
    )


async def check_answers(kit: Kit, profile_id: str) -> Response:
    loaded = await kit.load(profile_id)
    if isinstance(loaded, Response):
        return loaded
    account, profile = loaded
    if profile.state != "draft":
        return kit.redirect(kit.confirmation(profile.id))
    if scoring.missing_sections(profile.answers):
        return kit.redirect(profile_path(kit.lang, profile.id))
    return check_page(kit, account, profile, new_token(), [])


async def submit(kit: Kit, profile_id: str) -> Response:
    # The usual case costs one read (the session) and one write transaction, which checks
    # ownership, completeness and freshness on the locked row before it commits.
    account = await kit.account()
    if isinstance(account, Response):
        return account
    try:
        wanted = uuid.UUID(profile_id)
    except ValueError:
        return kit.not_found(account)
    form = await kit.form()
    if isinstance(form, Response):
        return form
    submit_key = form.get("submit_key", "")[:64] or new_token()
    profiles, clock = kit.app.profiles, kit.app.clock
    try:
        await profiles.submit(
            account.id,
            wanted,
            submit_key,
            declared=form.get("declaration") == "yes",
            email_confirmed=account.email_verified_at is not None,
            today=clock.today(),
            now=clock.now(),
        )
    except ProfileNotFound:
        return kit.not_found(account)
    except ProfileIncomplete:
        return kit.redirect(profile_path(kit.lang, wanted))
    except ProfileNotEditable:
        return kit.redirect(kit.paths["home"])
    except SubmissionRefused as refused:
        profile = await profiles.get(account.id, wanted)
        errors = [FormError("declaration", kit.gettext(REFUSALS[reason])) for reason in refused.reasons]
        return check_page(kit, account, profile, submit_key, errors)
    # Only now, after the commit, is the profile called submitted (or was it already: a retry).
    kit.app.deliver_mail_soon()  # its confirmation, queued with it
    return kit.redirect(kit.confirmation(wanted))


async def confirmation_page(kit: Kit, profile_id: str) -> Response:
    loaded = await kit.load_submitted(profile_id)
    if isinstance(loaded, Response):
        return loaded
    account, profile = loaded
    saved = next((s for s in SECTIONS if s.key == kit.request.query_params.get("saved")), None)
    return await invitation_pages.status_page(
        kit, account, profile, saved=kit.gettext(saved.title) if saved else None
    )


async def print_view(kit: Kit, profile_id: str) -> Response:
    """A submitted profile, whatever became of it since, as it stands: every answer, for the person
    to read, print or keep, with no links to change it."""
    loaded = await kit.load_submitted(profile_id)
    if isinstance(loaded, Response):
        return loaded
    account, profile = loaded
    state = status(profile, kit.app.clock.now()).state
    return kit.page(
        account,
        "profiles/print.html",
        kit.gettext("Your Express Entry profile"),
        profile_path(kit.other, profile.id, SLUGS["print"][kit.other]),
        profile=profile,
        state_label=kit.gettext(STATE_LABELS[state]),
        groups=answer_rows(profile, kit.app.profiles.passport_number(profile), kit.lang, None),
        back=kit.confirmation(profile.id),
    )
