"""The console's pages, in both languages: sign in (name, password and a code from an
authenticator app), the room live with its controls, the confirmation every control asks for, and
the audit log. Everything works without JavaScript; a small script only refreshes the figures.

The stack sends every ``/admin`` address past the waiting room and the admission limiter
(``haven.app.compose``): operators get in at the busiest moment, and what they see is never a
cached copy (``private, no-store`` on every answer)."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from haven.accounts.service import SignInFailed, TooManyAttempts
from haven.checker.fields import FormError
from haven.console import rounds_pages
from haven.console.figures import SPAN, Chart, charts
from haven.console.operators import ConsoleBusy
from haven.console.pages import ConsolePage, console_page, moment, number
from haven.console.paths import PATHS, PREFIX, path
from haven.shield.admin import REPORTS_FRESH, AdminError, apply, checked_action, describe
from haven.shield.store import StoreUnavailable
from haven.web.clock import OTTAWA
from haven.web.cookies import OPERATOR_COOKIE
from haven.web.i18n import N_, Language
from haven.web.personal import HEADERS
from haven.web.security import safe_next, sign

ACTIONS: Final = ("pause", "resume", "open", "rate", "schedule")
ACTION_TITLES: Final = {
    "pause": N_("Pause the room"),
    "resume": N_("Resume the safety net"),
    "open": N_("Open the room"),
    "rate": N_("Let people in at a fixed rate"),
    "schedule": N_("Schedule an event"),
}
FIELD_MESSAGES: Final = {
    "action": N_("Choose what to do with the room"),
    "rate": N_("Enter how many people to let in each second: a number above 0, at most 1,000,000"),
    "start": N_("Enter the start as a date and a time, like %(example)s"),
    "start_past": N_("The start must be in the future"),
    "seed": N_("A seed has 1 to 200 characters"),
}
SERIES_TITLES: Final = {
    "arrivals": N_("Arrivals a second"),
    "admissions": N_("Admissions a second"),
    "waiting": N_("People in line"),
    "pressure": N_("Pressure on the origin"),
    "p99_ms": N_("p99 of admitted requests, in milliseconds"),
    "sheds": N_("Requests shed a second"),
    "no_shows": N_("No-shows a minute"),
}
SHED_REASONS: Final = {
    "limit": N_("concurrency limit"),
    "queue_full": N_("queue full"),
    "codel": N_("waited too long (CoDel)"),
    "lag": N_("event loop lagging"),
    "budget": N_("CPU budget spent"),
    "hash_lane": N_("password lane full"),
}
EXAMPLE_START: Final = "2026-11-03 21:00"  # how the event's start is written, in both languages
SIGN_IN_FAILED: Final = N_("The name, password or code is not right. Check them and try again.")
OPERATOR_PATH: Final = PREFIX  # the cookie's Path: the console only


# Signing in and out -------------------------------------------------------------------------------

SIGN_IN: Final = N_("Sign in to the operators’ console")


def after_sign_in(target: str | None, lang: Language) -> str:
    target = safe_next(target)
    return target if target.startswith(f"{PREFIX}/{lang}") else path("room", lang)


async def sign_in_form(page: ConsolePage) -> Response:
    query = page.request.query_params
    return page.render(
        "console/sign_in.html",
        SIGN_IN,
        "sign_in",
        operator=None,
        values={},
        errors=[],
        next=after_sign_in(query.get("next"), page.lang),
        signed_out=query.get("signed_out") == "1",
    )


async def sign_in(page: ConsolePage) -> Response:
    form = await page.posted()
    if isinstance(form, Response):
        return form
    _ = page.gettext
    target = after_sign_in(form.get("next"), page.lang)
    again: dict[str, Any] = {"values": {"name": form.get("name", "")}, "next": target}
    errors = [
        FormError(name, _(message))
        for name, message in (
            ("name", N_("Enter your operator name")),
            ("password", N_("Enter your password")),
            ("code", N_("Enter the 6-digit code from your authenticator app")),
        )
        if not form.get(name, "").strip()
    ]
    if not errors:
        try:
            _operator, session_id = await page.app.operators.sign_in(
                form["name"], form["password"], form["code"], page.address
            )
        except SignInFailed:
            errors = [FormError("name", _(SIGN_IN_FAILED))]
        except TooManyAttempts as refusal:
            seconds = refusal.retry_after or 60
            return page.render(
                "console/too_many.html",
                N_("Too many attempts to sign in"),
                "sign_in",
                operator=None,
                status=429,
                retry_after=seconds,
                minutes=max(1, (seconds + 59) // 60),
            )
        except ConsoleBusy:
            return page.render(
                "console/too_many.html",
                N_("The console is busy signing people in"),
                "sign_in",
                operator=None,
                status=503,
                retry_after=2,
                minutes=0,
            )
        else:
            page.app.personal.renew_csrf(page.request)
            response = page.redirect(target)
            key = page.app.settings.secret_key
            response.raw_headers.append(
                page.app.personal.cookies.header(
                    page.request.scope,
                    OPERATOR_COOKIE,
                    sign(session_id, key, OPERATOR_COOKIE),
                    path=OPERATOR_PATH,
                    same_site="Strict",
                )
            )
            return response
    return page.render(
        "console/sign_in.html",
        SIGN_IN,
        "sign_in",
        operator=None,
        status=422,
        errors=errors,
        signed_out=False,
        **again,
    )


async def sign_out(page: ConsolePage) -> Response:
    form = await page.posted()
    if isinstance(form, Response):
        return form
    operator = await page.operator()
    session_id = page.session_id()
    if operator is not None and session_id is not None:
        await page.app.operators.sign_out(session_id, operator, page.address)
    page.app.personal.renew_csrf(page.request)
    response = page.redirect(path("sign_in", page.lang) + "?signed_out=1")
    response.raw_headers.append(
        page.app.personal.cookies.deletion(page.request.scope, OPERATOR_COOKIE, path=OPERATOR_PATH)
    )
    return response


# The room ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    chart: Chart
    title: str
    latest: str
    highest: str


def _figure_text(key: str, value: float | None, lang: Language) -> str:
    if value is None:
        return "–"
    if key == "pressure":
        return number(value * 100, lang, 0) + ("\u00a0%" if lang == "fr" else "%")
    if key == "waiting":
        return number(value, lang, 0)
    return number(value, lang, 1)


def figures_context(page: ConsolePage) -> dict[str, Any]:
    """What the figures part of the room page shows (the page, and the fragment the script fetches)."""
    console, _ = page.console, page.gettext
    now = time.time()
    sampler = console.sampler
    if sampler is None:
        return {"figures": [], "sheds": [], "sampled": False, "history_from": None}
    history = sampler.history
    figures = [
        Figure(
            chart,
            _(SERIES_TITLES[chart.key]),
            _figure_text(chart.key, chart.latest, page.lang),
            _figure_text(chart.key, chart.highest, page.lang),
        )
        for chart in charts(history, now)
    ]
    sheds = [
        (_(SHED_REASONS[reason]) if reason in SHED_REASONS else reason, number(count, page.lang, 0))
        for reason, count in history.shed_totals(now - SPAN).items()
    ]
    first = history.samples[0].at if history.samples else None
    return {
        "figures": figures,
        "sheds": sheds,
        "sampled": True,
        "history_from": moment(first, page.lang) if first else None,
        "every": int(sampler.every),
    }


async def room_context(page: ConsolePage) -> dict[str, Any]:
    shield = page.console.shield
    if shield is None:
        return {"room": None, **figures_context(page)}
    room = shield.room
    try:
        state = await room.store.state(room.name, room.now())
        reports = await room.store.reports(room.name, room.now(), REPORTS_FRESH)
        unavailable = False
    except StoreUnavailable:
        state, reports, unavailable = room.state, {}, True
    view = describe(room, state, {}, reports)
    event_start = (
        moment(state.event_start, page.lang) if state.mode == "event" and state.event_start else None
    )
    return {
        "room": view,
        "store_unavailable": unavailable,
        "event_start": event_start,
        "rate_text": number(state.rate, page.lang, 2) if state.mode == "rate" else None,
        "now_text": moment(time.time(), page.lang),
        **figures_context(page),
    }


ROOM: Final = N_("The waiting room")


async def room_page(page: ConsolePage) -> Response:
    operator = await page.operator()
    if operator is None:
        return page.sign_in_first()
    done = page.request.query_params.get("done", "")
    return page.render(
        "console/room.html",
        ROOM,
        "room",
        operator=operator,
        done=page.gettext(ACTION_TITLES[done]) if done in ACTION_TITLES else None,
        errors=[],
        values={},
        example_start=EXAMPLE_START,
        **await room_context(page),
    )


async def figures_fragment(page: ConsolePage) -> Response:
    """The figures alone, for the page's script to put in place every few seconds."""
    operator = await page.operator()
    if operator is None:
        return Response(status_code=401, headers=HEADERS)
    html = page.app.personal.layout.renderer.render(
        "console/figures.html",
        page.lang,
        **figures_context(page),
        paths={k: v[page.lang] for k, v in PATHS.items()},
    )
    return HTMLResponse(html, headers=HEADERS)


def _changes(form: dict[str, str], now: dt.datetime) -> dict[str, Any]:
    """The form's action as changes for the store; ``AdminError`` names the field."""
    action = form.get("action", "")
    data: dict[str, Any] = {"action": action}
    if action == "rate":
        raw = form.get("rate", "").strip().replace(",", ".").replace("\u00a0", "").replace(" ", "")
        try:
            data["rate"] = float(raw)
        except ValueError:
            raise AdminError("rate", "not a number") from None
    if action == "schedule":
        raw = form.get("start", "").strip().replace(" ", "T", 1)
        try:
            start = dt.datetime.fromisoformat(raw)
        except ValueError:
            raise AdminError("start", "not a date and time") from None
        if start.tzinfo is None:
            start = start.replace(tzinfo=OTTAWA)  # the form says the time is Ottawa's
        if start <= now:
            raise AdminError("start_past", "in the past")
        data["start"] = start.isoformat()
        seed = form.get("seed", "").strip()
        if seed:
            data["seed"] = seed
    return checked_action(data)


async def controls(page: ConsolePage) -> Response:
    """A control, asked for (the confirmation page) or confirmed (done, and written to the log)."""
    found = await page.operator_and_form()
    if isinstance(found, Response):
        return found
    operator, form = found
    shield = page.console.shield
    _ = page.gettext
    values = {name: form.get(name, "") for name in ("action", "rate", "start", "seed")}
    if shield is None:
        return page.redirect(path("room", page.lang))
    try:
        changes = _changes(form, dt.datetime.now(dt.UTC))
    except AdminError as error:
        field_name = "start" if error.field == "start_past" else error.field
        message = _(FIELD_MESSAGES.get(error.field, FIELD_MESSAGES["action"])) % {"example": EXAMPLE_START}
        errors = [FormError(field_name, message)]
        return page.render(
            "console/room.html",
            ROOM,
            "room",
            operator=operator,
            status=422,
            done=None,
            errors=errors,
            values=values,
            example_start=EXAMPLE_START,
            **await room_context(page),
        )
    action = values["action"]
    if form.get("confirmed") != "yes":
        start = changes.get("event_start")
        return page.render(
            "console/confirm.html",
            ACTION_TITLES[action],
            "room",
            operator=operator,
            action=action,
            values={**values, "seed": changes.get("event_seed", values["seed"])},
            rate_text=number(changes["rate"], page.lang, 2) if "rate" in changes else None,
            start_text=moment(start, page.lang) if start else None,
        )
    try:
        before, after = await apply(shield.room, changes)
    except StoreUnavailable:
        return page.render(
            "console/store_down.html",
            N_("The shared store does not answer"),
            "room",
            operator=operator,
            status=503,
            retry_after=5,
        )
    await page.app.operators.record(operator, action, before, after, page.address)
    return page.redirect(f"{path('room', page.lang)}?done={action}")


# The audit log ----------------------------------------------------------------------------------

AUDIT: Final = N_("Audit log")
ENTRY_ACTIONS: Final = {
    **ACTION_TITLES,
    "signed-in": N_("Signed in"),
    "signed-out": N_("Signed out"),
    "sign-in-failed": N_("Sign-in refused"),
    "operator-added": N_("Operator added"),
    "operator-disabled": N_("Operator disabled"),
    "round-drawn": N_("Round of invitations run"),
}


async def audit_page(page: ConsolePage) -> Response:
    operator = await page.operator()
    if operator is None:
        return page.sign_in_first()
    entries, total = await page.app.operators.entries(before_id=page.before_id())
    _ = page.gettext
    rows = [
        {
            "id": entry.id,
            "at": moment(entry.at, page.lang),
            "operator": entry.operator,
            "action": _(ENTRY_ACTIONS[entry.action]) if entry.action in ENTRY_ACTIONS else entry.action,
            "before": entry.before,
            "after": entry.after,
            "address": entry.address,
        }
        for entry in entries
    ]
    older = rows[-1]["id"] if len(rows) == 50 else None
    return page.render(
        "console/audit.html", AUDIT, "audit", operator=operator, rows=rows, total=total, older=older
    )


# Reports of problems with a page --------------------------------------------------------------

REPORTS: Final = N_("Problem reports")


async def reports_page(page: ConsolePage) -> Response:
    operator = await page.operator()
    if operator is None:
        return page.sign_in_first()
    reports, total = await page.app.reports.latest(before_id=page.before_id())
    rows = [
        {
            "id": report.id,
            "at": moment(report.created_at, page.lang),
            "lang": report.lang,
            "page": report.page,
            "text": report.text,
        }
        for report in reports
    ]
    older = rows[-1]["id"] if len(rows) == 50 else None
    return page.render(
        "console/reports.html", REPORTS, "reports", operator=operator, rows=rows, total=total, older=older
    )


# The route table --------------------------------------------------------------------------------

ROUTES: Final = (
    ("room", "GET", room_page),
    ("figures", "GET", figures_fragment),
    ("controls", "POST", controls),
    ("rounds", "GET", rounds_pages.rounds_page),
    ("rounds", "POST", rounds_pages.run_round),
    ("audit", "GET", audit_page),
    ("reports", "GET", reports_page),
    ("sign_in", "GET", sign_in_form),
    ("sign_in", "POST", sign_in),
    ("sign_out", "POST", sign_out),
)


async def console_home(request: Request) -> Response:
    return RedirectResponse(path("room", "en"), status_code=303, headers=HEADERS)


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    router.add_api_route(PREFIX, console_home, methods=["GET"])
    for name, method, handler in ROUTES:
        endpoint = console_page(handler)
        for lang in ("en", "fr"):
            router.add_api_route(PATHS[name][lang], endpoint, methods=[method])
    return router
