"""What every engine shares: the ``Service`` a start returns, the error, waiting until a program
answers, and finding its folder and its binary."""

from __future__ import annotations

import os
import pwd
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.cluster.hosts import Host, Proc

REPO_ROOT = Path(__file__).resolve().parents[3]
DEPLOY = REPO_ROOT / "deploy"
STARTUP_TIMEOUT = 60.0
HAVEN_STARTUP_TIMEOUT = 180.0  # `haven serve` builds the site once, then each worker builds it again
SYSTEM_USER = "postgres"  # PostgreSQL and PgBouncer refuse to run as root; Debian's package makes it


class EngineError(RuntimeError):
    """An engine would not start, or answered wrongly."""


@dataclass
class Service:
    """A program serving on a host: where it answers and its process."""

    host: Host
    port: int
    proc: Proc
    workdir: Path

    @property
    def address(self) -> str:
        return self.host.address

    @property
    def endpoint(self) -> tuple[str, int]:
        return (self.host.address, self.port)

    @property
    def base_url(self) -> str:
        """For the HTTP ones."""
        return f"http://{self.address}:{self.port}"


def wait_until(answers: Callable[[], bool], proc: Proc, what: str, timeout: float = STARTUP_TIMEOUT) -> None:
    """Poll ``answers`` until it is true; fail with the log's tail if the program exits or the time
    runs out."""
    deadline = time.monotonic() + timeout
    while not answers():
        if not proc.alive():
            raise EngineError(f"{what} exited with {proc.returncode}; {proc.log} ends:\n{proc.log_tail()}")
        if time.monotonic() > deadline:
            raise EngineError(f"{what} did not answer in {timeout:g} s; {proc.log} ends:\n{proc.log_tail()}")
        time.sleep(0.05)


def http_status(url: str, timeout: float = 1.0) -> int | None:
    """The status of a GET (an error status included), or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - our own http URL
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, OSError):
        return None


def _folder(workdir: Path, host: Host, user: str | None = None) -> Path:
    """The engine's folder, made and given to ``user``, who must be able to reach it."""
    workdir.mkdir(parents=True, exist_ok=True)
    if user is not None:
        account = pwd.getpwnam(user)
        os.chown(workdir, account.pw_uid, account.pw_gid)
        if host.run(["test", "-w", str(workdir)], user=user, check=False).returncode != 0:
            raise EngineError(
                f"{user} cannot write {workdir}: every folder above it must be searchable by others "
                "(pytest's and mkdtemp's folders are 0700; make one with mode 0711 or 0755)"
            )
    return workdir


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise EngineError(f"{name} is not installed (Debian: apt-get install {name.split('-')[0]})")
    return found
