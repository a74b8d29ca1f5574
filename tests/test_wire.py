"""Malformed and odd requests on a real socket, against a real Granian process: never a 5xx."""

from __future__ import annotations

import socket

import httpx
import pytest

from haven.checker.schemas import CRS_EXAMPLE
from haven.web.pagecache import PUBLIC_PAGE
from tests.server import RunningServer

pytestmark = pytest.mark.server

CLOSE = b"Host: haven.test\r\nConnection: close\r\n\r\n"
CASES = {
    "bad percent-encoding": (b"GET /%zz HTTP/1.1\r\n" + CLOSE, 404),
    "percent-encoded bytes that are not UTF-8": (b"GET /%ff%fe HTTP/1.1\r\n" + CLOSE, 404),
    "percent-encoded NUL": (b"GET /en/%00 HTTP/1.1\r\n" + CLOSE, 404),
    "raw NUL in the path": (b"GET /en/\x00 HTTP/1.1\r\n" + CLOSE, 400),
    "space inside the path": (b"GET /en/ im HTTP/1.1\r\n" + CLOSE, 400),
    "overlong path": (b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\n" + CLOSE, 414),
    "very overlong path": (b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\n" + CLOSE, 414),
    "overlong query on a dynamic path": (b"GET /api/x?" + b"q" * 5_000 + b" HTTP/1.1\r\n" + CLOSE, 414),
    "invented method on a page": (b"FOO /en/ HTTP/1.1\r\n" + CLOSE, 405),
    "TRACE": (b"TRACE / HTTP/1.1\r\n" + CLOSE, 405),
    "invented method elsewhere": (b"FOO /nowhere HTTP/1.1\r\n" + CLOSE, 404),
    "OPTIONS *": (b"OPTIONS * HTTP/1.1\r\n" + CLOSE, 404),
    "dot segments": (b"GET /static/../haven/settings.py HTTP/1.1\r\n" + CLOSE, 404),
    "unknown HTTP version": (b"GET /en/ HTTP/9.9\r\n" + CLOSE, 400),
    "TLS bytes on the plain port": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
    "Content-Length that is not a number": (
        b"POST /nowhere HTTP/1.1\r\nContent-Length: abc\r\n" + CLOSE,
        400,
    ),
    "a body sent to a page": (b"POST /en/ HTTP/1.1\r\nContent-Length: 3\r\n" + CLOSE + b"abc", 405),
    "no Host header": (b"GET /en/ HTTP/1.1\r\nConnection: close\r\n\r\n", 200),
    "absolute-form target": (b"GET http://elsewhere.example/en/ HTTP/1.1\r\n" + CLOSE, 200),
    "HTTP/1.0": (b"GET /fr/ HTTP/1.0\r\n\r\n", 200),
}


def exchange(port: int, request: bytes) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    status_line = data.split(b"\r\n", 1)[0].decode("latin-1")
    assert status_line.startswith("HTTP/1."), f"no HTTP answer, got {data[:60]!r}"
    return int(status_line.split()[1])


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_odd_requests_get_a_clear_status_and_never_a_5xx(server: RunningServer, case: str) -> None:
    request, expected = CASES[case]
    assert exchange(server.port, request) == expected


def test_the_server_is_still_healthy_after_the_odd_requests(server: RunningServer) -> None:
    for request, _expected in CASES.values():
        exchange(server.port, request)
    assert exchange(server.port, b"GET /healthz HTTP/1.1\r\n" + CLOSE) == 200
    assert b"Traceback" not in server.log.read_bytes()


def test_the_running_server_serves_pages_with_their_caching_headers(server: RunningServer) -> None:
    url = server.base_url + "/fr/immigrer/entree-express"
    page = httpx.get(url, headers={"accept-encoding": "gzip"})
    assert page.status_code == 200
    assert page.headers["content-encoding"] == "gzip"
    assert page.headers["cache-control"] == PUBLIC_PAGE
    assert "set-cookie" not in page.headers
    again = httpx.get(url, headers={"accept-encoding": "gzip", "if-none-match": page.headers["etag"]})
    assert (again.status_code, again.content) == (304, b"")
    head = httpx.head(url, headers={"accept-encoding": "identity"})
    plain = httpx.get(url, headers={"accept-encoding": "identity"})
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == plain.headers["content-length"] == str(len(plain.content))


def test_the_running_server_serves_the_checker_and_its_api(server: RunningServer) -> None:
    result = httpx.get(
        server.base_url + "/en/immigrate/express-entry/crs-calculator/result",
        params={
            "age": "29",
            "education": "bachelor",
            "cedu": "none",
            "t1": "ielts_general",
            "s1r": "7.5",
            "s1w": "7",
            "s1l": "8",
            "s1s": "7",
            "t2": "none",
            "cwork": "0",
            "fwork": "3",
            "partner": "none",
        },
    )
    assert result.status_code == 200
    assert '<span class="score__number">429</span>' in result.text
    api = httpx.post(server.base_url + "/api/v1/crs", json=CRS_EXAMPLE)
    assert (api.status_code, api.json()["total"]) == (200, 429)
    bad = httpx.post(server.base_url + "/api/v1/crs", json={**CRS_EXAMPLE, "age": "old"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "age"]
