"""Shared fixtures: settings in a temporary folder, the app in-process, and a real server process."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from haven import settings as settings_module
from haven.app import Haven, create_app
from haven.db import migrate
from tests.databases import empty, postgres_database, postgres_server
from tests.server import RunningServer, start_server
from tests.visitor import Visitor, started

TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
REPO_VAR = Path(__file__).resolve().parent.parent / "var"


def var_listing(folder: Path) -> dict[str, tuple[bool, int, int]]:
    """The folder itself and everything under it: whether each is a folder, its size and its
    modification time (a folder's changes when an entry is added or removed, even a temporary one)."""
    if not folder.exists():
        return {}
    listing = {}
    for path in (folder, *folder.rglob("*")):
        status = path.lstat()
        listing[str(path.relative_to(folder))] = (path.is_dir(), status.st_size, status.st_mtime_ns)
    return listing


def var_changes(
    before: dict[str, tuple[bool, int, int]], after: dict[str, tuple[bool, int, int]]
) -> list[str]:
    """What was created, changed or removed between two listings."""
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


# Taken when pytest loads this file, before it collects (imports) any test module: a module that
# writes at import time is caught too.
REPO_VAR_BEFORE = var_listing(REPO_VAR)


@pytest.fixture(scope="session", autouse=True)
def repository_var_is_left_alone() -> Iterator[None]:
    """The repository's own var/ is the developer's data (``make serve``): a test that writes there
    fails the run, whatever it wrote."""
    yield
    changed = var_changes(REPO_VAR_BEFORE, var_listing(REPO_VAR))
    assert not changed, (
        f"tests wrote into the repository's var/ (use tmp_path; a `make serve` running meanwhile "
        f"writes there too): {changed}"
    )


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


# Databases: every database test runs on SQLite and on PostgreSQL --------------------------------


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_url(postgres_admin: str) -> Iterator[str]:
    with postgres_database(postgres_admin) as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sqlite-template")
    migrate(make_settings(folder))
    return folder / "haven.sqlite3"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        copy = tmp_path / "haven.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), copy)
        return f"sqlite:///{copy}"
    url: str = request.getfixturevalue("postgres_url")
    asyncio.run(empty(url))
    return url


@pytest.fixture
def db_settings(database_url: str, tmp_path: Path) -> settings_module.Settings:
    # Cheap argon2 here: the tests are about behaviour; bench/ measures the real cost.
    return make_settings(
        tmp_path / "var",
        HAVEN_DATABASE_URL=database_url,
        HAVEN_ARGON2_TIME_COST="1",
        HAVEN_ARGON2_MEMORY_KIB="8",
        HAVEN_MAIL_DIR=str(tmp_path / "mail"),
    )


@pytest.fixture
async def site(db_settings: settings_module.Settings) -> AsyncIterator[Visitor]:
    """A started app (database and mail included) and a visitor with a cookie jar."""
    app = create_app(db_settings)
    async with started(app), Visitor.of(app, db_settings.mail_folder) as visitor:
        yield visitor
