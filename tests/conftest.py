"""Shared fixtures: settings in a temporary folder, the app in-process, and a real server process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from haven import settings as settings_module
from haven.app import Haven, create_app
from tests.server import RunningServer, start_server

TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


def make_settings(var_dir: Path, **env: str) -> settings_module.Settings:
    return settings_module.load({"HAVEN_VAR_DIR": str(var_dir), "HAVEN_SECRET_KEY": TEST_SECRET, **env})


@pytest.fixture
def settings(tmp_path: Path) -> settings_module.Settings:
    return make_settings(tmp_path / "var")


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory) -> Haven:
    """One app for the read-only page tests: building it renders the whole site."""
    return create_app(make_settings(tmp_path_factory.mktemp("var")))


@pytest.fixture
async def client(app: Haven) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://haven.test") as client:
        yield client


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A real Haven (Granian) process on a free port, shared by the tests that need the wire."""
    var_dir = tmp_path_factory.mktemp("server-var")
    with start_server(var_dir) as running:
        yield running
