"""When the database's connection fails (PostgreSQL restarting, a failover), people get the busy
page (503 with ``Retry-After``), and API clients a 503 in the API's error shape: not a 500. Other
failures still get the problem page."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError, OperationalError

from haven.web.asgi import Receive, Scope, Send
from haven.web.errors import ErrorPages, install_error_handlers
from haven.web.layers import ProblemPage
from haven.web.pagecache import build


class _Orig(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


RESTARTING = OperationalError("SELECT 1", {}, _Orig("57P01"))  # terminating: admin shutdown
BROKEN = IntegrityError("INSERT", {}, _Orig("23505"))
BUSY = build(b"busy", content_type="text/html", cache_control="no-store", status=503,
             extra_headers={"Retry-After": "30"})  # fmt: skip
PROBLEM = build(b"problem", content_type="text/html", cache_control="no-store", status=500)
MISSING = build(b"missing", content_type="text/html", cache_control="no-store", status=404)


def framework() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app, ErrorPages(not_found=MISSING, problem=PROBLEM, busy=BUSY))

    @app.get("/en/account")
    async def page() -> None:
        raise RESTARTING

    @app.get("/api/v1/profile")
    async def api() -> None:
        raise RESTARTING

    @app.get("/en/broken")
    async def broken() -> None:
        raise BROKEN

    return app


async def get(app: object, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://haven.test") as client:
        return await client.get(path)


async def test_a_page_gets_the_busy_page_when_the_database_is_away() -> None:
    answer = await get(ProblemPage(framework(), PROBLEM, BUSY), "/en/account")
    assert answer.status_code == 503
    assert answer.text == "busy"
    assert answer.headers["retry-after"] == "30"


async def test_the_api_gets_a_503_in_its_own_shape() -> None:
    answer = await get(ProblemPage(framework(), PROBLEM, BUSY), "/api/v1/profile")
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"
    assert answer.json()["error"]["status"] == 503


async def test_any_other_failure_is_still_a_problem() -> None:
    answer = await get(ProblemPage(framework(), PROBLEM, BUSY), "/en/broken")
    assert answer.status_code == 500
    assert answer.text == "problem"


async def test_a_failure_outside_the_framework_gets_the_busy_page_from_the_outer_layer() -> None:
    async def bare(scope: Scope, receive: Receive, send: Send) -> None:
        raise RESTARTING

    answer = await get(ProblemPage(bare, PROBLEM, BUSY), "/en/turn")
    assert answer.status_code == 503
    assert answer.text == "busy"
