"""The services the dynamic pages use, made once per process when the app starts (the database
engine exists only then), and found from a request with ``services(request)``."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Final

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine

from haven.accounts.letters import Letters
from haven.accounts.service import Accounts, Passwords
from haven.db import Database
from haven.mail.outbox import ConsoleMailer, FileMailer, Mailer, deliver
from haven.settings import Settings
from haven.web.personal import Personal

if TYPE_CHECKING:
    from haven.content.site import Site
    from haven.profiles.service import Profiles

logger = logging.getLogger("haven.services")
MAIL_SWEEP_SECONDS: Final = 60.0  # how often queued email is retried


class Services:
    def __init__(self, settings: Settings, site: Site) -> None:
        self.settings = settings
        self.site = site
        self.personal = Personal(site, settings)
        self.passwords = Passwords.from_settings(settings)
        self.mailer: Mailer = (
            FileMailer(settings.mail_folder) if settings.mail_backend == "file" else ConsoleMailer()
        )
        self.database: Database | None = None
        self.accounts: Accounts | None = None
        self.profiles: Profiles | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweep: asyncio.Task[None] | None = None

    def start(self, engine: AsyncEngine) -> None:
        from haven.profiles.service import Profiles

        self.database = Database(engine)
        self.accounts = Accounts(self.database, self.passwords, Letters(self.settings))
        self.profiles = Profiles(self.database, self.settings)

    def deliver_mail_soon(self) -> None:
        """Deliver queued email after this response; what fails stays queued for the next try."""
        task = asyncio.get_running_loop().create_task(self._deliver())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self) -> None:
        if self.database is None:
            return
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

    async def stop(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
            await asyncio.gather(self._sweep, return_exceptions=True)
            self._sweep = None
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found
