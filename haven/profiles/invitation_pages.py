"""A submitted profile's pages: its status (in the pool, invited, the application started), the answer
to an invitation, withdrawing it, and the application's checklist of documents.

The status page is the one personal page of draw day: it reads the session, the profile and the
profile's latest invitation, and takes the latest round from the rounds board in memory.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass
from typing import Any

from fastapi.responses import Response

from haven.accounts.models import Account
from haven.profiles import scoring
from haven.profiles.models import Profile
from haven.profiles.pages import STATE_LABELS, Kit, ProfilePages
from haven.profiles.paths import BASE, SLUGS, profile_path, section_path
from haven.profiles.sections import applicable, has_partner
from haven.profiles.service import ProfileNotEditable, status
from haven.rounds import pool
from haven.rounds.public import kind_label, tie_break_text
from haven.rounds.service import InvitationNotOpen, InvitationView, RoundRecord, local_text
from haven.rules.rounds import RoundProgram
from haven.web.forms import FormError
from haven.web.i18n import N_, Language

Handler = Any


def routes(lang: Language) -> list[tuple[str, Handler, str]]:
    base = BASE[lang] + "/{profile_id}/"
    return [
        (base + SLUGS["invitation"][lang], answer_invitation, "POST"),
        (base + SLUGS["withdraw"][lang], withdraw_form, "GET"),
        (base + SLUGS["withdraw"][lang], withdraw, "POST"),
        (base + SLUGS["application"][lang], application_page, "GET"),
        (base + SLUGS["application"][lang], application_save, "POST"),
    ]


def _round_view(kit: ProfilePages, record: RoundRecord) -> dict[str, Any]:
    return {
        "date": local_text(record.at, kit.lang),
        "kind": kind_label(record, kit.lang, kit.gettext),
        "cutoff": record.cutoff,
        "invited": record.invited,
        "tie_break": tie_break_text(record.tie_break, kit.lang),
    }


def _invitation_view(kit: ProfilePages, invitation: InvitationView) -> dict[str, Any]:
    return {
        **_round_view(kit, invitation.round),
        "state": invitation.state,
        "score": invitation.score,
        "deadline": local_text(invitation.deadline, kit.lang, with_time=True),
    }


async def status_page(
    kit: ProfilePages, account: Account, profile: Profile, *, saved: str | None = None, **extra: Any
) -> Response:
    """The page of a submitted profile, whatever became of it since; ``saved``: the section whose
    change was just saved."""
    _, lang, now = kit.gettext, kit.lang, kit.app.clock.now()
    state = status(profile, now)
    invitation = await kit.app.rounds.invitation(account.id, profile.id, now)
    board = kit.app.board
    latest = (
        next((r for r in board.records if r.at >= (profile.submitted_at or now)), None) if board else None
    )
    not_invited = None
    if (
        latest is not None
        and state.state == "submitted"
        and (invitation is None or invitation.round.id != latest.id)
    ):
        not_invited = _round_view(kit, latest)
    missing = scoring.missing_sections(profile.answers) if state.state == "submitted" else []
    headings = {
        "submitted": N_("Your profile is in the pool"),
        "invited": N_("You are invited to apply for permanent residence"),
        "accepted": N_("Your application for permanent residence has started"),
        "withdrawn": N_("You withdrew this profile"),
        "expired": N_("This profile has expired"),
    }
    changes = [
        {"title": _(section.title), "href": section_path(lang, profile.id, section)}
        for section in applicable(profile.answers)
    ]
    return kit.page(
        account,
        "profiles/confirmation.html",
        _(headings.get(state.state, N_("Profile submitted"))),
        profile_path(kit.other, profile.id, SLUGS["confirmation"][kit.other]),
        profile=profile,
        state=state.state,
        state_label=_(STATE_LABELS[state.state]),
        until=local_text(state.until, lang) if state.until else "",
        invitation=_invitation_view(kit, invitation) if invitation is not None else None,
        not_invited=not_invited,
        missing=[_(section.title) for section in applicable(profile.answers) if section.key in missing],
        changes=changes if state.state == "submitted" else [],
        answer_action=profile_path(lang, profile.id, SLUGS["invitation"][lang]),
        withdraw_href=profile_path(lang, profile.id, SLUGS["withdraw"][lang]),
        application_href=profile_path(lang, profile.id, SLUGS["application"][lang]),
        print_href=profile_path(lang, profile.id, SLUGS["print"][lang]),
        rounds_href=board.paths[lang] if board else "",
        saved=saved,
        **extra,
    )


async def answer_invitation(kit: Kit, profile_id: str) -> Response:
    loaded = await kit.load_post(profile_id)
    if isinstance(loaded, Response):
        return loaded
    account, profile, form = loaded
    answer = form.get("answer")
    rounds, now = kit.app.rounds, kit.app.clock.now()
    if status(profile, now).state != "invited":  # answered from another tab, or too late
        return kit.redirect(kit.confirmation(profile.id))
    if answer not in ("accept", "decline"):
        error = FormError("answer", kit.gettext("Select whether you accept or decline the invitation"))
        return await status_page(kit, account, profile, errors=[error], status=422)
    try:
        if answer == "accept":
            await rounds.accept(account.id, profile.id, now)
            return kit.redirect(profile_path(kit.lang, profile.id, SLUGS["application"][kit.lang]))
        await rounds.decline(account.id, profile.id, now)
    except InvitationNotOpen:
        pass  # answered from another tab, or too late: the page says where things stand
    return kit.redirect(kit.confirmation(profile.id))


async def withdraw_form(kit: Kit, profile_id: str) -> Response:
    loaded = await kit.load(profile_id)
    if isinstance(loaded, Response):
        return loaded
    account, profile = loaded
    if status(profile, kit.app.clock.now()).state != "submitted":
        return kit.redirect(kit.confirmation(profile.id))
    return kit.page(
        account,
        "profiles/withdraw.html",
        kit.gettext("Withdraw your profile"),
        profile_path(kit.other, profile.id, SLUGS["withdraw"][kit.other]),
        profile=profile,
        action=profile_path(kit.lang, profile.id, SLUGS["withdraw"][kit.lang]),
        back=kit.confirmation(profile.id),
    )


async def withdraw(kit: Kit, profile_id: str) -> Response:
    loaded = await kit.load_post(profile_id)
    if isinstance(loaded, Response):
        return loaded
    account, profile, form = loaded
    if form.get("confirm") != "yes":
        return kit.redirect(kit.confirmation(profile.id))
    with contextlib.suppress(ProfileNotEditable):  # invited or expired meanwhile: the page says so
        await kit.app.profiles.withdraw(account.id, profile.id, now=kit.app.clock.now())
    return kit.redirect(kit.confirmation(profile.id))


# The application's checklist ---------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    key: str
    title: str
    hint: str


def checklist(profile: Profile, today: dt.date) -> list[Document]:
    """The documents this person's application will need (reference §F.1, §F.4), in the order they
    are usually gathered."""
    answers = profile.answers
    items = [
        Document(
            "passport",
            N_("Passport or travel document"),
            N_("Every page with a stamp, a visa or a mark, for you and everyone in your application."),
        ),
        Document(
            "language",
            N_("Language test results"),
            N_("The results you gave in your profile; they must be less than 2 years old when you apply."),
        ),
    ]
    where = answers.get("education", {}).get("where")
    if where == "eca":
        items.append(
            Document(
                "eca",
                N_("Educational credential assessment (ECA) report"),
                N_("The report and its reference number, less than 5 years old."),
            )
        )
    elif where == "canada":
        items.append(
            Document(
                "diploma",
                N_("Canadian diploma, degree or certificate"),
                N_("The credential and your transcripts."),
            )
        )
    if answers.get("work", {}).get("jobs"):
        items.append(
            Document(
                "work",
                N_("Proof of work experience"),
                N_(
                    "A reference letter from each employer: your job title, duties, hours a week, salary "
                    "and the dates you worked there."
                ),
            )
        )
    facts = pool.facts(answers, today) if not scoring.missing_sections(answers) else None
    if facts is None or not facts.programs & {RoundProgram.CEC}:
        items.append(
            Document(
                "funds",
                N_("Proof of settlement funds"),
                N_(
                    "A letter from each bank, with your balances and the average balance of the last "
                    "6 months."
                ),
            )
        )
    if answers.get("nomination", {}).get("pnp") == "yes":
        items.append(
            Document(
                "nomination",
                N_("Provincial nomination certificate"),
                N_("From the province or territory that nominated you."),
            )
        )
    if answers.get("education", {}).get("certificate") == "yes":
        items.append(
            Document(
                "certificate",
                N_("Certificate of qualification in your trade"),
                N_("Issued by a Canadian province or territory."),
            )
        )
    if has_partner(answers):
        items.append(
            Document(
                "partner",
                N_("Marriage certificate or proof of your common-law relationship"),
                N_("And your spouse or partner’s passport and documents, if they come with you."),
            )
        )
    if int(answers.get("family", {}).get("children", "0") or 0) > 0:
        items.append(
            Document(
                "children",
                N_("Birth certificates of your dependent children"),
                N_("Naming both parents."),
            )
        )
    items += [
        Document(
            "police",
            N_("Police certificates"),
            N_("From each country where you have lived 6 months or more in a row since you were 18."),
        ),
        Document(
            "medical",
            N_("Medical exam"),
            N_("With a panel physician approved by IRCC; keep the form they give you."),
        ),
        Document("photos", N_("Digital photos"), N_("Of you and everyone in your application.")),
        Document(
            "fees",
            N_("Fees"),
            N_(
                "The processing fee and the right of permanent residence fee (about $950 and $575 "
                "for a principal applicant: check the current amounts on Canada.ca)."
            ),
        ),
    ]
    return items


async def _application(kit: ProfilePages, profile_id: str) -> tuple[Account, Profile, Any] | Response:
    loaded = await kit.load(profile_id)
    if isinstance(loaded, Response):
        return loaded
    account, profile = loaded
    application = await kit.app.rounds.application(account.id, profile.id)
    if application is None:
        return kit.redirect(kit.confirmation(profile.id))
    return account, profile, application


async def _application_page(
    kit: ProfilePages, account: Account, profile: Profile, application: Any, *, saved: bool = False
) -> Response:
    _, lang = kit.gettext, kit.lang
    ready = application.ready or {}
    invitation = await kit.app.rounds.invitation(account.id, profile.id, kit.app.clock.now())
    documents = [
        {"key": item.key, "title": _(item.title), "hint": _(item.hint), "ready": bool(ready.get(item.key))}
        for item in checklist(profile, kit.app.clock.today())
    ]
    return kit.page(
        account,
        "profiles/application.html",
        _("Your application for permanent residence"),
        profile_path(kit.other, profile.id, SLUGS["application"][kit.other]),
        profile=profile,
        documents=documents,
        done=sum(document["ready"] for document in documents),
        action=profile_path(lang, profile.id, SLUGS["application"][lang]),
        back=kit.confirmation(profile.id),
        saved=saved,
        deadline=local_text(invitation.deadline, lang, with_time=True) if invitation else None,
    )


async def application_page(kit: Kit, profile_id: str) -> Response:
    found = await _application(kit, profile_id)
    if isinstance(found, Response):
        return found
    return await _application_page(kit, *found)


async def application_save(kit: Kit, profile_id: str) -> Response:
    found = await _application(kit, profile_id)
    if isinstance(found, Response):
        return found
    account, profile, _application_row = found
    form = await kit.form()
    if isinstance(form, Response):
        return form
    keys = {item.key for item in checklist(profile, kit.app.clock.today())}
    ready = {key: True for key in sorted(keys) if form.get(f"ready-{key}") == "yes"}
    await kit.app.rounds.mark_ready(account.id, profile.id, ready, kit.app.clock.now())
    fresh = await kit.app.rounds.application(account.id, profile.id)
    return await _application_page(kit, account, profile, fresh, saved=True)
