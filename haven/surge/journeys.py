"""The visitors of a surge: what each kind does, and how every one of them behaves in the waiting room.

Every visitor keeps their cookies, thinks between pages, obeys the waiting room (checks their place
when the room says to, goes on when it is their turn), waits as long as a ``Retry-After`` asks before
trying again, and gives up once their patience runs out, as people do.

- **reader**: the home page, the immigration programs, one program's page;
- **checker**: the eligibility check, question by question to its result, then the CRS calculator;
- **applicant**: creates an account, confirms the address from the email (which signs them in; they
  sign in with their password where a server asks for it), fills in an Express Entry profile page by
  page, and submits it; the confirmation's profile number is kept for
  the durability check.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlencode, urlsplit

from haven.shield.eta import due_soon, wait_range
from haven.surge import persona
from haven.surge.http import Browser, ConnectionLost, Response
from haven.surge.record import Queued, Recorder

KINDS: Final = ("reader", "checker", "applicant")
TICKET: Final = "haven_ticket"
PASS: Final = "haven_pass"  # noqa: S105 - a cookie name
STATUS_PATH: Final = "/api/v1/waiting-room"
STATE_PATH: Final = "/api/v1/waiting-room/state"
EMAIL_FORM: Final = {"en": "/en/waiting-room/email", "fr": "/fr/salle-d-attente/courriel"}
REDIRECTS: Final = (301, 302, 303, 307, 308)
NUMBER: Final = re.compile(r'class="reference">([A-Z]{2}-[0-9A-Z-]+)<')
PASSWORD: Final = "surge night lantern 2016"  # noqa: S105 - the simulated applicants' password

READER_PATHS: Final = {
    "en": ("/en/", "/en/immigrate"),
    "fr": ("/fr/", "/fr/immigrer"),
}
PROGRAM_PATHS: Final = {
    "en": (
        "/en/immigrate/express-entry",
        "/en/immigrate/express-entry/federal-skilled-workers",
        "/en/immigrate/express-entry/canadian-experience-class",
        "/en/immigrate/provincial-nominees",
    ),
    "fr": (
        "/fr/immigrer/entree-express",
        "/fr/immigrer/entree-express/travailleurs-qualifies-federal",
        "/fr/immigrer/entree-express/experience-canadienne",
        "/fr/immigrer/candidats-provinces",
    ),
}
WIZARD_START: Final = {"en": "/en/check-eligibility/status", "fr": "/fr/verifier-admissibilite/statut"}
CRS_PATH: Final = {
    "en": "/en/immigrate/express-entry/crs-calculator",
    "fr": "/fr/immigrer/entree-express/calculateur-scg",
}
ACCOUNT: Final = {
    "en": {"home": "/en/account", "sign_up": "/en/account/sign-up", "sign_in": "/en/account/sign-in"},
    "fr": {"home": "/fr/compte", "sign_up": "/fr/compte/inscription", "sign_in": "/fr/compte/connexion"},
}
PROFILE_SLUGS: Final = {
    "en": {"add": "add", "check": "check-answers", "submit": "submit"},
    "fr": {"add": "ajouter", "check": "verifier-reponses", "submit": "soumettre"},
}


class Left(Exception):
    """The visitor left before the end of their journey; the message says why."""


@dataclass
class Behaviour:
    """How the simulated people behave (seconds)."""

    think: float = 3.0  # mean think time between pages (exponential, capped at 4×)
    patience: float = 600.0  # mean patience in the waiting room (exponential, at least 30 s)
    timeout: float = 30.0  # a page that takes longer than this is a timeout: the visitor leaves
    french: float = 0.25  # share of visitors who read in French
    max_sheds: int = 20  # "busy, try again" answers one visitor takes before giving up
    leave_email: float = 0.0  # share of people in the queue who leave an address and close the tab


class Postman:
    """Reads the emails a Haven on this machine writes to its mail folder, and hands each visitor
    the link sent to them. One scan for everyone, twice a second."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.seen: set[str] = set()
        self.links: dict[str, str] = {}
        self.waiting: dict[str, asyncio.Future[str]] = {}
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._scan_forever())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    async def link_for(self, address: str, wait: float) -> str:
        if address in self.links:
            return self.links.pop(address)
        future = self.waiting[address] = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(wait):
                link: str = await future
                return link
        finally:
            self.waiting.pop(address, None)

    async def _scan_forever(self) -> None:
        while True:
            found = await asyncio.to_thread(self._scan)
            for address, link in found:
                future = self.waiting.get(address)
                if future is not None and not future.done():
                    future.set_result(link)
                else:
                    self.links[address] = link
            await asyncio.sleep(0.5)

    def _scan(self) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        if not self.folder.is_dir():
            return found
        for path in self.folder.glob("*.eml"):
            if path.name in self.seen:
                continue
            self.seen.add(path.name)
            text = path.read_text(errors="replace")
            to = re.search(r"^To: (.+)$", text, re.MULTILINE)
            link = re.search(r"https?://\S+", text)
            if to and link:
                parts = urlsplit(link.group(0))
                found.append(
                    (to.group(1).strip(), f"{parts.path}?{parts.query}" if parts.query else parts.path)
                )
        return found


class Visitor:
    """One person: their browser, their patience, and what they recorded."""

    def __init__(
        self,
        number: int,
        kind: str,
        browser: Browser,
        recorder: Recorder,
        clock: Callable[[], float],
        behaviour: Behaviour,
        rng: random.Random,
        postman: Postman | None,
        run: str = "run",
        watch: CounterWatch | None = None,
    ) -> None:
        self.number = number
        self.run = run
        self.kind = kind
        self.browser = browser
        self.recorder = recorder
        self.clock = clock
        self.behaviour = behaviour
        self.rng = rng
        self.postman = postman
        self.lang = "fr" if rng.random() < behaviour.french else "en"
        self.patience = max(30.0, rng.expovariate(1 / behaviour.patience))
        self.queued: Queued | None = None
        self.watch = watch
        # Drawn only when some take the email road, so that runs without it keep their draws.
        self.email_road = behaviour.leave_email > 0 and rng.random() < behaviour.leave_email

    async def think(self) -> float:
        """Pause as a person reading the page does; returns the moment they act (run clock)."""
        mean = self.behaviour.think
        pause = min(self.rng.expovariate(1 / mean), 4 * mean) if mean > 0 else 0.0
        await asyncio.sleep(pause)
        return self.clock()

    async def get(self, step: str, path: str, intended: float | None = None) -> Response:
        return await self.fetch(step, "GET", path, None, intended)

    async def post(
        self, step: str, path: str, form: dict[str, str], intended: float | None = None
    ) -> Response:
        return await self.fetch(step, "POST", path, form, intended)

    async def fetch(
        self, step: str, method: str, path: str, form: dict[str, str] | None, intended: float | None
    ) -> Response:
        """One request as a browser makes it: redirects followed, the waiting room obeyed, a busy
        answer retried after its ``Retry-After``. Raises ``Left`` when the visitor gives up."""
        intended = self.clock() if intended is None else intended
        sheds = 0
        hops = 0
        while True:
            response = await self._send(step, method, path, form, intended)
            now = self.clock()
            if response.status in REDIRECTS and "location" in response.headers and hops < 10:
                hops += 1
                method, form, intended = "GET", None, now
                path = _local(response.headers["location"])
                continue
            if self.queued is not None and self.queued.admitted < 0 and PASS in self.browser.jar:
                self.recorder.admit(self.queued, now)
            if response.status == 503 and TICKET in self.browser.jar and PASS not in self.browser.jar:
                await self._wait_in_room(intended)
                intended = self.clock()
                continue
            if response.status == 200 and _room_page(response) and path != STATUS_PATH:
                raise Left("the room said it was their turn but did not let them in")
            if response.status in (429, 503):
                sheds += 1
                if sheds > self.behaviour.max_sheds:
                    raise Left(f"turned away {sheds} times")
                await asyncio.sleep(_retry_after(response))
                intended = self.clock()
                continue
            response.url = path
            return response

    async def _send(
        self, step: str, method: str, path: str, form: dict[str, str] | None, intended: float
    ) -> Response:
        room = path == STATUS_PATH
        try:
            async with asyncio.timeout(self.behaviour.timeout):
                response = await self.browser.send(method, path, form)
        except TimeoutError:
            self.recorder.timeout(step, self.kind, intended, self.clock())
            self.browser.close()
            raise Left("timed out") from None
        except (ConnectionLost, OSError) as error:
            self.recorder.error(step, self.kind, self.clock())
            raise Left(f"connection error ({type(error).__name__})") from None
        room = room or (
            response.status == 503 and TICKET in self.browser.jar and PASS not in self.browser.jar
        )
        self.recorder.answer(step, self.kind, response.status, intended, self.clock(), room=room)
        return response

    async def _wait_in_room(self, arrived: float) -> None:
        """From the waiting page to the visitor's turn, as the page's script does it: poll the
        public room state (no cookies), work out the place and the wait with the room's own rule,
        make the one personal (held) check when the turn is due within seconds, then go on. The
        first ETA range worked out is the one recorded. Some leave an address instead (the email
        road). Patience running out ends the wait."""
        if self.queued is None:
            self.queued = self.recorder.join(arrived, self.clock())
        entry = self.queued
        if TICKET in self.browser.jar:  # a lapsed place is taken again with a new number
            entry.ticket = ticket_number(self.browser.jar[TICKET])
        number, drawn = entry.ticket, False
        while True:
            state = await self._public_state()
            waited = self.clock() - entry.joined
            if state.get("status") == "before-opening":
                pause = self.rng.uniform(30.0, 60.0)
            else:
                if state.get("opens_at") and not drawn:  # an event: the draw placed the visitor
                    drawn = True
                    told = (await self._status()).get("number")
                    number = told if isinstance(told, int) else number
                serving, low, high = _figures(state, number)
                if serving >= number or not (state.get("queueing") or state.get("waiting")):
                    return  # going back to the page claims the turn (or takes a new place)
                if high >= 0 and entry.predicted_high < 0:
                    entry.predicted_low, entry.predicted_high = low, high
                if self.email_road and entry.left_email < 0 and await self._email_road(entry):
                    return
                if due_soon(high):
                    await self._status()  # held until the turn comes
                    return
                base = min(60.0, max(2.0, low / 10)) if high >= 0 else self.rng.uniform(30.0, 60.0)
                pause = base * self.rng.uniform(0.8, 1.2)
            if waited >= self.patience:
                self.recorder.give_up(entry, self.clock())
                raise Left("gave up in the queue")
            await asyncio.sleep(min(pause, self.patience - waited + 0.01))

    async def _public_state(self) -> dict[str, object]:
        """The room's public state, asked without cookies; ``Retry-After`` obeyed when shed."""
        for _ in range(self.behaviour.max_sheds):
            intended = self.clock()
            try:
                async with asyncio.timeout(self.behaviour.timeout):
                    response = await self.browser.send("GET", STATE_PATH, cookies=False)
            except TimeoutError:
                self.recorder.timeout("room state", self.kind, intended, self.clock())
                self.browser.close()
                raise Left("timed out") from None
            except (ConnectionLost, OSError) as error:
                self.recorder.error("room state", self.kind, self.clock())
                raise Left(f"connection error ({type(error).__name__})") from None
            self.recorder.answer("room state", self.kind, response.status, intended, self.clock(), room=True)
            if response.status in (429, 503):
                await asyncio.sleep(_retry_after(response))
                continue
            try:
                answer = json.loads(response.body)
            except ValueError:
                raise Left("the room state was not JSON") from None
            return answer if isinstance(answer, dict) else {}
        raise Left("the room state was refused too many times")

    async def _email_road(self, entry: Queued) -> bool:
        """Leave an address, close the tab, wait for the email, follow its link. True once the
        link let them in; False when the form did not take the address (they keep waiting)."""
        if self.postman is None:
            return False
        email = f"surge-{self.run}-{self.number}-turn@example.org"
        # One try, as a person does: a refusal (a limit, say) leaves them waiting on the page.
        left = await self._send(
            "leave email", "POST", EMAIL_FORM[self.lang], {"email": email}, await self.think()
        )
        if left.status != 200:
            self.email_road = False
            return False
        entry.left_email = self.clock()
        if self.watch is not None:
            self.watch.follow(entry)
        try:
            link = await self.postman.link_for(
                email, wait=max(1.0, self.patience - (self.clock() - entry.joined))
            )
        except TimeoutError:
            self.recorder.give_up(entry, self.clock())
            raise Left("no turn email before their patience ran out") from None
        entry.mailed = self.clock()
        page = self.expect(await self.get("turn link page", link, await self.think()), "turn link page", 200)
        token = persona.hidden(page.text, "token") or ""
        await self.post("follow turn link", urlsplit(link).path, {"token": token})
        entry.via_link = PASS in self.browser.jar
        if not entry.via_link:
            raise Left("the link in the turn email did not let them in")
        return True

    async def _status(self) -> dict[str, object]:
        response = await self.fetch("waiting-room status", "GET", STATUS_PATH, None, None)
        try:
            answer = json.loads(response.body)
        except ValueError:
            raise Left("the waiting room's status was not JSON") from None
        return answer if isinstance(answer, dict) else {}

    def expect(self, response: Response, step: str, *statuses: int) -> Response:
        if response.status not in statuses:
            raise Left(f"{step}: answered {response.status}")
        return response


def _figures(state: dict[str, object], number: int) -> tuple[int, float, float]:
    """The counter, and the wait of place ``number`` by the room's rule (-1, -1: not moving)."""

    def num(key: str) -> float:
        value = state.get(key)
        return float(value) if isinstance(value, int | float) else 0.0

    serving = int(num("serving"))
    low, high = wait_range(number - serving, num("speed_low"), num("speed_high"), num("tick_seconds"))
    return serving, low, high


class CounterWatch:
    """For the run's record of the email road: when the public state first showed the counter at
    each waiting address-leaver's number (one cookie-free poll every quarter second for all)."""

    def __init__(self, browser: Browser, clock: Callable[[], float]) -> None:
        self.browser = browser
        self.clock = clock
        self.waiting: list[Queued] = []
        self.task: asyncio.Task[None] | None = None

    def follow(self, entry: Queued) -> None:
        self.waiting.append(entry)

    def start(self) -> None:
        self.task = asyncio.create_task(self._watch())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        self.browser.close()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(0.25)
            if not self.waiting:
                continue
            try:
                async with asyncio.timeout(5.0):
                    response = await self.browser.send("GET", STATE_PATH, cookies=False)
                serving = json.loads(response.body).get("serving")
            except (TimeoutError, ConnectionLost, OSError, ValueError, AttributeError):
                continue
            if not isinstance(serving, int):
                continue
            now = self.clock()
            for entry in [q for q in self.waiting if q.ticket <= serving]:
                entry.turned = now
                self.waiting.remove(entry)


# The journeys -------------------------------------------------------------------------------------------


async def reader(visitor: Visitor, arrived: float) -> None:
    home, programs = READER_PATHS[visitor.lang]
    visitor.expect(await visitor.get("home", home, arrived), "home", 200)
    visitor.expect(await visitor.get("programs", programs, await visitor.think()), "programs", 200)
    program = visitor.rng.choice(PROGRAM_PATHS[visitor.lang])
    visitor.expect(await visitor.get("program page", program, await visitor.think()), "program page", 200)


async def checker(visitor: Visitor, arrived: float) -> None:
    lang = visitor.lang
    url, intended = WIZARD_START[lang], arrived
    for _ in range(60):
        response = visitor.expect(await visitor.get("eligibility", url, intended), "eligibility", 200)
        url = response.url
        last = urlsplit(url).path.rsplit("/", 1)[1]
        if last in ("results", "resultats"):
            break
        if last in ("check-answers", "verifier-reponses"):
            link = re.search(r'href="([^"]*/(?:results|resultats)\?[^"]*)"', response.text)
            if link is None:
                raise Left("eligibility: no link to the results")
            url, intended = _local(link.group(1).replace("&amp;", "&")), await visitor.think()
            continue
        names, hidden = persona.form_fields(response.text)
        answers = {**hidden, **{name: persona.PERSONA[name] for name in names}, "go": "1"}
        url, intended = f"{urlsplit(url).path}?{urlencode(answers)}", await visitor.think()
    else:
        raise Left("eligibility: no result after 60 pages")
    crs = CRS_PATH[lang]
    visitor.expect(await visitor.get("crs calculator", crs, await visitor.think()), "crs calculator", 200)
    query = urlencode({**persona.CRS_ANSWERS, "go": "1"})
    result = await visitor.get("crs result", f"{crs}?{query}", await visitor.think())
    visitor.expect(result, "crs result", 200)


async def applicant(visitor: Visitor, arrived: float) -> None:
    if visitor.postman is None:
        raise Left("no mail folder to read the confirmation email from")
    lang = visitor.lang
    paths = ACCOUNT[lang]
    email = f"surge-{visitor.run}-{visitor.number}@example.org"
    page = visitor.expect(await visitor.get("sign-up page", paths["sign_up"], arrived), "sign-up page", 200)
    form = {"csrf": _csrf(page), "email": email, "password": PASSWORD}
    visitor.expect(
        await visitor.post("sign up", paths["sign_up"], form, await visitor.think()), "sign up", 200
    )
    try:
        link = await visitor.postman.link_for(email, wait=120)
    except TimeoutError:
        raise Left("no confirmation email within 2 minutes") from None
    page = visitor.expect(
        await visitor.get("confirm email page", link, await visitor.think()), "confirm page", 200
    )
    form = {"csrf": _csrf(page), "token": persona.hidden(page.text, "token") or ""}
    visitor.expect(await visitor.post("confirm email", urlsplit(link).path, form), "confirm email", 200)
    # The link signs in (Haven's confirmation does); a server that wants the password after it
    # sends the account page on to the sign-in page, and the applicant signs in there.
    home = visitor.expect(
        await visitor.get("account home", paths["home"], await visitor.think()), "account home", 200
    )
    if persona.hidden(home.text, "create_key") is None:
        form = {"csrf": _csrf(home), "email": email, "password": PASSWORD}
        home = visitor.expect(
            await visitor.post("sign in", paths["sign_in"], form, await visitor.think()), "sign in", 200
        )
    form = {"csrf": _csrf(home), "create_key": persona.hidden(home.text, "create_key") or ""}
    tasks = await visitor.post("start profile", persona.BASE[lang], form, await visitor.think())
    visitor.expect(tasks, "start profile", 200)
    task_list = tasks.url
    for key, answers in persona.ANSWERS.items():
        await _section(visitor, f"{task_list}/{persona.SECTIONS[lang][key]}", key, answers)
    work = f"{task_list}/{persona.SECTIONS[lang]['work']}"
    await _section(visitor, f"{work}/{PROFILE_SLUGS[lang]['add']}", "job", persona.JOB, action=False)
    await _section(visitor, work, "work history", {})
    slugs = PROFILE_SLUGS[lang]
    check = visitor.expect(
        await visitor.get("check answers", f"{task_list}/{slugs['check']}", await visitor.think()),
        "check",
        200,
    )
    form = {
        "csrf": _csrf(check),
        "submit_key": persona.hidden(check.text, "submit_key") or "",
        "declaration": "yes",
    }
    done = await visitor.post("submit", f"{task_list}/{slugs['submit']}", form, await visitor.think())
    visitor.expect(done, "submit", 200)
    found = NUMBER.search(done.text)
    if found is None:
        raise Left("submit: no profile number on the confirmation page")
    visitor.recorder.confirmations.append((found.group(1), email))


async def _section(
    visitor: Visitor, path: str, step: str, answers: dict[str, str], *, action: bool = True
) -> None:
    """Open a form page, answer it all, continue: back on the task list (or the job list)."""
    page = visitor.expect(await visitor.get(f"{step} page", path, await visitor.think()), step, 200)
    form = {"csrf": _csrf(page), **answers, **({"action": "continue"} if action else {})}
    answer = visitor.expect(await visitor.post(step, path, form, await visitor.think()), step, 200)
    if answer.url == path:
        raise Left(f"{step}: the form did not accept the answers")


def _csrf(response: Response) -> str:
    token = persona.hidden(response.text, "csrf")
    if token is None:
        raise Left(f"no CSRF token on {urlsplit(response.url).path or 'a form'} ({response.status})")
    return token


def ticket_number(cookie: str) -> int:
    """The number in a ticket cookie (``t.room.number.issued.predicted.key.mac``: signed, not secret);
    -1 if it does not read as one."""
    parts = cookie.split(".")
    try:
        return int(parts[-5]) if len(parts) >= 7 and parts[0] == "t" else -1
    except ValueError:
        return -1


def _room_page(response: Response) -> bool:
    """A waiting page (it loads the room's script) where the visitor asked for another page."""
    return PASS not in response.cookies and b"/waiting." in response.body and b"<script" in response.body


def _local(location: str) -> str:
    parts = urlsplit(location)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path or "/"


def _retry_after(response: Response) -> float:
    try:
        return min(120.0, max(0.5, float(response.headers.get("retry-after", "5"))))
    except ValueError:
        return 5.0


JOURNEYS: Final[dict[str, Callable[[Visitor, float], Awaitable[None]]]] = {
    "reader": reader,
    "checker": checker,
    "applicant": applicant,
}
