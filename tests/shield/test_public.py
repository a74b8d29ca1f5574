"""The public room state: one cookie-free document per tick, the same bytes for everyone, and the
numbers a waiting page works out its own place and wait from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from haven.app import Haven
from haven.shield.eta import wait_range
from haven.shield.public import STATE_PATH
from tests.shield.gate_kit import browser, gated, steer, tick

SIGN_UP = "/en/account/sign-up"


@pytest.fixture
def haven(app: Haven, tmp_path: Path) -> Haven:
    return gated(app, tmp_path / "var")


async def test_two_visitors_get_the_same_bytes_and_no_cookie(haven: Haven) -> None:
    await steer(haven, action="pause")
    async with browser(haven, "198.51.100.1") as first, browser(haven, "198.51.100.2") as second:
        assert (await first.get(SIGN_UP)).status_code == 503  # a place: a ticket cookie
        await tick(haven)  # the document changes once a tick
        ours = await first.get(STATE_PATH)
        theirs = await second.get(STATE_PATH, headers={"cookie": "haven_pass=forged; haven_session=x"})
    assert ours.status_code == theirs.status_code == 200
    assert ours.content == theirs.content
    for answer in (ours, theirs):
        assert "set-cookie" not in answer.headers
        assert answer.headers["cache-control"].startswith("public, max-age=1")
        assert answer.headers["content-type"] == "application/json"
    assert ours.headers["etag"] == theirs.headers["etag"]
    state = ours.json()
    assert (state["status"], state["mode"], state["queueing"]) == ("paused", "paused", True)
    assert (state["issued"], state["serving"], state["waiting"]) == (1, 0, 1)


async def test_a_revalidation_gets_a_304_until_the_tick_changes_the_document(haven: Haven) -> None:
    shield = haven.shield
    assert shield is not None
    async with browser(haven) as client:
        first = await client.get(STATE_PATH)
        again = await client.get(STATE_PATH, headers={"if-none-match": first.headers["etag"]})
        assert again.status_code == 304
        await steer(haven, action="pause")
        await tick(haven)
        changed = await client.get(STATE_PATH, headers={"if-none-match": first.headers["etag"]})
    assert changed.status_code == 200
    assert changed.json()["status"] == "paused"


async def test_the_document_is_the_rooms_reading_and_its_wait_rule(haven: Haven) -> None:
    shield = haven.shield
    assert shield is not None
    room = shield.room
    await steer(haven, action="rate", rate=4)
    async with browser(haven) as client:
        for _ in range(20):
            await client.get(SIGN_UP, headers={"cookie": ""})
        await room.tick()
        public = room.public
        document = json.loads(public.body())
    assert document["speed"] == 4.0  # the operator's fixed rate
    assert document["speed_low"] < 4.0 < document["speed_high"]
    ahead = document["issued"] - document["serving"]
    low, high = public.wait_range(ahead)
    assert (low, high) == wait_range(ahead, public.speed_low, public.speed_high, 1.0)
    assert low == pytest.approx(ahead / document["speed_high"], rel=1e-3)
    assert high == pytest.approx(ahead / document["speed_low"] + 1.0, rel=1e-3)


async def test_the_state_is_served_before_the_shield_as_a_finished_page(haven: Haven) -> None:
    """Published into the finished pages at every tick: a poll costs the origin a lookup."""
    shield = haven.shield
    assert shield is not None
    assert haven.responses[STATE_PATH] is shield.room.public.response
    await tick(haven)
    assert haven.responses[STATE_PATH] is shield.room.public.response
