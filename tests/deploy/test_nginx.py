"""deploy/nginx.conf in front of a real Haven: the export is served, the rest is proxied, and with Haven
down people get the bilingual busy page."""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from haven.content.export import export_static
from tests.conftest import make_settings
from tests.nginx import RunningNginx, start_nginx
from tests.server import RunningServer, start_server, stop

pytestmark = pytest.mark.server


@contextmanager
def nginx_in_front(root: Path, **env: str) -> Iterator[tuple[RunningNginx, RunningServer]]:
    """A Haven, its static export, and nginx with ``deploy/nginx.conf`` in front of both."""
    with start_server(root / "var", **env) as haven:
        export_static(make_settings(root / "var", HAVEN_PORT=str(haven.port)), root / "site")
        with start_nginx(root / "nginx", root / "site", haven.port) as nginx:
            yield nginx, haven


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningNginx, RunningServer]]:
    with nginx_in_front(tmp_path_factory.mktemp("nginx-stack")) as both:
        yield both


def test_content_pages_come_from_the_export_with_havens_bytes(
    stack: tuple[RunningNginx, RunningServer],
) -> None:
    nginx, haven = stack
    for path in ("/", "/en/", "/fr/immigrer/entree-express", "/en/help", "/sitemap.xml"):
        from_nginx = httpx.get(nginx.base_url + path, headers={"accept-encoding": "identity"})
        from_haven = httpx.get(haven.base_url + path, headers={"accept-encoding": "identity"})
        assert from_nginx.status_code == 200, path
        assert "x-served-by" not in from_nginx.headers, f"{path} should not reach Haven"
        assert from_nginx.content == from_haven.content, path
        assert from_nginx.headers["cache-control"] == from_haven.headers["cache-control"]


def test_nginx_sends_the_gzip_twin_and_immutable_assets(
    stack: tuple[RunningNginx, RunningServer],
) -> None:
    nginx, _haven = stack
    page = httpx.get(nginx.base_url + "/en/immigrate", headers={"accept-encoding": "gzip"})
    assert page.headers["content-encoding"] == "gzip"
    assert page.headers["vary"] == "Accept-Encoding"
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    stylesheet = next(
        line.split('href="')[1].split('"')[0] for line in page.text.splitlines() if 'rel="stylesheet"' in line
    )
    asset = httpx.get(nginx.base_url + stylesheet)
    assert asset.status_code == 200
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_canonical_redirects_match_havens(stack: tuple[RunningNginx, RunningServer]) -> None:
    nginx, _haven = stack
    for path, target in (("/en", "/en/"), ("/en/immigrate/", "/en/immigrate")):
        response = httpx.get(nginx.base_url + path)
        assert response.status_code == 301
        assert response.headers["location"].endswith(target)


def test_everything_else_is_proxied_to_haven(stack: tuple[RunningNginx, RunningServer]) -> None:
    nginx, _haven = stack
    for path in ("/healthz", "/en/no-such-page", "/api/v1/nothing"):
        response = httpx.get(nginx.base_url + path)
        assert response.headers.get("x-served-by") == "haven", path
    assert httpx.get(nginx.base_url + "/healthz").text == "ok\n"
    missing = httpx.get(nginx.base_url + "/en/no-such-page")
    assert missing.status_code == 404
    assert "Nous ne pouvons trouver cette page" in missing.text


def test_the_console_always_reaches_haven_and_is_never_kept(live: tuple[RunningNginx, RunningServer]) -> None:
    nginx, haven = live
    before = _origin_requests(haven)
    for _ in range(20):
        answer = httpx.get(nginx.base_url + "/admin/en/sign-in")
        assert answer.status_code == 200
        assert answer.headers.get("x-served-by") == "haven"
        assert answer.headers["cache-control"] == "private, no-store"
    assert _origin_requests(haven) - before == 20


def test_with_haven_down_pages_stay_up_and_the_rest_gets_the_busy_page(
    tmp_path: Path,
) -> None:
    with start_server(tmp_path / "var") as haven:
        export_static(make_settings(tmp_path / "var"), tmp_path / "site")
        with start_nginx(tmp_path / "nginx", tmp_path / "site", haven.port) as nginx:
            stop(haven.process)
            page = httpx.get(nginx.base_url + "/fr/citoyennete")
            assert page.status_code == 200
            busy = httpx.get(nginx.base_url + "/api/v1/crs")
            assert busy.status_code == 503
            assert busy.headers["retry-after"] == "30"
            assert busy.headers["cache-control"] == "no-store"
            assert "Sorry, the service is busy" in busy.text
            assert "Désolés, le service est très achalandé" in busy.text


# The live documents: one copy a second, whoever asks ----------------------------------------------

STATE = "/api/v1/waiting-room/state"
# The live pages Haven renders itself: the service status and the rounds of invitations.
STATUS_PAGES = (
    "/en/service-status",
    "/fr/etat-service",
    "/en/immigrate/express-entry/rounds-of-invitations",
    "/fr/immigrer/entree-express/rondes-invitations",
)
POLLS = 1000
CONNECTIONS = 50


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    cookies: int  # Set-Cookie lines
    body: bytes


async def _read_answer(reader: asyncio.StreamReader) -> Answer:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers: dict[str, str] = {}
    cookies = 0
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
            cookies += name.strip().lower() == "set-cookie"
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Answer(status, headers, cookies, body)


async def _polls(port: int, path: str, count: int, headers: dict[str, str]) -> list[Answer]:
    """``count`` GETs of ``path`` over CONNECTIONS kept-alive connections at once, as fast as nginx
    answers them (raw HTTP/1.1: an HTTP library would be the bottleneck)."""
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    request = f"GET {path} HTTP/1.1\r\nHost: haven.test\r\n{extra}\r\n".encode()

    async def one_connection(share: int) -> list[Answer]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        answers = []
        try:
            for _ in range(share):
                writer.write(request)
                answers.append(await _read_answer(reader))
        finally:
            writer.close()
            await writer.wait_closed()
        return answers

    shares = [count // CONNECTIONS + (i < count % CONNECTIONS) for i in range(CONNECTIONS)]
    done = await asyncio.gather(*(one_connection(share) for share in shares))
    return [answer for answers in done for answer in answers]


def _title(page: str) -> str:
    match = re.search(r"<title>(.*?)</title>", page, re.DOTALL)
    assert match, "no <title>"
    return match.group(1)


def _origin_requests(haven: RunningServer) -> int:
    """Requests Haven answered so far, from its own /metrics (one worker), its operations endpoints
    (this scrape, the health checks) left out."""
    total = 0
    for line in httpx.get(haven.base_url + "/metrics").text.splitlines():
        match = re.match(
            r'haven_http_requests_total\{route="([^"]+)",status="\d+",worker="\d+"\} ([0-9.e+]+)', line
        )
        if match and match.group(1) != "ops":
            total += int(float(match.group(2)))
    return total


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningNginx, RunningServer]]:
    """nginx in front of a Haven that nobody else talks to, so that its request counts are ours."""
    with nginx_in_front(tmp_path_factory.mktemp("nginx-live"), HAVEN_WORKERS="1") as both:
        yield both


def test_a_thousand_polls_of_the_room_state_reach_haven_a_few_times(
    live: tuple[RunningNginx, RunningServer],
) -> None:
    nginx, haven = live
    direct = httpx.get(haven.base_url + STATE)
    assert direct.status_code == 200
    before = _origin_requests(haven)
    # Visitors carry their cookies (a ticket, a pass): none may reach Haven, split the cache or come
    # back changed.
    cookie = {"Cookie": "haven_ticket=not-a-real-ticket; haven_pass=nor-this; theme=dark"}
    started = time.monotonic()
    answers = asyncio.run(_polls(nginx.port, STATE, POLLS, cookie))
    elapsed = time.monotonic() - started
    reached = _origin_requests(haven) - before
    assert len(answers) == POLLS
    assert {answer.status for answer in answers} == {200}
    assert sum(answer.cookies for answer in answers) == 0
    # nginx asks Haven about once a second: once to fill the cache, then at most once per second
    # of polling (plus one refresh in flight at the end).
    assert 1 <= reached <= math.ceil(elapsed) + 2, f"{reached} origin requests in {elapsed:.2f} s"
    # Every answer is a copy of one Haven sent: as many different bodies as origin answers at most,
    # each byte for byte what Haven answers for the same tick.
    bodies = {answer.body for answer in answers}
    assert len(bodies) <= reached
    for body in bodies:
        assert json.loads(body)["room"] == "main"
    first = answers[0]
    assert first.headers["cache-control"] == direct.headers["cache-control"]
    assert first.headers["content-type"] == "application/json"
    assert first.headers["etag"].startswith('"')
    assert first.headers.get("vary") == direct.headers.get("vary")


def test_the_room_state_keeps_havens_etag_and_revalidates(
    live: tuple[RunningNginx, RunningServer],
) -> None:
    nginx, _haven = live
    answer = httpx.get(nginx.base_url + STATE)
    again = httpx.get(nginx.base_url + STATE, headers={"If-None-Match": answer.headers["etag"]})
    if again.status_code == 200:  # a tick went by between the two: the next one is the same copy
        answer = again
        again = httpx.get(nginx.base_url + STATE, headers={"If-None-Match": answer.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert "set-cookie" not in again.headers
    # A query string is no way round the cache: it names the same document.
    busted = httpx.get(nginx.base_url + STATE + "?nocache=12345")
    assert busted.status_code == 200
    assert busted.headers["cache-control"] == answer.headers["cache-control"]


def test_the_status_pages_are_havens_and_cached_for_a_second(
    live: tuple[RunningNginx, RunningServer],
) -> None:
    nginx, haven = live
    for path in STATUS_PAGES:
        from_haven = httpx.get(haven.base_url + path, headers={"accept-encoding": "identity"})
        assert from_haven.status_code == 200, path
        before = _origin_requests(haven)
        started = time.monotonic()
        answers = asyncio.run(_polls(nginx.port, path, 200, {"Cookie": "haven_pass=x; lang=fr"}))
        elapsed = time.monotonic() - started
        reached = _origin_requests(haven) - before
        assert {answer.status for answer in answers} == {200}, path
        assert sum(answer.cookies for answer in answers) == 0, path
        assert 1 <= reached <= math.ceil(elapsed) + 2, f"{path}: {reached} in {elapsed:.2f} s"
        assert answers[0].headers["content-type"] == "text/html; charset=utf-8"
        assert answers[0].headers["cache-control"] == from_haven.headers["cache-control"]
        # Browsers that take gzip get Haven's gzipped copy, the others the plain one.
        haven_gzip = httpx.get(haven.base_url + path, headers={"accept-encoding": "gzip"})
        nginx_gzip = httpx.get(nginx.base_url + path, headers={"accept-encoding": "gzip, deflate, br"})
        assert nginx_gzip.headers.get("content-encoding") == haven_gzip.headers.get("content-encoding")
        plain = httpx.get(nginx.base_url + path, headers={"accept-encoding": "identity"})
        assert "content-encoding" not in plain.headers
        # The page is live (it may change at every tick): the same page, if not the same second's.
        for copy in (nginx_gzip, plain):
            assert _title(copy.text) == _title(from_haven.text), path


def test_with_haven_down_the_last_room_state_is_still_served(tmp_path: Path) -> None:
    with start_server(tmp_path / "var", HAVEN_WORKERS="1") as haven:
        export_static(make_settings(tmp_path / "var"), tmp_path / "site")
        with start_nginx(tmp_path / "nginx", tmp_path / "site", haven.port) as nginx:
            last = httpx.get(nginx.base_url + STATE)
            assert last.status_code == 200
            stop(haven.process)
            # Past the copy's second (nginx counts whole seconds: up to two): nginx must go back to
            # Haven, and cannot.
            time.sleep(2.5)
            stale = httpx.get(nginx.base_url + STATE)
            assert stale.status_code == 200
            assert stale.content == last.content
            assert stale.headers["etag"] == last.headers["etag"]
            assert stale.headers["x-cache-status"] in {"STALE", "UPDATING"}
