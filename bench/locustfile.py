"""The surge's journeys for teams that already run Locust: ``locust -f bench/locustfile.py --host URL``.

**Locust is a closed model**: each simulated user waits for an answer before sending the next
request, so a slow server slows the load down with it and the latencies Locust reports hide the
queue (coordinated omission). Use it to exercise the journeys and watch the site; to measure an
overload, use ``haven surge``, which schedules arrivals whatever the server does and counts latency
from each request's intended send time.

The users obey the waiting room as ``haven surge``'s visitors do: on a waiting page they check the
status endpoint when told to, and they wait as long as a ``Retry-After`` asks. Applicants confirm
their address from the emails Haven writes to ``HAVEN_VAR_DIR/mail`` (set ``HAVEN_VAR_DIR`` to the
target's), so they need a Haven on the same machine with the file mail backend.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from locust import HttpUser, between, tag, task

from haven.surge import persona
from haven.surge.journeys import (
    ACCOUNT,
    CRS_PATH,
    NUMBER,
    PASSWORD,
    PROFILE_SLUGS,
    PROGRAM_PATHS,
    READER_PATHS,
    STATUS_PATH,
    TICKET,
    WIZARD_START,
)

MAIL_DIR = Path(os.environ.get("HAVEN_VAR_DIR", "var")) / "mail"
PATIENCE = 600.0


class GaveUp(Exception):
    pass


class Visitor(HttpUser):
    """One person at a time: a reader, a checker or an applicant (weights 6 : 3 : 1)."""

    wait_time = between(1, 5)

    def on_start(self) -> None:
        self.lang = "fr" if random.random() < 0.25 else "en"

    def page(self, method: str, path: str, name: str, data: dict[str, str] | None = None) -> Any:
        """One page, through the waiting room and past busy answers, as a browser would."""
        started = time.monotonic()
        while True:
            response = self.client.request(method, path, data=data, name=name, allow_redirects=True)
            if response.status_code in (429, 503):
                if time.monotonic() - started > PATIENCE:
                    raise GaveUp(name)
                if TICKET in self.client.cookies and response.status_code == 503:
                    self.wait_in_room(started)
                else:
                    time.sleep(float(response.headers.get("Retry-After", "5")))
                continue
            return response

    def wait_in_room(self, started: float) -> None:
        while time.monotonic() - started < PATIENCE:
            status = self.client.get(STATUS_PATH, name="waiting-room status")
            answer = json.loads(status.text) if status.status_code == 200 else {}
            if answer.get("state") in ("your-turn", "not-queueing", "lapsed"):
                return
            time.sleep(float(answer.get("check_again_seconds") or 5))
        raise GaveUp("queue")

    @tag("reader")
    @task(6)
    def reader(self) -> None:
        home, programs = READER_PATHS[self.lang]
        self.page("GET", home, "home")
        self.page("GET", programs, "programs")
        self.page("GET", random.choice(PROGRAM_PATHS[self.lang]), "program page")

    @tag("checker")
    @task(3)
    def checker(self) -> None:
        url = WIZARD_START[self.lang]
        for _ in range(60):
            response = self.page("GET", url, "eligibility")
            path = urlsplit(response.url).path
            last = path.rsplit("/", 1)[1]
            if last in ("results", "resultats"):
                break
            if last in ("check-answers", "verifier-reponses"):
                link = re.search(r'href="([^"]*/(?:results|resultats)\?[^"]*)"', response.text)
                url = (link.group(1) if link else path).replace("&amp;", "&")
                continue
            names, hidden = persona.form_fields(response.text)
            url = f"{path}?{urlencode({**hidden, **{n: persona.PERSONA[n] for n in names}, 'go': '1'})}"
        crs = CRS_PATH[self.lang]
        self.page("GET", crs, "crs calculator")
        self.page("GET", f"{crs}?{urlencode({**persona.CRS_ANSWERS, 'go': '1'})}", "crs result")

    @tag("applicant")
    @task(1)
    def applicant(self) -> None:
        self.client.cookies.clear()
        lang, paths = self.lang, ACCOUNT[self.lang]
        email = f"locust-{uuid.uuid4().hex[:12]}@example.org"
        try:
            page = self.page("GET", paths["sign_up"], "sign-up page")
            self.page("POST", paths["sign_up"], "sign up", form(page, email=email, password=PASSWORD))
            link = mail_link(email)
            page = self.page("GET", link, "confirm email page")
            self.page("POST", urlsplit(link).path, "confirm email", form(page, "token"))
            page = self.page("GET", paths["sign_in"], "sign-in page")
            home = self.page("POST", paths["sign_in"], "sign in", form(page, email=email, password=PASSWORD))
            tasks = self.page("POST", persona.BASE[lang], "start profile", form(home, "create_key"))
            task_list = urlsplit(tasks.url).path
            work = f"{task_list}/{persona.SECTIONS[lang]['work']}"
            steps = [
                (f"{task_list}/{persona.SECTIONS[lang][key]}", key, {**answers, "action": "continue"})
                for key, answers in persona.ANSWERS.items()
            ]
            steps += [(f"{work}/{PROFILE_SLUGS[lang]['add']}", "job", dict(persona.JOB))]
            steps += [(work, "work history", {"action": "continue"})]
            for path, name, answers in steps:
                page = self.page("GET", path, f"{name} page")
                self.page("POST", path, name, form(page, **answers))
            check = self.page("GET", f"{task_list}/{PROFILE_SLUGS[lang]['check']}", "check answers")
            done = self.page(
                "POST",
                f"{task_list}/{PROFILE_SLUGS[lang]['submit']}",
                "submit",
                form(check, "submit_key", declaration="yes"),
            )
            if NUMBER.search(done.text) is None:
                self.environment.events.request.fire(
                    request_type="CHECK",
                    name="confirmation number",
                    response_time=0,
                    response_length=0,
                    exception=AssertionError("no profile number on the confirmation page"),
                )
        except GaveUp:
            return


def form(page: Any, *hidden: str, **fields: str) -> dict[str, str]:
    """The page's CSRF token and the named hidden fields, with ``fields``."""
    values = {name: persona.hidden(page.text, name) or "" for name in ("csrf", *hidden)}
    return {**values, **fields}


def mail_link(address: str, wait: float = 60.0) -> str:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        for mail in sorted(MAIL_DIR.glob("*.eml"), reverse=True):
            text = mail.read_text(errors="replace")
            if f"To: {address}\n" in text:
                found = re.search(r"https?://\S+", text)
                if found:
                    parts = urlsplit(found.group(0))
                    return f"{parts.path}?{parts.query}"
        time.sleep(0.5)
    raise GaveUp("no confirmation email")
