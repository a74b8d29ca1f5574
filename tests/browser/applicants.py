"""Applicants for browser tests: ready-made accounts with a complete draft on a running server's
database, and a browser page signed in as one of them (their cookies)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page

from haven import settings as settings_module
from tests.profiles.crowd import Submitter, prepare
from tests.server import RunningServer


def applicants(var_dir: Path, count: int, prefix: str) -> list[Submitter]:
    """``count`` applicants on the database of the server whose var dir is ``var_dir``."""
    settings = settings_module.load({"HAVEN_VAR_DIR": str(var_dir)})
    # In a thread of its own: Playwright's sync API keeps this thread's event loop running.
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, prepare(settings, count, prefix=prefix)).result()


def signed_in_page(
    browser: Browser, server: RunningServer, person: Submitter, width: int, *, script: bool = True
) -> Page:
    """A new browser (context) at ``width``, signed in as ``person``, JavaScript on unless not."""
    context = browser.new_context(
        bypass_csp=True, viewport={"width": width, "height": 900}, java_script_enabled=script
    )
    host = httpx.URL(server.base_url).host
    context.add_cookies(
        [
            {"name": name, "value": value, "domain": host, "path": "/"}
            for name, value in person.cookies.items()
        ]
    )
    return context.new_page()
