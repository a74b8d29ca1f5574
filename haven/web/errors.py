"""The one table that turns errors into responses: pages for people, JSON for the API.

Services raise domain errors; routes never build error responses themselves. Each error names its
status and, where waiting helps, a ``Retry-After``. Unknown paths and unexpected failures get the
bilingual 404 and 500 pages rendered at start-up, so an error never costs a template render.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from haven.db import dropped_connection
from haven.web.asgi import Receive, Scope, Send
from haven.web.pagecache import CachedResponse

API_PREFIX: Final = "/api/"
DATABASE_AWAY: Final = "The service is busy for a moment. Try again after the seconds in Retry-After."
DATABASE_RETRY_AFTER: Final = 5
logger = logging.getLogger("haven.errors")


class DomainError(Exception):
    """Base of the errors services raise. Subclasses set ``status`` and may set ``retry_after``."""

    status: int = 400
    retry_after: int | None = None
    code: str = "error"

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = message or (self.__class__.__doc__ or self.code).strip()


@dataclass(frozen=True)
class FieldError:
    """One bad input: ``loc`` is its path in the request (``("body", "first_language", "reading")``)."""

    loc: tuple[str | int, ...]
    message: str
    code: str


class FieldErrors(DomainError):
    """Input that passed the schema but breaks a rule (a score off its test's scale, say). Answered
    as a 422 in FastAPI's own shape, so clients read schema and rule errors the same way."""

    status = 422
    code = "invalid_input"

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, e.loc))}: {e.message}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class ErrorPages:
    not_found: CachedResponse
    problem: CachedResponse
    busy: CachedResponse  # the database is out of reach for a moment (restarting, failing over)


class CachedPage(Response):
    """A response rendered at start-up, sent with its own status whatever the request method."""

    def __init__(self, cached: CachedResponse) -> None:
        self.cached = cached
        self.status_code = cached.status
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.cached.send_as_is(scope, send)


def install_error_handlers(app: FastAPI, pages: ErrorPages) -> None:
    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if request.url.path.startswith(API_PREFIX):
            return JSONResponse(
                {"error": {"status": exc.status_code, "message": exc.detail}},
                status_code=exc.status_code,
                headers=exc.headers,
            )
        if exc.status_code == 404:
            return CachedPage(pages.not_found)
        return Response(str(exc.detail), status_code=exc.status_code, headers=exc.headers)

    async def domain_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DomainError)
        if isinstance(exc, FieldErrors):
            detail = [{"loc": list(e.loc), "msg": e.message, "type": e.code} for e in exc.errors]
            return JSONResponse({"detail": detail}, status_code=422)
        headers = {"retry-after": str(exc.retry_after)} if exc.retry_after is not None else None
        return JSONResponse(
            {"error": {"status": exc.status, "code": exc.code, "message": exc.message}},
            status_code=exc.status,
            headers=headers,
        )

    async def unexpected(request: Request, exc: Exception) -> Response:
        # Logged by the problem-page layer once the exception has passed through; here we only answer.
        if dropped_connection(exc):  # not a fault of the request: the database is coming back
            if request.url.path.startswith(API_PREFIX):
                return JSONResponse(
                    {"error": {"status": 503, "message": DATABASE_AWAY}},
                    status_code=503,
                    headers={"cache-control": "no-store", "retry-after": str(DATABASE_RETRY_AFTER)},
                )
            return CachedPage(pages.busy)
        if request.url.path.startswith(API_PREFIX):
            return JSONResponse(
                {"error": {"status": 500, "message": "Internal error"}},
                status_code=500,
                headers={"cache-control": "no-store"},
            )
        return CachedPage(pages.problem)

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(Exception, unexpected)
