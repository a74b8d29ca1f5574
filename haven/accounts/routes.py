"""Account pages in both languages: sign up, confirm the email address, sign in, sign out, reset a
forgotten password. Routes translate: read the form, call the service, render or redirect."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

from haven.accounts.guard import form_expired, sign_in_first, signed_in
from haven.accounts.paths import PATHS, path
from haven.accounts.service import (
    LinkNotValid,
    SignInFailed,
    TooManyAttempts,
    email_problem,
    password_problem,
)
from haven.checker.fields import FormError
from haven.services import Services, services
from haven.web.i18n import LANGUAGES, N_, OTHER, Language, translations
from haven.web.personal import BadForm, read_form
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


def after_sign_in(target: str | None, lang: Language) -> str:
    """Where to go after signing in: the page asked for when it is one of ours in the language of the
    sign-in, else the account's home."""
    target = safe_next(target)
    return target if target.startswith(f"/{lang}/") else path("home", lang)


Handler = Callable[[Request], Awaitable[Response]]


def _words(lang: Language) -> Callable[[str], str]:
    return translations(lang).gettext


def _validate(
    form: dict[str, str], lang: Language, *, password: bool = True, email: bool = True
) -> list[FormError]:
    _ = _words(lang)
    errors = []
    if email:
        problem = email_problem(form.get("email", "").strip())
        if problem:
            errors.append(FormError("email", _(EMAIL_MESSAGES[problem])))
    if password:
        problem = password_problem(form.get("password", ""))
        if problem:
            errors.append(FormError("password", _(PASSWORD_MESSAGES[problem])))
    return errors


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    for lang in LANGUAGES:
        _add_routes(router, lang)
    return router


def _add_routes(router: APIRouter, lang: Language) -> None:
    _ = _words(lang)
    other = OTHER[lang]

    def page(request: Request, template: str, title: str, name: str, **context: Any) -> Response:
        return services(request).personal.render(
            request,
            lang,
            template,
            title=title,
            other_path=path(name, other),
            paths={k: v[lang] for k, v in PATHS.items()},
            **context,
        )

    async def sign_up_form(request: Request) -> Response:
        return page(request, "accounts/sign_up.html", _("Create your Haven account"), "sign_up", values={})

    async def sign_up(request: Request) -> Response:
        app = services(request)
        try:
            form = await read_form(request)
        except BadForm:
            return Response(status_code=400)
        if not app.personal.csrf_ok(request, form):
            return form_expired(request, lang, path("sign_up", lang))
        errors = _validate(form, lang)
        if errors:
            return page(
                request,
                "accounts/sign_up.html",
                _("Create your Haven account"),
                "sign_up",
                status=422,
                errors=errors,
                values={"email": form.get("email", "")},
            )
        assert app.accounts is not None
        await app.accounts.sign_up(form["email"], form["password"], lang)
        app.deliver_mail_soon()
        return app.personal.redirect(request, path("check_email", lang))

    async def check_email(request: Request) -> Response:
        reset = request.query_params.get("reset") == "1"
        return page(request, "accounts/check_email.html", _("Check your email"), "check_email", reset=reset)

    async def verify_form(request: Request) -> Response:
        token = request.query_params.get("token", "")
        return page(request, "accounts/verify.html", _("Confirm your email address"), "verify", token=token)

    async def verify(request: Request) -> Response:
        app = services(request)
        try:
            form = await read_form(request)
        except BadForm:
            return Response(status_code=400)
        if not app.personal.csrf_ok(request, form):
            return form_expired(request, lang, path("verify", lang))
        assert app.accounts is not None
        try:
            await app.accounts.verify_email(form.get("token", ""))
        except LinkNotValid:
            return page(
                request,
                "accounts/link_not_valid.html",
                _("This link has expired or has already been used"),
                "verify",
                status=400,
            )
        return page(request, "accounts/verified.html", _("Your email address is confirmed"), "verify")

    async def resend(request: Request) -> Response:
        app = services(request)
        account = await signed_in(request)
        if account is None:
            return sign_in_first(request, lang)
        form = await read_form(request)
        if not app.personal.csrf_ok(request, form):
            return form_expired(request, lang, path("home", lang))
        assert app.accounts is not None
        await app.accounts.resend_verification(account.id)
        app.deliver_mail_soon()
        return app.personal.redirect(request, path("check_email", lang))

    async def sign_in_form(request: Request) -> Response:
        return page(
            request,
            "accounts/sign_in.html",
            _("Sign in to your Haven account"),
            "sign_in",
            values={},
            next=after_sign_in(request.query_params.get("next"), lang),
            signed_out=request.query_params.get("signed_out") == "1",
        )

    async def sign_in(request: Request) -> Response:
        app = services(request)
        try:
            form = await read_form(request)
        except BadForm:
            return Response(status_code=400)
        if not app.personal.csrf_ok(request, form):
            return form_expired(request, lang, path("sign_in", lang))
        target = after_sign_in(form.get("next"), lang)
        errors = _validate(form, lang)
        title = _("Sign in to your Haven account")
        values = {"email": form.get("email", "")}
        page_kw: dict[str, Any] = {"values": values, "next": target, "signed_out": False}
        if errors:
            return page(
                request,
                "accounts/sign_in.html",
                title,
                "sign_in",
                status=422,
                errors=errors,
                **page_kw,
            )
        assert app.accounts is not None
        try:
            account, session_id = await app.accounts.sign_in(
                form["email"], form["password"], app.personal.client_address(request)
            )
        except SignInFailed:
            error = FormError("email", _("Enter the email address and password of your Haven account"))
            return page(
                request,
                "accounts/sign_in.html",
                title,
                "sign_in",
                status=422,
                errors=[error],
                **page_kw,
            )
        except TooManyAttempts as refusal:
            seconds = refusal.retry_after or 60
            minutes = max(1, (seconds + 59) // 60)
            return page(
                request,
                "accounts/too_many.html",
                _("Too many attempts to sign in"),
                "sign_in",
                status=429,
                retry_after=seconds,
                minutes=minutes,
            )
        # A new session id, and a new CSRF token, at every sign-in.
        old = app.personal.session_id(request)
        if old is not None:
            await app.accounts.sign_out(old)
        app.personal.renew_csrf(request)
        response = app.personal.redirect(request, target)
        app.personal.set_session(response, request, session_id, str(account.id))
        return response

    async def sign_out(request: Request) -> Response:
        app = services(request)
        form = await read_form(request)
        if not app.personal.csrf_ok(request, form):
            return form_expired(request, lang, path("home", lang))
        session_id = app.personal.session_id(request)
        if session_id is not None and app.accounts is not None:
            await app.accounts.sign_out(session_id)
        app.personal.renew_csrf(request)
        response = app.personal.redirect(request, path("sign_in", lang) + "?signed_out=1")
        app.personal.clear_session(response)
        return response

    async def forgot_form(request: Request) -> Response:
        return page(request, "accounts/forgot.html", _("Reset your password"), "forgot", values={})

    async def forgot(request: Request) -> Response:
        app = services(request)
        form = await read_form(request)
        if not app.personal.csrf_ok(request, form):
            return form_expired(request, lang, path("forgot", lang))
        errors = _validate(form, lang, password=False)
        if errors:
            values = {"email": form.get("email", "")}
            title = _("Reset your password")
            return page(
                request, "accounts/forgot.html", title, "forgot", status=422, errors=errors, values=values
            )
        assert app.accounts is not None
        await app.accounts.request_reset(form["email"], lang)
        app.deliver_mail_soon()
        return app.personal.redirect(request, path("check_email", lang) + "?reset=1")

    async def reset_form(request: Request) -> Response:
        app = services(request)
        token = request.query_params.get("token", "")
        assert app.accounts is not None
        try:
            await app.accounts.check_reset_token(token)
        except LinkNotValid:
            return page(
                request,
                "accounts/link_not_valid.html",
                _("This link has expired or has already been used"),
                "forgot",
                status=400,
            )
        return page(request, "accounts/reset.html", _("Choose a new password"), "reset", token=token)

    async def reset(request: Request) -> Response:
        app = services(request)
        form = await read_form(request)
        if not app.personal.csrf_ok(request, form):
            return form_expired(request, lang, path("forgot", lang))
        errors = _validate(form, lang, email=False)
        token = form.get("token", "")
        if errors:
            return page(
                request,
                "accounts/reset.html",
                _("Choose a new password"),
                "reset",
                status=422,
                errors=errors,
                token=token,
            )
        assert app.accounts is not None
        try:
            await app.accounts.reset_password(token, form["password"])
        except LinkNotValid:
            return page(
                request,
                "accounts/link_not_valid.html",
                _("This link has expired or has already been used"),
                "forgot",
                status=400,
            )
        return page(request, "accounts/password_changed.html", _("Your password has been changed"), "sign_in")

    routes: list[tuple[str, Handler, str]] = [
        ("sign_up", sign_up_form, "GET"),
        ("sign_up", sign_up, "POST"),
        ("check_email", check_email, "GET"),
        ("verify", verify_form, "GET"),
        ("verify", verify, "POST"),
        ("resend", resend, "POST"),
        ("sign_in", sign_in_form, "GET"),
        ("sign_in", sign_in, "POST"),
        ("sign_out", sign_out, "POST"),
        ("forgot", forgot_form, "GET"),
        ("forgot", forgot, "POST"),
        ("reset", reset_form, "GET"),
        ("reset", reset, "POST"),
    ]
    for name, handler, method in routes:
        router.add_api_route(path(name, lang), handler, methods=[method])


__all__ = ["PATHS", "Services", "build_router", "path", "sign_in_first", "signed_in"]
