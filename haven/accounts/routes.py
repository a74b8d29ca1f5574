"""Account pages in both languages: sign up, confirm the email address, sign in, sign out, reset a
forgotten password. Routes translate: read the form, call the service, render or redirect. Each
handler serves both languages; the language it serves comes in as a dependency, with the services.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Final
from urllib.parse import quote

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from haven.accounts.guard import PersonalPage, personal_page, sign_in_first, signed_in
from haven.accounts.paths import PATHS, path
from haven.accounts.service import (
    LinkNotValid,
    SignInFailed,
    TooManyAttempts,
    email_problem,
    normalise_email,
    password_problem,
)
from haven.checker.fields import FormError
from haven.web.i18n import LANGUAGES, N_, Language
from haven.web.security import safe_next

EMAIL_MESSAGES: Final = {
    "empty": N_("Enter your email address"),
    "invalid": N_("Enter an email address in the correct format, like name@example.com"),
}
PASSWORD_MESSAGES: Final = {
    "empty": N_("Enter a password"),
    "short": N_("Enter a password of at least 10 characters"),
    "long": N_("Enter a password of 200 characters or fewer"),
}
LINK_NOT_VALID: Final = N_("This link has expired or has already been used")


def after_sign_in(target: str | None, lang: Language) -> str:
    """Where to go after signing in: the page asked for when it is one of ours in the language of the
    sign-in, else the account's home."""
    target = safe_next(target)
    return target if target.startswith(f"/{lang}/") else path("home", lang)


class AccountPage(PersonalPage):
    """One request to an account page, with what every account page does."""

    def render(self, template: str, title: str, name: str, **context: Any) -> Response:
        """``template`` with ``title`` (a msgid); the language toggle goes to page ``name``."""
        return self.render_with(
            PATHS, template, title, name, crumbs=[(self.gettext(N_("Home")), f"/{self.lang}/")], **context
        )

    async def form(self, back: str) -> dict[str, str] | Response:
        """The posted form (see ``PersonalPage.posted``); an expired one links the account page
        named ``back``."""
        return await self.posted(path(back, self.lang))

    def problems(self, form: dict[str, str], *, email: bool = True, password: bool = True) -> list[FormError]:
        """What is wrong with the email address and the password typed, in this page's language."""
        errors = []
        if email:
            problem = email_problem(form.get("email", "").strip())
            if problem:
                errors.append(FormError("email", self.gettext(EMAIL_MESSAGES[problem])))
        if password:
            problem = password_problem(form.get("password", ""))
            if problem:
                errors.append(FormError("password", self.gettext(PASSWORD_MESSAGES[problem])))
        return errors

    def link_not_valid(self, name: str) -> Response:
        return self.render("accounts/link_not_valid.html", LINK_NOT_VALID, name, status=400)


Page = Annotated[AccountPage, Depends(personal_page(AccountPage))]

# Sign up and confirm the address ----------------------------------------------------------------

SIGN_UP: Final = N_("Create your Haven account")


async def sign_up_form(page: Page) -> Response:
    return page.render("accounts/sign_up.html", SIGN_UP, "sign_up", values={})


async def sign_up(page: Page) -> Response:
    form = await page.form("sign_up")
    if isinstance(form, Response):
        return form
    errors = page.problems(form)
    if errors:
        values = {"email": form.get("email", "")}
        return page.render(
            "accounts/sign_up.html", SIGN_UP, "sign_up", status=422, errors=errors, values=values
        )
    browser = page.app.personal.csrf_token(page.request)
    await page.app.accounts.sign_up(form["email"], form["password"], page.lang, browser=browser)
    page.app.deliver_mail_soon()
    response = page.redirect(path("check_email", page.lang))
    page.app.personal.note_sent_to(response, page.request, normalise_email(form["email"]))
    return response


async def check_email(page: Page) -> Response:
    reset = page.request.query_params.get("reset") == "1"
    sent_to = page.app.personal.sent_to(page.request)
    return page.render(
        "accounts/check_email.html", N_("Check your email"), "check_email", reset=reset, sent_to=sent_to
    )


async def verify_form(page: Page) -> Response:
    token = page.request.query_params.get("token", "")
    return page.render("accounts/verify.html", N_("Confirm your email address"), "verify", token=token)


async def verify(page: Page) -> Response:
    form = await page.form("verify")
    if isinstance(form, Response):
        return form
    personal = page.app.personal
    try:
        account, session_id = await page.app.accounts.verify_email(
            form.get("token", ""),
            browser=personal.csrf_token(page.request),
            replacing=personal.session_id(page.request),
        )
    except LinkNotValid:
        return page.link_not_valid("verify")
    if session_id is not None:  # the link signed in: a new session id and a new CSRF token
        personal.renew_csrf(page.request)
    title = N_("Your email address is confirmed")
    response = page.render("accounts/verified.html", title, "verify", signed_in_now=session_id is not None)
    if session_id is not None:
        personal.set_session(response, page.request, session_id, str(account.id))
    return response


async def resend(page: Page) -> Response:
    account = await signed_in(page.request)
    if account is None:
        return sign_in_first(page.request, page.lang)
    form = await page.form("home")
    if isinstance(form, Response):
        return form
    browser = page.app.personal.csrf_token(page.request)
    await page.app.accounts.resend_verification(account.id, browser=browser)
    page.app.deliver_mail_soon()
    response = page.redirect(path("check_email", page.lang))
    page.app.personal.note_sent_to(response, page.request, account.email)
    return response


# Sign in and out --------------------------------------------------------------------------------

SIGN_IN: Final = N_("Sign in to your Haven account")
SIGN_IN_FAILED: Final = N_("The email address or password is not right. Check them and try again.")


async def sign_in_form(page: Page) -> Response:
    query = page.request.query_params
    return page.render(
        "accounts/sign_in.html",
        SIGN_IN,
        "sign_in",
        values={},
        next=after_sign_in(query.get("next"), page.lang),
        signed_out=query.get("signed_out") == "1",
        ended=query.get("ended", ""),
    )


async def sign_in(page: Page) -> Response:
    form = await page.form("sign_in")
    if isinstance(form, Response):
        return form
    again: dict[str, Any] = {
        "values": {"email": form.get("email", "")},
        "next": after_sign_in(form.get("next"), page.lang),
        "signed_out": False,
        "ended": "",
    }
    errors = page.problems(form)
    if errors:
        return page.render("accounts/sign_in.html", SIGN_IN, "sign_in", status=422, errors=errors, **again)
    personal = page.app.personal
    try:
        account, session_id = await page.app.accounts.sign_in(
            form["email"],
            form["password"],
            personal.client_address(page.request),
            replacing=personal.session_id(page.request),
        )
    except SignInFailed:
        error = FormError("email", page.gettext(SIGN_IN_FAILED))
        return page.render("accounts/sign_in.html", SIGN_IN, "sign_in", status=422, errors=[error], **again)
    except TooManyAttempts as refusal:
        seconds = refusal.retry_after or 60
        return page.render(
            "accounts/too_many.html",
            N_("Too many attempts to sign in"),
            "sign_in",
            status=429,
            retry_after=seconds,
            minutes=max(1, (seconds + 59) // 60),
        )
    # A new session id, and a new CSRF token, at every sign-in.
    personal.renew_csrf(page.request)
    response = page.redirect(again["next"])
    personal.set_session(response, page.request, session_id, str(account.id))
    return response


async def sign_out(page: Page) -> Response:
    form = await page.form("home")
    if isinstance(form, Response):
        return form
    personal = page.app.personal
    session_id = personal.session_id(page.request)
    if session_id is not None:
        await page.app.accounts.sign_out(session_id)
    personal.renew_csrf(page.request)
    response = page.redirect(path("sign_in", page.lang) + "?signed_out=1")
    personal.clear_session(response, page.request)
    return response


async def stay_signed_in(page: Page) -> Response:
    """ "Stay signed in", from the warning that a session is about to end: seeing the session keeps it
    for another 30 minutes. The page's script asks with ``X-Haven-Stay`` and gets 204 (or 401 when
    the session has already ended); a browser without the script is sent back to its page."""
    form = await page.form("home")
    if isinstance(form, Response):
        return form
    scripted = page.request.headers.get("x-haven-stay") == "1"
    account = await signed_in(page.request)
    if scripted:
        return page.app.personal.bare(page.request, 204 if account is not None else 401)
    back = after_sign_in(form.get("next"), page.lang)
    if account is None:
        return page.redirect(f"{path('sign_in', page.lang)}?next={quote(back)}&ended=1")
    return page.redirect(back)


# Reset a forgotten password ---------------------------------------------------------------------

FORGOT: Final = N_("Reset your password")
RESET: Final = N_("Choose a new password")


async def forgot_form(page: Page) -> Response:
    return page.render("accounts/forgot.html", FORGOT, "forgot", values={})


async def forgot(page: Page) -> Response:
    form = await page.form("forgot")
    if isinstance(form, Response):
        return form
    errors = page.problems(form, password=False)
    if errors:
        values = {"email": form.get("email", "")}
        return page.render("accounts/forgot.html", FORGOT, "forgot", status=422, errors=errors, values=values)
    await page.app.accounts.request_reset(form["email"], page.lang)
    page.app.deliver_mail_soon()
    response = page.redirect(path("check_email", page.lang) + "?reset=1")
    page.app.personal.note_sent_to(response, page.request, normalise_email(form["email"]))
    return response


async def reset_form(page: Page) -> Response:
    token = page.request.query_params.get("token", "")
    try:
        await page.app.accounts.check_reset_token(token)
    except LinkNotValid:
        return page.link_not_valid("forgot")
    return page.render("accounts/reset.html", RESET, "reset", token=token)


async def reset(page: Page) -> Response:
    form = await page.form("forgot")
    if isinstance(form, Response):
        return form
    token = form.get("token", "")
    errors = page.problems(form, email=False)
    if errors:
        return page.render("accounts/reset.html", RESET, "reset", status=422, errors=errors, token=token)
    try:
        await page.app.accounts.reset_password(token, form["password"])
    except LinkNotValid:
        return page.link_not_valid("forgot")
    return page.render("accounts/password_changed.html", N_("Your password has been changed"), "sign_in")


# The route table --------------------------------------------------------------------------------

Handler = Callable[..., Awaitable[Response]]

ROUTES: Final[tuple[tuple[str, str, Handler], ...]] = (
    ("sign_up", "GET", sign_up_form),
    ("sign_up", "POST", sign_up),
    ("check_email", "GET", check_email),
    ("verify", "GET", verify_form),
    ("verify", "POST", verify),
    ("resend", "POST", resend),
    ("sign_in", "GET", sign_in_form),
    ("sign_in", "POST", sign_in),
    ("sign_out", "POST", sign_out),
    ("stay", "POST", stay_signed_in),
    ("forgot", "GET", forgot_form),
    ("forgot", "POST", forgot),
    ("reset", "GET", reset_form),
    ("reset", "POST", reset),
)


def build_router() -> APIRouter:
    """Every account page, each handler at its address in both languages."""
    router = APIRouter(include_in_schema=False)
    for name, method, handler in ROUTES:
        for lang in LANGUAGES:
            router.add_api_route(path(name, lang), handler, methods=[method])
    return router
