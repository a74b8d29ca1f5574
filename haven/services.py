"""The services the dynamic pages use, built once per process when the app starts (the database
engine exists only then) and found from a request with ``services(request)``.

Every field is there from the start: a route never meets a service that is not ready.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Final

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine

from haven.accounts.letters import Letters
from haven.accounts.service import Accounts, Passwords
from haven.console.operators import Operators
from haven.db import Database, create_engine
from haven.feedback.service import Reports
from haven.mail.outbox import ConsoleMailer, FileMailer, Mailer, deliver
from haven.mail.smtp import SmtpMailer
from haven.profiles.service import Profiles
from haven.retention import prune
from haven.rounds.service import Rounds
from haven.settings import Settings
from haven.web.clock import Clock
from haven.web.personal import Personal
from haven.web.security import Sealer

if TYPE_CHECKING:
    from haven.rounds.public import RoundsBoard

logger = logging.getLogger("haven.services")
MAIL_SWEEP_SECONDS: Final = 60.0  # how often queued email is retried
POOL_SWEEP_SECONDS: Final = 600.0  # how often expired profiles leave the pool (and notices go)
PRUNE_SWEEP_SECONDS: Final = 3600.0  # how often what Haven no longer keeps is deleted (haven/retention.py)
PRUNE_JITTER: Final = 0.25  # each wait is 75 to 125 % of that, so that workers do not all prune at once


def mailer_for(settings: Settings) -> Mailer:
    if settings.mail_backend == "smtp":
        return SmtpMailer.from_settings(settings)
    if settings.mail_backend == "file":
        return FileMailer(settings.mail_folder, settings.mail_from)
    return ConsoleMailer()


class Services:
    """One process's services on one database engine. ``open`` builds them and starts the mail
    sweep; ``stop`` ends the sweep, waits for deliveries under way and closes the engine."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        personal: Personal,
        engine: AsyncEngine,
        *,
        mailer: Mailer | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.personal = personal
        self.engine = engine
        self.database = Database(engine)
        self.passwords = Passwords.from_settings(settings)
        self.mailer = mailer or mailer_for(settings)
        self.accounts = Accounts(self.database, self.passwords, Letters(settings), clock)
        self.profiles = Profiles(self.database, settings)
        self.rounds = Rounds(self.database, settings)
        self.reports = Reports(self.database)
        self.operators = Operators(self.database, self.passwords, Sealer(settings.data_key), clock)
        self.board: RoundsBoard | None = None  # the app's, once it starts (the latest rounds)
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweep: asyncio.Task[None] | None = None
        self._pool_sweep: asyncio.Task[None] | None = None
        self._prune_sweep: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, settings: Settings, clock: Clock, personal: Personal) -> Services:
        """The services of a process that starts serving: the engine, the sign-in decoy, then the
        mail sweep."""
        opened = cls(settings, clock, personal, create_engine(settings))
        await opened.passwords.prepare()
        opened.start_mail_sweep()
        opened.start_pool_sweep()
        opened.start_prune_sweep()
        return opened

    def deliver_mail_soon(self) -> None:
        """Deliver queued email after this response; what fails stays queued for the next try."""
        task = asyncio.get_running_loop().create_task(self._deliver())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def in_background(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``work`` in a task of its own, which ``stop`` waits for before the engine closes
        (the email road's sending, started by the room's tick)."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _deliver(self) -> None:
        try:
            await deliver(self.database, self.mailer)
        except Exception:
            logger.exception("mail delivery failed; messages stay in the outbox")

    def start_mail_sweep(self, every: float = MAIL_SWEEP_SECONDS) -> None:
        """Deliver what is queued now (email queued before a crash or restart), then again every
        ``every`` seconds: a message whose delivery failed is retried without waiting for another."""

        async def sweep() -> None:
            while True:
                await self._deliver()
                await asyncio.sleep(every)

        self._sweep = asyncio.get_running_loop().create_task(sweep())

    def start_pool_sweep(self, every: float = POOL_SWEEP_SECONDS) -> None:
        """Every ``every`` seconds, score again the pool entries whose stored facts changed today (a
        birthday, a new month of work), take expired profiles out of the pool and queue the
        "expires in a month" emails (``haven rounds sweep`` does the same at once)."""

        async def sweep() -> None:
            while True:
                try:
                    await self.rounds.refresh(self.clock.today(), skip_locked=True)
                    _removed, notices = await self.rounds.sweep(self.clock.now())
                    if notices:
                        await self._deliver()
                except Exception:
                    logger.exception("the pool sweep failed; it runs again later")
                await asyncio.sleep(every)

        self._pool_sweep = asyncio.get_running_loop().create_task(sweep())

    def start_prune_sweep(self, every: float = PRUNE_SWEEP_SECONDS) -> None:
        """About every ``every`` seconds, delete what Haven no longer keeps (``haven prune`` does the
        same at once). The first run comes a random 10 to 100 % of ``every`` after start-up, and each
        wait after it varies by ``PRUNE_JITTER``: workers started together spread out. A sweep that
        fails is logged and tried at the next turn; serving never depends on it."""

        async def sweep() -> None:
            wait = every * random.uniform(0.1, 1.0)  # noqa: S311 - spreading load, not a secret
            while True:
                await asyncio.sleep(wait)
                try:
                    counts = await prune(self.database, self.clock.now())
                    if any(counts.values()):
                        logger.info("retention sweep deleted %s", counts)
                except Exception:
                    logger.exception("the retention sweep failed; it runs again later")
                wait = every * random.uniform(1 - PRUNE_JITTER, 1 + PRUNE_JITTER)  # noqa: S311

        if self._prune_sweep is not None:
            self._prune_sweep.cancel()
        self._prune_sweep = asyncio.get_running_loop().create_task(sweep())

    async def stop_sweeps(self) -> None:
        """End the background sweeps (mail, pool, prune): at a stop, and in tests that run each
        step themselves, so that no sweep races them."""
        for task in (self._sweep, self._pool_sweep, self._prune_sweep):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._sweep = self._pool_sweep = self._prune_sweep = None

    async def stop(self) -> None:
        await self.stop_sweeps()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.database.close()


def services(request: Request) -> Services:
    """The running process's services (a FastAPI dependency)."""
    found: Services = request.app.state.services
    return found
