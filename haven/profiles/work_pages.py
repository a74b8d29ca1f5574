"""Work history pages: a list of jobs, each added, changed or removed on its own page. Each handler
serves both languages; ``routes`` lists them, to be added before the generic section routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.responses import Response

from haven.accounts.models import Account
from haven.profiles import noc_pages
from haven.profiles.models import Profile
from haven.profiles.pages import MAX_JOBS, Kit, ProfilePages, layout
from haven.profiles.paths import BASE, SLUGS, profile_path, section_path
from haven.profiles.sections import BY_KEY, JOB_FOLLOW_UPS, job_reading
from haven.profiles.service import ProfileNotEditable
from haven.profiles.summary import job_summary
from haven.web.forms import FormError, Reading, field_view
from haven.web.i18n import Language

WORK = BY_KEY["work"]


def routes(lang: Language) -> list[tuple[str, Callable[..., Awaitable[Response]], str]]:
    work = BASE[lang] + "/{profile_id}/" + WORK.slugs[lang]
    return [
        (work, jobs_list, "GET"),
        (work, jobs_list_done, "POST"),
        (work + "/{which}", job_form, "GET"),
        (work + "/{which}", job_save, "POST"),
        (work + "/{which}/" + SLUGS["remove"][lang], job_remove, "POST"),
    ]


def jobs_of(profile: Profile) -> list[Any]:
    return list(profile.answers.get("work", {}).get("jobs", []))


def job_index(kit: ProfilePages, which: str) -> int | None:
    """None for a new job, its place in the list for one already there, -1 for no job at all."""
    return None if which == SLUGS["add"][kit.lang] else int(which) if which.isdigit() else -1


def jobs_page(
    kit: ProfilePages, account: Account, profile: Profile, errors: list[FormError] | None = None
) -> Response:
    lang = kit.lang
    jobs = jobs_of(profile)
    summaries = [
        {
            **job_summary(job, lang),
            "href": section_path(lang, profile.id, WORK, str(index)),
            "remove": section_path(lang, profile.id, WORK, str(index), SLUGS["remove"][lang]),
        }
        for index, job in enumerate(jobs)
    ]
    return kit.page(
        account,
        "profiles/jobs.html",
        kit.gettext(WORK.title),
        section_path(kit.other, profile.id, WORK),
        status=422 if errors else 200,
        errors=errors or [],
        jobs=summaries,
        profile=profile,
        add_href=section_path(lang, profile.id, WORK, SLUGS["add"][lang]),
        action=section_path(lang, profile.id, WORK),
        back=profile_path(lang, profile.id),
        can_add=len(jobs) < MAX_JOBS,
    )


def job_page(
    kit: ProfilePages,
    account: Account,
    profile: Profile,
    index: int | None,
    values: dict[str, str],
    reading: Reading | None,
    *,
    restored: bool = False,
) -> Response:
    _, lang, other = kit.gettext, kit.lang, kit.other
    rest = (SLUGS["add"][lang],) if index is None else (str(index),)
    other_rest = (SLUGS["add"][other],) if index is None else (str(index),)
    views = [field_view(spec, values, reading, _, lang=lang) for spec in WORK.fields]
    return kit.page(
        account,
        "profiles/section.html",
        _("Add a job") if index is None else _("Change a job"),
        section_path(other, profile.id, WORK, *other_rest),
        status=422 if reading and reading.errors else 200,
        errors=reading.errors if reading else [],
        items=layout(views, JOB_FOLLOW_UPS, values),
        profile=profile,
        intro=None,
        action=section_path(lang, profile.id, WORK, *rest),
        back=section_path(lang, profile.id, WORK),
        later=False,
        restored=restored,
        holds_typing=True,  # a form sent after the session ended is kept (``load_post``)
        # A new tab: the job's answers stay on this page while the person looks up the code.
        aids={"noc": (_("Find a NOC code by job title (opens in a new tab)"), noc_pages.PATHS[lang])},
    )


async def save_jobs(kit: ProfilePages, account: Account, profile: Profile, jobs: list[Any]) -> Response:
    try:
        await kit.app.profiles.save(
            account.id, profile.id, "work", {"jobs": jobs}, complete=False, now=kit.app.clock.now()
        )
    except ProfileNotEditable:  # submitted meanwhile, from another tab
        return kit.redirect(kit.confirmation(profile.id))
    # Saved: what was kept from an ended session is not needed any more (``restored`` forgets it).
    return kit.restored(kit.redirect(section_path(kit.lang, profile.id, WORK)))


async def jobs_list(kit: Kit, profile_id: str) -> Response:
    loaded = await kit.load(profile_id)
    if isinstance(loaded, Response):
        return loaded
    return jobs_page(kit, *loaded)


async def jobs_list_done(kit: Kit, profile_id: str) -> Response:
    loaded = await kit.load_post(profile_id)
    if isinstance(loaded, Response):
        return loaded
    account, profile, form = loaded
    if form.get("action") == "later":
        return kit.redirect(kit.paths["home"])
    work = dict(profile.answers.get("work", {"jobs": []}))
    try:
        await kit.app.profiles.save(
            account.id, profile.id, "work", work, complete=True, now=kit.app.clock.now()
        )
    except ProfileNotEditable:
        return kit.redirect(kit.confirmation(profile.id))
    return kit.redirect(profile_path(kit.lang, profile.id))


async def job_form(kit: Kit, profile_id: str, which: str) -> Response:
    loaded = await kit.load(profile_id)
    if isinstance(loaded, Response):
        return loaded
    account, profile = loaded
    jobs = jobs_of(profile)
    index = job_index(kit, which)
    if index is not None and not 0 <= index < len(jobs):
        return kit.not_found(account)
    values = dict(jobs[index]) if index is not None else {}
    held = kit.held(account)
    if held is None:
        return job_page(kit, account, profile, index, values, None)
    return kit.restored(job_page(kit, account, profile, index, held, None, restored=True))


async def job_save(kit: Kit, profile_id: str, which: str) -> Response:
    loaded = await kit.load_post(profile_id, hold=True)
    if isinstance(loaded, Response):
        return loaded
    account, profile, form = loaded
    jobs = jobs_of(profile)
    index = job_index(kit, which)
    if (index is not None and not 0 <= index < len(jobs)) or (index is None and len(jobs) >= MAX_JOBS):
        return kit.not_found(account)
    values = {k: v for k, v in form.items() if k not in ("csrf", "action")}
    reading = job_reading(values, kit.gettext, kit.app.clock.today())
    if reading.errors:
        return job_page(kit, account, profile, index, {**values, **reading.answers}, reading)
    if index is None:
        jobs.append(reading.answers)
    else:
        jobs[index] = reading.answers
    return await save_jobs(kit, account, profile, jobs)


async def job_remove(kit: Kit, profile_id: str, which: str) -> Response:
    loaded = await kit.load_post(profile_id)
    if isinstance(loaded, Response):
        return loaded
    account, profile, _form = loaded
    jobs = jobs_of(profile)
    if not which.isdigit() or not 0 <= int(which) < len(jobs):
        return kit.not_found(account)
    del jobs[int(which)]
    return await save_jobs(kit, account, profile, jobs)
