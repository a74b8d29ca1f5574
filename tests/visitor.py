"""A visitor for in-process tests of the personal pages: keeps cookies like a browser, reads forms
(CSRF token included) and the email Haven sends."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html import unescape
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from haven.app import Haven
from haven.web.asgi import Message


@asynccontextmanager
async def started(app: Haven) -> AsyncIterator[Haven]:
    """The app with its lifespan run, as a server would."""
    incoming: asyncio.Queue[Message] = asyncio.Queue()
    sent: asyncio.Queue[Message] = asyncio.Queue()
    lifespan = asyncio.create_task(app({"type": "lifespan"}, incoming.get, sent.put))
    await incoming.put({"type": "lifespan.startup"})
    assert (await sent.get())["type"] == "lifespan.startup.complete"
    try:
        yield app
    finally:
        await incoming.put({"type": "lifespan.shutdown"})
        assert (await sent.get())["type"] == "lifespan.shutdown.complete"
        await lifespan
        # aiosqlite's close() does not join its worker threads; a worker still finishing when this
        # test's event loop closes would report to a closed loop (and fail the next test).
        for thread in threading.enumerate():
            if "_connection_worker_thread" in thread.name:
                await asyncio.to_thread(thread.join, 5)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    if found is None:
        title = re.search(r"<title>(.*?)</title>", html, re.S)
        raise AssertionError(f"no CSRF token on the page {title.group(1).strip() if title else html[:200]!r}")
    return found.group(1)


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden {name} on this page"
    return unescape(found.group(1))


class Visitor:
    def __init__(self, client: httpx.AsyncClient, app: Haven, mail_dir: Path) -> None:
        self.client = client
        self.app = app
        self.mail_dir = mail_dir

    @classmethod
    @asynccontextmanager
    async def of(cls, app: Haven, mail_dir: Path, address: str = "203.0.113.7") -> AsyncIterator[Visitor]:
        transport = httpx.ASGITransport(app=app, client=(address, 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://haven.test") as client:
            yield cls(client, app, mail_dir)

    def cookie(self, name: str) -> str:
        values = [cookie.value for cookie in self.client.cookies.jar if cookie.name == name and cookie.value]
        assert len(values) == 1, f"expected one {name} cookie, found {len(values)}"
        return values[0]

    def plant(self, name: str, value: str) -> None:
        """Replace a cookie, as someone who slipped one into this browser would."""
        domains = {cookie.domain for cookie in self.client.cookies.jar if cookie.name == name}
        for domain in domains:
            self.client.cookies.delete(name, domain=domain)
        self.client.cookies.set(name, value, domain=next(iter(domains), "haven.test"))

    async def get(self, path: str) -> httpx.Response:
        return await self.client.get(path)

    async def submit(self, path: str, fields: dict[str, str], *, page: str | None = None) -> httpx.Response:
        """POST a form the way a browser does after loading ``page`` (for its CSRF token)."""
        source = await self.client.get(page or path)
        assert source.status_code == 200, (
            f"GET {page or path}: {source.status_code} {source.headers.get('retry-after', '')}"
        )
        return await self.client.post(path, data={"csrf": csrf_of(source.text), **fields})

    async def mails(self) -> list[str]:
        await self.settle()
        if not self.mail_dir.exists():
            return []
        return [path.read_text() for path in sorted(self.mail_dir.glob("*.eml"))]

    async def link_in_last_mail(self) -> str:
        mails = await self.mails()
        assert mails, "no email was sent"
        found = re.search(r"https?://\S+", mails[-1])
        assert found
        link = urlsplit(found.group(0))
        return f"{link.path}?{link.query}" if link.query else link.path

    async def settle(self) -> None:
        """Wait for the app's background work (email delivery) to finish."""
        tasks = list(self.app.services._tasks)
        if tasks:
            await asyncio.gather(*tasks)

    async def sign_up_and_in(
        self,
        email: str,
        password: str = "correct horse battery",  # noqa: S107 - a test account's password
        lang: str = "en",
    ) -> None:
        base = "/en/account" if lang == "en" else "/fr/compte"
        sign_up = f"{base}/sign-up" if lang == "en" else f"{base}/inscription"
        sign_in = f"{base}/sign-in" if lang == "en" else f"{base}/connexion"
        response = await self.submit(sign_up, {"email": email, "password": password})
        assert response.status_code == 303, response.text[:500]
        link = await self.link_in_last_mail()
        page = await self.get(link)
        verify = await self.client.post(
            link.split("?")[0], data={"csrf": csrf_of(page.text), "token": hidden(page.text, "token")}
        )
        assert verify.status_code == 200, verify.text[:500]
        response = await self.submit(sign_in, {"email": email, "password": password})
        assert response.status_code == 303, response.text[:500]
