"""Real databases for the tests: SQLite files, and PostgreSQL over a real connection.

PostgreSQL comes from ``HAVEN_TEST_POSTGRES`` (an admin URL), else a server on 127.0.0.1:5432, else a
private server this module starts (``initdb`` into a temporary folder, stopped at the end). Database
tests never skip: a test run without PostgreSQL fails and says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from haven import settings as settings_module
from haven.db import Base, migrate
from haven.models import load_models

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _asyncpg_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _reachable(url: str) -> bool:
    try:
        connection = await asyncio.wait_for(asyncpg.connect(_asyncpg_url(url)), 3)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await connection.close()
    return True


async def execute(admin_url: str, statement: str) -> None:
    connection = await asyncpg.connect(_asyncpg_url(admin_url))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def postgres_binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (make test installs Debian's postgresql)")
    return Path(found[-1]).parent


@dataclass
class PrivatePostgres:
    """A throwaway PostgreSQL server: its own folder and port, trust auth on 127.0.0.1 only."""

    folder: Path
    port: int
    user: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def admin_url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> subprocess.CompletedProcess[bytes]:
        # PostgreSQL refuses to run as root: run it as the "postgres" account the package creates.
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run([*prefix, *command], capture_output=True, check=False)

    @classmethod
    def create(cls, port: int) -> PrivatePostgres:
        folder = Path(tempfile.mkdtemp(prefix="haven-pg-"))
        user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
        server = cls(folder, port, user)
        done = server._run(
            str(postgres_binaries() / "initdb"), "-D", str(folder / "data"), "-A", "trust", "-U", user
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr.decode()}")
        return server

    def start(self, pin: Sequence[str] = ()) -> None:
        """Start the server as a child of this process, so that this process reaps it when it dies
        (a dead postmaster left as a zombie would look alive to the next start). ``pin`` runs it
        under another command (``taskset -c 0``)."""
        prefix = [*pin, "runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else [*pin]
        command = [
            str(postgres_binaries() / "postgres"), "-D", str(self.folder / "data"), "-p", str(self.port),
            "-k", str(self.folder), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=on",
        ]  # fmt: skip
        with (self.folder / "log").open("ab") as log:
            self.process = subprocess.Popen([*prefix, *command], stdout=log, stderr=log)
        deadline = time.monotonic() + 60
        while not asyncio.run(_reachable(self.admin_url)):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start:\n{self.log()}")
            time.sleep(0.1)

    def stop(self, signal_number: int = signal.SIGINT) -> None:
        """SIGINT is PostgreSQL's fast shutdown; SIGQUIT its immediate one."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        postmaster = self._postmaster()
        with contextlib.suppress(ProcessLookupError):
            os.kill(postmaster or process.pid, signal_number)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """The hardest stop there is, as when the machine loses power: SIGKILL to the postmaster and
        every backend. PostgreSQL recovers from its WAL on the next start."""
        process = self.process
        if process is None:
            return
        postmaster = self._postmaster() or process.pid
        victims = [postmaster, *_children(postmaster)]
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait(timeout=30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(pid) for pid in victims[1:]):
            time.sleep(0.05)

    def _postmaster(self) -> int | None:
        try:
            return int((self.folder / "data" / "postmaster.pid").read_text().splitlines()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.folder / "log").read_text()
        return ""

    def remove(self) -> None:
        self.stop(signal.SIGQUIT)
        shutil.rmtree(self.folder, ignore_errors=True)


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                    found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """An admin URL of a PostgreSQL server to make test databases on."""
    configured = os.environ.get("HAVEN_TEST_POSTGRES")
    for url in [configured] if configured else [DEFAULT_ADMIN_URL]:
        if asyncio.run(_reachable(url)):
            yield url
            return
    from tests.server import free_port

    server = PrivatePostgres.create(free_port())
    server.start()
    try:
        yield server.admin_url
    finally:
        server.remove()


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A new, migrated database on the server; dropped afterwards. Yields its Haven URL."""
    name = f"haven_test_{secrets.token_hex(6)}"
    asyncio.run(execute(admin_url, f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    try:
        with tempfile.TemporaryDirectory(prefix="haven-migrate-") as var_dir:  # nothing in the repo's var/
            settings = settings_module.load(
                {
                    "HAVEN_VAR_DIR": var_dir,
                    "HAVEN_DATABASE_URL": url,
                    "HAVEN_SECRET_KEY": "x" * 40,
                    "HAVEN_DATA_KEY": TEST_DATA_KEY,
                }
            )
            migrate(settings)
        yield settings.database_url
    finally:
        asyncio.run(execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


TEST_DATA_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="  # 32 bytes, for tests only


def tables() -> tuple[str, ...]:
    """Every table of Haven's, whichever feature owns it."""
    load_models()
    return tuple(Base.metadata.tables)


async def empty(url: str) -> None:
    """Remove every row, keeping the schema (between tests on a shared PostgreSQL database)."""
    connection = await asyncpg.connect(_asyncpg_url(url))
    try:
        await connection.execute("TRUNCATE " + ", ".join(tables()) + " CASCADE")
    finally:
        await connection.close()
