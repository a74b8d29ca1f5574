from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi import FastAPI

from haven.app import Haven, create_app
from haven.cli import main
from haven.db import MIGRATIONS_DIR
from tests.conftest import make_settings
from tests.visitor import started


@asynccontextmanager
async def running(app: Haven) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan started, as a server would run it, and a client to it."""
    async with started(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://haven.test") as client:
            yield client


async def test_liveness_and_readiness_with_the_database_up(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path / "var"))
    (tmp_path / "var").mkdir(exist_ok=True)
    async with running(app) as client:
        live = await client.get("/healthz")
        ready = await client.get("/readyz")
    assert (live.status_code, live.text) == (200, "ok\n")
    assert (ready.status_code, ready.text) == (200, "ready\n")
    assert live.headers["cache-control"] == "no-store"


async def test_readiness_fails_and_liveness_holds_when_the_database_is_unreachable(
    tmp_path: Path,
) -> None:
    unreachable = f"sqlite:///{tmp_path}/no/such/folder/haven.sqlite3"
    app = create_app(make_settings(tmp_path / "var", HAVEN_DATABASE_URL=unreachable))
    async with running(app) as client:
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.headers["retry-after"] == "5"


async def test_readiness_before_startup_says_not_ready(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path / "var"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://haven.test") as client:
        assert (await client.get("/readyz")).status_code == 503


async def test_ops_endpoints_refuse_other_methods(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path / "var"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://haven.test") as client:
        assert (await client.post("/healthz")).status_code == 405
        head = await client.head("/healthz")
    assert head.status_code == 200
    assert head.content == b""


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of this worker (the test's own process), labelled as Haven writes it."""
    labels = {**labels, "worker": str(os.getpid())}
    selector = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    pattern = re.escape(name + "{" + selector + "}") + r" ([0-9.e+-]+)"
    match = re.search("^" + pattern + "$", text, flags=re.MULTILINE)
    assert match, f"{name}{{{selector}}} not in metrics"
    return float(match.group(1))


async def test_metrics_count_requests_by_route_class_and_status_with_latency(
    tmp_path: Path,
) -> None:
    app = create_app(make_settings(tmp_path / "var"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://haven.test") as client:
        for _ in range(3):
            await client.get("/en/")
        await client.get("/en/nowhere")
        await client.get("/static/" + app.site.assets["haven.css"].url.split("/")[-1])
        text = (await client.get("/metrics")).text
    assert metric(text, "haven_http_requests_total", route="content", status="200") == 3
    assert metric(text, "haven_http_requests_total", route="app", status="404") == 1
    assert metric(text, "haven_http_requests_total", route="static", status="200") == 1
    assert metric(text, "haven_http_request_duration_seconds_count", route="content") == 3
    assert metric(text, "haven_http_request_duration_seconds_bucket", le="+Inf", route="content") == 3
    # The scrape itself is in flight while it renders.
    assert metric(text, "haven_http_requests_in_flight") == 1
    assert "process_resident_memory_bytes" in text


async def test_an_unexpected_failure_gets_the_problem_page_and_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(make_settings(tmp_path / "var"))

    async def boom() -> None:
        raise RuntimeError("kaboom")

    framework = app.framework
    assert isinstance(framework, FastAPI)
    framework.add_api_route("/en/boom", boom)

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://haven.test") as client:
        response = await client.get("/en/boom")
    assert response.status_code == 500
    assert "Sorry, there is a problem with the service" in response.text
    assert response.headers["cache-control"] == "no-store"
    assert "kaboom" in caplog.text


def head_revision() -> str:
    """The newest migration, as alembic reads the folder (not a number this test would need bumped)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def test_migrate_creates_the_database_under_alembic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAVEN_VAR_DIR", str(tmp_path / "var"))
    assert main(["migrate"]) == 0
    database = tmp_path / "var" / "haven.sqlite3"
    with sqlite3.connect(database) as connection:
        version = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        journal = connection.execute("PRAGMA journal_mode").fetchone()
    assert version == (head_revision(),)
    assert journal == ("wal",)
    assert main(["migrate"]) == 0  # running it again changes nothing
