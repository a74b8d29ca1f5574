"""Work history pages: a list of jobs, each added, changed or removed on its own page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from haven.accounts.models import Account
from haven.profiles.models import Profile
from haven.profiles.pages import BASE, MAX_JOBS, SLUGS, Kit, current_date, layout, profile_path, section_path
from haven.profiles.sections import BY_KEY, job_reading
from haven.profiles.service import ProfileNotEditable
from haven.profiles.summary import job_summary
from haven.services import services
from haven.web.forms import FormError, Reading, field_view


def add_work_routes(router: APIRouter, kit: Kit) -> None:
    """Routes under the work history section; added before the generic section routes."""
    lang, other, paths, _ = kit.lang, kit.other, kit.paths, kit.gettext
    page, load, not_found = kit.page, kit.load, kit.not_found

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
        try:
            await app.profiles.save(account.id, profile.id, "work", work, complete=True)
        except ProfileNotEditable:
            return app.personal.redirect(request, kit.confirmation(profile.id))
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

    async def save_jobs(request: Request, account: Account, profile: Profile, jobs: list[Any]) -> Response:
        app = services(request)
        assert app.profiles is not None
        try:
            await app.profiles.save(account.id, profile.id, "work", {"jobs": jobs}, complete=False)
        except ProfileNotEditable:  # submitted meanwhile, from another tab
            return app.personal.redirect(request, kit.confirmation(profile.id))
        return app.personal.redirect(request, section_path(lang, profile.id, BY_KEY["work"]))

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
        loaded = await kit.load_post(request, profile_id)
        if isinstance(loaded, Response):
            return loaded
        account, profile, form = loaded
        jobs = list(profile.answers.get("work", {}).get("jobs", []))
        index = None if which == SLUGS["add"][lang] else int(which) if which.isdigit() else -1
        if (index is not None and not 0 <= index < len(jobs)) or (index is None and len(jobs) >= MAX_JOBS):
            return not_found(request, account)
        values = {k: v for k, v in form.items() if k not in ("csrf", "action")}
        reading = job_reading(values, _, current_date())
        if reading.errors:
            return job_page(request, account, profile, index, {**values, **reading.answers}, reading)
        if index is None:
            jobs.append(reading.answers)
        else:
            jobs[index] = reading.answers
        return await save_jobs(request, account, profile, jobs)

    async def job_remove(request: Request, profile_id: str, which: str) -> Response:
        loaded = await kit.load_post(request, profile_id)
        if isinstance(loaded, Response):
            return loaded
        account, profile, _form = loaded
        jobs = list(profile.answers.get("work", {}).get("jobs", []))
        if not which.isdigit() or not 0 <= int(which) < len(jobs):
            return not_found(request, account)
        del jobs[int(which)]
        return await save_jobs(request, account, profile, jobs)

    async def jobs_list(request: Request, profile_id: str) -> Response:
        account, profile, refusal = await load(request, profile_id)
        if refusal is not None or account is None or profile is None:
            return refusal or Response(status_code=404)
        return jobs_page(request, account, profile)

    async def jobs_list_done(request: Request, profile_id: str) -> Response:
        loaded = await kit.load_post(request, profile_id)
        if isinstance(loaded, Response):
            return loaded
        account, profile, form = loaded
        return await jobs_done(request, account, profile, form)

    work = BASE[lang] + "/{profile_id}/" + BY_KEY["work"].slugs[lang]
    router.add_api_route(work, jobs_list, methods=["GET"])
    router.add_api_route(work, jobs_list_done, methods=["POST"])
    router.add_api_route(work + "/{which}", job_form, methods=["GET"])
    router.add_api_route(work + "/{which}", job_save, methods=["POST"])
    router.add_api_route(work + "/{which}/" + SLUGS["remove"][lang], job_remove, methods=["POST"])
