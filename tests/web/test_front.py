"""The front as it is stacked: the layers in the order the README draws, each request counted once
under the route class of the layer that answered it, and the request-target limit where it stands."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from haven.app import Haven, compose
from haven.ops.health import OpsEndpoints
from haven.ops.metrics import Metrics
from haven.shield.admission import Admission
from haven.shield.waiting import WaitingRoom
from haven.web.asgi import ASGIApp, Message, Noted
from haven.web.layers import MAX_TARGET_BYTES, FinishedPages, Operators, ProblemPage, TargetLimit
from tests.conftest import make_settings
from tests.shield.gate_kit import gated, stub

CRS = "/en/immigrate/express-entry/crs-calculator"


def layers(haven: Haven) -> list[type]:
    """The classes of the stack, outermost first, down to the application."""
    found: list[type] = []
    layer: ASGIApp = haven.front
    while layer is not haven.framework:
        found.append(type(layer))
        layer = layer.app  # type: ignore[attr-defined]  # every layer of the front keeps the one below
    return found


def test_the_stack_is_the_one_the_readme_draws(app: Haven, tmp_path: Path) -> None:
    assert layers(app) == [
        Metrics,
        FinishedPages,
        OpsEndpoints,
        TargetLimit,
        Operators,
        WaitingRoom,
        Admission,
        ProblemPage,
    ]
    settings = make_settings(tmp_path / "var", HAVEN_SHIELD="false")
    bare = compose(settings, app.clock, app.site, app.responses, app.query_pages, stub)
    assert bare.shield is None
    assert layers(bare) == [Metrics, FinishedPages, OpsEndpoints, TargetLimit, Operators, ProblemPage]


def requests_counted(haven: Haven) -> dict[tuple[str, str], float]:
    text = haven.metrics.render().decode()
    pattern = r'^haven_http_requests_total\{route="([^"]+)",status="(\d+)",worker="\d+"\} ([0-9.]+)$'
    return {(route, status): float(n) for route, status, n in re.findall(pattern, text, re.MULTILINE)}


async def test_each_answer_is_counted_under_the_layer_that_gave_it(app: Haven, tmp_path: Path) -> None:
    haven = gated(app, tmp_path / "var")
    transport = httpx.ASGITransport(app=haven, client=("198.51.100.30", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://haven.test") as client:
        assert (await client.get("/en/")).status_code == 200
        assert (await client.get(CRS)).status_code == 200
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/api/v1/waiting-room")).status_code == 200
        assert (await client.get("/en/waiting-room")).status_code == 200
        assert (await client.get("/en/account")).status_code == 200  # the stub, behind the shield
        assert (await client.get("/en/" + "a" * MAX_TARGET_BYTES)).status_code == 414
    assert requests_counted(haven) == {
        ("content", "200"): 1,
        ("checker", "200"): 1,
        ("ops", "200"): 1,
        ("room", "200"): 2,
        ("app", "200"): 1,
        ("refused", "414"): 1,
    }
    assert haven.metrics.in_flight == 0


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/en/", 200),  # a finished page ignores its query string, however long
        (CRS, 414),  # a query page reads it: refused like any other long target
        ("/en/account", 414),
        ("/healthz", 200),
    ],
)
async def test_a_long_target_is_refused_unless_a_finished_page_or_ops_answers_first(
    client: httpx.AsyncClient, path: str, status: int
) -> None:
    answer = await client.get(path, params={"q": "x" * MAX_TARGET_BYTES})
    assert answer.status_code == status


async def test_a_noted_send_notes_the_status_and_adds_its_headers() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    noted = Noted(send, [(b"set-cookie", b"haven_pass=x")])
    assert noted.status == 0  # nothing answered yet
    await noted({"type": "http.response.start", "status": 201, "headers": [(b"a", b"b")]})
    await noted({"type": "http.response.body", "body": b"done"})
    assert noted.status == 201
    assert sent[0]["headers"] == [(b"a", b"b"), (b"set-cookie", b"haven_pass=x")]
    assert sent[1] == {"type": "http.response.body", "body": b"done"}
