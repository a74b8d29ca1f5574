"""The email road's pages, in both languages, as ASGI apps the waiting-room layer answers before
admission: the form (leave an address), its confirmation, and the link from the email (a page
with one button, so that a mail scanner opening links never spends it).

Routes translate: read the request, call the service, render. Cross-site posts are kept out by the
cookies themselves: the ticket (and the session) are ``SameSite=Lax``, so a form posted from
another site arrives without them and holds no place to email about.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final
from urllib.parse import quote

from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import Response

from haven.services import Services
from haven.shield.tokens import Ticket
from haven.turnmail.paths import PATHS, WAITING, every_path, path
from haven.turnmail.service import (
    AlreadySent,
    BadAddress,
    LinkExpired,
    LinkNotValid,
    LinkUsed,
    TooMany,
    TurnCame,
    TurnMail,
)
from haven.web.asgi import ASGIApp, Receive, Scope, Send, name_route, read_cookies
from haven.web.cookies import TICKET_COOKIE
from haven.web.forms import FormError, Translate
from haven.web.i18n import N_, OTHER, Language, translations
from haven.web.pagecache import send_method_not_allowed
from haven.web.personal import BadForm, read_form
from haven.web.security import safe_next

logger = logging.getLogger("haven.turnmail")
ROUTE_CLASS: Final = "room"  # counted with the waiting room's own pages
METHODS: Final = ("GET", "HEAD", "POST")

FORM_TITLE: Final = N_("Get an email when it is your turn")
ADDRESS_MESSAGES: Final = {
    "empty": N_("Enter your email address"),
    "invalid": N_("Enter an email address in the correct format, like name@example.com"),
    "email": N_(
        "This address was given too many times in the last hour. Keep the waiting page open instead, "
        "or try again later."
    ),
    "client": N_(
        "Too many addresses were left from your connection in the last hour. Keep the waiting page "
        "open instead, or try again later."
    ),
}


class TurnPage:
    """One request to a page of the email road: its language, the services, the feature."""

    def __init__(self, request: Request, lang: Language, app: Services, turnmail: TurnMail) -> None:
        self.request = request
        self.lang = lang
        self.app = app
        self.turnmail = turnmail

    @property
    def gettext(self) -> Translate:
        return translations(self.lang).gettext

    def ticket(self) -> Ticket | None:
        return self.turnmail.shield.read_ticket(read_cookies(self.request.scope))

    def next(self, raw: str | None) -> str:
        return safe_next(raw)

    def render(
        self, template: str, title: str, name: str, *, query: str = "", status: int = 200, **context: Any
    ) -> Response:
        """``template`` with ``title`` (a msgid); the language toggle goes to page ``name`` in the
        other language, with ``query``."""
        return self.app.personal.render(
            self.request,
            self.lang,
            template,
            title=self.gettext(title),
            other_path=path(name, OTHER[self.lang]) + query,
            status=status,
            paths={key: value[self.lang] for key, value in PATHS.items()},
            waiting=WAITING[self.lang],
            **context,
        )

    def notice(
        self, title: str, lines: tuple[str, ...], action: tuple[str, str] | None, **kw: Any
    ) -> Response:
        """A page that says one thing: a heading, its paragraphs (msgids) and one way on."""
        _ = self.gettext
        button = (action[0], _(action[1])) if action else None
        return self.render(
            "turnmail/notice.html",
            title,
            kw.pop("name", "form"),
            lines=[_(t) for t in lines],
            action=button,
            **kw,
        )

    def waiting_page(self, next_: str) -> str:
        return WAITING[self.lang] + (f"?next={quote(next_, safe='/')}" if next_ else "")

    async def account_email(self) -> str | None:
        """The signed-in account's address, if the visitor is signed in."""
        session_id = self.app.personal.session_id(self.request)
        if session_id is None:
            return None
        account = await self.app.accounts.account_for_session(session_id)
        return account.email if account is not None else None


# The form ---------------------------------------------------------------------------------------------


async def form_page(page: TurnPage) -> Response:
    next_ = page.next(page.request.query_params.get("next"))
    ticket = page.ticket()
    if ticket is None:
        return no_place(page, next_)
    return page.render(
        "turnmail/form.html",
        FORM_TITLE,
        "form",
        query=f"?next={quote(next_, safe='/')}" if next_ else "",
        account_email=await page.account_email(),
        kept=await page.turnmail.kept_for(ticket),
        values={},
        next=next_,
    )


async def leave_address(page: TurnPage) -> Response:
    try:
        form = await read_form(page.request)
    except BadForm:
        return Response(status_code=400)
    next_ = page.next(form.get("next"))
    ticket = page.ticket()
    if ticket is None:
        return no_place(page, next_)
    account_email = await page.account_email()
    typed = form.get("email", "")[:320]
    email = account_email or typed
    turnmail = page.turnmail
    try:
        kept = await turnmail.register(
            ticket,
            email,
            page.lang,
            next_,
            turnmail.shield.address(page.request.scope),
            account=account_email is not None,
        )
    except (BadAddress, TooMany) as error:
        key = error.problem if isinstance(error, BadAddress) else error.field
        return page.render(
            "turnmail/form.html",
            FORM_TITLE,
            "form",
            status=error.status,
            retry_after=error.retry_after,
            errors=[FormError("email", page.gettext(ADDRESS_MESSAGES[key]))],
            account_email=account_email,
            kept=None,
            values={"email": typed},
            next=next_,
        )
    except TurnCame:
        return page.notice(
            N_("It is your turn"),
            (N_("Your turn has come already: you can go in to Haven now."),),
            (page.waiting_page(next_), N_("Continue to Haven")),
        )
    except AlreadySent:
        return page.notice(
            N_("We have sent you the email"),
            (N_("The email with your link has been sent. Open its link to go in to Haven."),),
            None,
        )
    except SQLAlchemyError:
        logger.exception("could not keep an address for the email road")
        return unavailable(page)
    return page.render(
        "turnmail/kept.html",
        N_("We will email you when it is your turn"),
        "form",
        email=kept,
        turn_link_minutes=turnmail.settings.turn_link_minutes,
    )


def no_place(page: TurnPage, next_: str) -> Response:
    return page.notice(
        N_("You do not have a place in the queue"),
        (
            N_("To get an email when it is your turn, you first need a place in the queue."),
            N_("Your place may have been used already, or this browser does not keep cookies."),
        ),
        (page.waiting_page(next_), N_("Go to the waiting room")),
        status=400,
    )


def unavailable(page: TurnPage) -> Response:
    return page.notice(
        N_("We cannot do this right now"),
        (N_("Keep the waiting page open: it lets you in when it is your turn. Your place is not affected."),),
        (WAITING[page.lang], N_("Go to the waiting room")),
        status=503,
        retry_after=30,
    )


# The link -------------------------------------------------------------------------------------------


async def link_page(page: TurnPage) -> Response:
    token = page.request.query_params.get("token", "")
    try:
        await page.turnmail.look(token)
    except (LinkNotValid, LinkExpired, LinkUsed) as error:
        return link_refused(page, error)
    except SQLAlchemyError:
        logger.exception("could not read a turn link")
        return unavailable(page)
    return page.render(
        "turnmail/link.html", N_("It is your turn"), "link", query=f"?token={quote(token)}", token=token
    )


async def follow_link(page: TurnPage) -> Response:
    try:
        form = await read_form(page.request)
    except BadForm:
        return Response(status_code=400)
    turnmail = page.turnmail
    try:
        entry = await turnmail.follow(form.get("token", ""))
    except (LinkNotValid, LinkExpired, LinkUsed) as error:
        return link_refused(page, error)
    except SQLAlchemyError:
        logger.exception("could not follow a turn link")
        return unavailable(page)
    target = entry.next or f"/{page.lang}/"
    response = page.app.personal.redirect(page.request, target)
    scope = page.request.scope
    response.raw_headers.append(turnmail.shield.pass_cookie(scope, entry.granted[1]))
    response.raw_headers.append(turnmail.shield.cookies.deletion(scope, TICKET_COOKIE))
    return response


def link_refused(page: TurnPage, error: LinkNotValid | LinkExpired | LinkUsed) -> Response:
    if isinstance(error, LinkExpired):
        return page.notice(
            N_("This link has expired"),
            (
                N_("The link let you in for a short time after your turn came, and that time has passed."),
                N_("You can join the queue again."),
            ),
            (page.waiting_page(error.next), N_("Join the queue again")),
            name="link",
            status=410,
        )
    if isinstance(error, LinkUsed):
        return page.notice(
            N_("This link has already been used"),
            (
                N_("A link in our emails lets one person in, once."),
                N_("If you are not in Haven, you can join the queue again."),
            ),
            (WAITING[page.lang], N_("Join the queue again")),
            name="link",
            status=409,
        )
    return page.notice(
        N_("This link does not work"),
        (N_("Check that you copied the whole link from the email."),),
        (WAITING[page.lang], N_("Go to the waiting room")),
        name="link",
        status=400,
    )


# As ASGI apps -------------------------------------------------------------------------------------------

Handler = Callable[[TurnPage], Awaitable[Response]]
HANDLERS: Final[dict[str, tuple[Handler, Handler]]] = {
    "form": (form_page, leave_address),
    "link": (link_page, follow_link),
}


def endpoint(turnmail: TurnMail, name: str, lang: Language) -> ASGIApp:
    """The ASGI app of page ``name`` in ``lang``: GET (and HEAD) shows it, POST acts."""
    show, act = HANDLERS[name]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        name_route(scope, ROUTE_CLASS)
        method = scope["method"]
        if method not in METHODS:
            await send_method_not_allowed(send)
            return
        services = turnmail.running()
        if services is None:  # not started yet, or stopping
            await turnmail.shield.busy(scope, send, 5, [])
            return
        page = TurnPage(Request(scope, receive), lang, services, turnmail)
        response = await (act if method == "POST" else show)(page)
        await response(scope, receive, send)

    return app


def routes(turnmail: TurnMail) -> dict[str, ASGIApp]:
    """Every address of the email road, for the waiting-room layer's ``routes``."""
    return {address: endpoint(turnmail, name, lang) for address, (name, lang) in every_path().items()}
