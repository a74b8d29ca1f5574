"""The shield in front of the dynamic routes: passes, tickets, the waiting page and its status, the
operators' API, rate limits and forged cookies. (The stub application stands in for the portal.)"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from haven.app import Haven
from haven.shield.admission import HASH_RETRY
from haven.shield.limiter import Limiter
from haven.shield.tokens import Pass, Signer, Ticket
from haven.web.asgi import Receive, Scope, Send
from haven.web.cookies import HOLDER_COOKIE
from haven.web.security import sign
from tests.conftest import TEST_SECRET
from tests.html import elements
from tests.shield.gate_kit import admin_headers, browser, gated, position_in, steer, stub, until

SIGN_UP = "/en/account/sign-up"


@pytest.fixture
def haven(app: Haven, tmp_path: Path) -> Haven:
    return gated(app, tmp_path / "var")


async def queueing(haven: Haven) -> None:
    """Everyone new waits (the operators paused the outflow)."""
    await steer(haven, action="pause")


async def test_an_idle_room_lets_visitors_straight_in_with_a_pass(haven: Haven) -> None:
    async with browser(haven) as client:
        answer = await client.get(SIGN_UP)
        assert answer.status_code == 200
        assert answer.json() == {"served": SIGN_UP, "method": "GET"}
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith("haven_pass=")
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
        assert "Secure" not in cookie  # plain http here; behind TLS it is Secure
        again = await client.get(SIGN_UP)
        assert again.status_code == 200
        assert "set-cookie" not in again.headers  # the pass is renewed by activity, not every time


async def test_a_new_visitor_waits_while_the_room_queues(haven: Haven) -> None:
    await queueing(haven)
    async with browser(haven) as client:
        answer = await client.get(SIGN_UP)
    assert answer.status_code == 503
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["x-robots-tag"] == "noindex"
    assert int(answer.headers["retry-after"]) >= 1
    assert answer.headers["set-cookie"].startswith("haven_ticket=")
    html = answer.text
    assert '<html lang="en">' in html
    assert "You are in the queue for Haven" in html
    assert 'role="status"' in html
    assert position_in(html) == 1
    assert 'action="/en/waiting-room"' in html  # "Check your place" works without JavaScript
    assert f'name="next" value="{SIGN_UP}"' in html
    assert "What happens to your answers" in html


async def test_people_already_in_are_never_sent_back_to_the_queue(haven: Haven) -> None:
    async with browser(haven) as applicant:
        assert (await applicant.get(SIGN_UP)).status_code == 200
        await queueing(haven)
        assert (await applicant.get("/en/account/profiles")).status_code == 200
        submitted = await applicant.post("/en/account/profiles/x/submit", data={"a": "b"})
        assert submitted.status_code == 200
    async with browser(haven) as newcomer:
        assert (await newcomer.get(SIGN_UP)).status_code == 503


async def test_refreshing_new_tabs_and_the_other_language_keep_the_place(haven: Haven) -> None:
    await queueing(haven)
    async with browser(haven) as first, browser(haven) as second:
        await first.get(SIGN_UP)
        await second.get(SIGN_UP)
        assert position_in((await second.get(SIGN_UP)).text) == 2  # refresh
        assert position_in((await second.get("/en/waiting-room")).text) == 2  # the button
        french = await second.get("/fr/salle-d-attente")
        assert '<html lang="fr">' in french.text
        assert "Votre place dans la file\u00a0: 2" in french.text
        bilingual = await second.get("/waiting-room")
        assert 'lang="fr"' in bilingual.text
        assert "Your place in the queue: 2" in bilingual.text
    state = await steer(haven, action="pause")
    assert state["issued"] == 2


async def test_a_signed_in_account_holds_one_place_on_any_device(haven: Haven) -> None:
    await queueing(haven)
    holder = sign("1234", TEST_SECRET, HOLDER_COOKIE)
    async with browser(haven) as someone_else:
        await someone_else.get(SIGN_UP)
    async with browser(haven) as laptop, browser(haven) as phone:
        laptop.cookies.set(HOLDER_COOKIE, holder)
        phone.cookies.set(HOLDER_COOKIE, holder)
        assert position_in((await laptop.get(SIGN_UP)).text) == 2
        assert position_in((await phone.get(SIGN_UP)).text) == 2
    async with browser(haven) as borrowed:  # a holder cookie that is not ours holds no place
        borrowed.cookies.set(HOLDER_COOKIE, "1234.forged")
        assert position_in((await borrowed.get(SIGN_UP)).text) == 3


async def test_when_the_turn_comes_the_ticket_becomes_a_pass(haven: Haven) -> None:
    await queueing(haven)
    async with browser(haven) as client:
        await client.get(SIGN_UP)
        status = (await client.get("/api/v1/waiting-room")).json()
        assert status["state"] == "waiting"
        assert status["position"] == 1
        room = haven.shield.room  # type: ignore[union-attr]
        await room.store.advance(room.name, 1, room.now())  # the line moves on
        await room.tick()
        status = (await client.get("/api/v1/waiting-room")).json()
        assert status["state"] == "your-turn"
        answer = await client.get(SIGN_UP)
        assert answer.status_code == 200
        assert "haven_pass" in client.cookies
        assert "haven_ticket" not in client.cookies  # cleared
        turn = await client.get("/en/waiting-room?next=/en/account")
        assert turn.status_code == 200
        assert "There is no queue right now" in turn.text  # in, with a pass: nothing to wait for
        assert elements(turn.text, "a", class_="button")[0]["href"] == "/en/account"


async def test_a_turn_claimed_on_a_request_the_limiter_sheds_still_gives_the_pass(
    app: Haven, tmp_path: Path
) -> None:
    """The claim spends the ticket; the 503 that follows must carry the pass, or the visitor, told
    it is their turn, could never get in."""
    clock = [0.0]
    lagging = Limiter(now=lambda: clock[0])
    haven = gated(app, tmp_path / "var", limiter=lagging)
    await queueing(haven)
    async with browser(haven) as client:
        await client.get(SIGN_UP)
        room = haven.shield.room  # type: ignore[union-attr]
        await room.store.advance(room.name, 1, room.now())
        await room.tick()
        lagging.note_loop_lag(0.5)  # the worker's loop is late twice: it sheds pages at once
        lagging.note_loop_lag(0.5)
        busy = await client.get(SIGN_UP)
        assert busy.status_code == 503
        assert "retry-after" in busy.headers
        assert "haven_pass" in client.cookies
        assert "haven_ticket" not in client.cookies
        clock[0] = 10.0  # the lag is over
        lagging.note_loop_lag(0.001)
        answer = await client.get(SIGN_UP)
        assert answer.status_code == 200  # in, with the pass from the busy answer


async def test_password_hashes_wait_in_a_lane_of_their_own_and_pages_go_past(
    app: Haven, tmp_path: Path
) -> None:
    """Two sign-ins hash at once per worker; a third waits a moment, then is told to come back,
    while pages (and other forms) go past them all the time."""
    hashing = asyncio.Event()

    async def slow_hashes(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "POST" and scope["path"] == SIGN_UP:
            await hashing.wait()  # the hash that takes its time
        await stub(scope, receive, send)

    haven = gated(app, tmp_path / "var", behind=slow_hashes, hash_wait=0.05)
    lane = haven.shield.lane  # type: ignore[union-attr]
    async with browser(haven) as client:
        await client.get(SIGN_UP)  # a pass
        first = asyncio.create_task(client.post(SIGN_UP, data={}))
        second = asyncio.create_task(client.post(SIGN_UP, data={}))
        await until(lambda: lane.busy == 2 or first.done() or second.done())
        assert lane.busy == 2  # both hashes under way, neither sign-in over
        assert haven.shield.limiter.in_flight == 0  # type: ignore[union-attr]  # the lane is their limit
        assert haven.shield.limiter.pressure() == 0.0  # type: ignore[union-attr]
        third = await client.post(SIGN_UP, data={})
        assert third.status_code == 503
        assert third.headers["retry-after"] == str(HASH_RETRY)
        assert haven.shield.limiter.pressure() > 0.0  # type: ignore[union-attr]  # the room feels it
        page = await client.get("/en/account")
        assert page.status_code == 200  # pages are not held behind the hashes
        hashing.set()
        assert (await first).status_code == 200
        assert (await second).status_code == 200
    assert haven.shield.lane.sheds == 1  # type: ignore[union-attr]


async def test_the_status_is_json_with_words_in_both_languages(haven: Haven) -> None:
    await queueing(haven)
    async with browser(haven) as client:
        await client.get("/fr/compte/inscription")
        answer = await client.get("/api/v1/waiting-room")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["cache-control"] == "no-store"
    status = answer.json()
    assert status["state"] == "waiting"
    assert status["position"] == 1
    assert status["eta_seconds"] is None  # paused: no estimate rather than a wrong one
    assert 24 <= status["check_again_seconds"] <= 36  # the line is not moving: no need to ask often
    assert status["text"]["en"]["summary"].startswith("Your place in the queue: 1.")
    assert status["text"]["fr"]["summary"].startswith("Votre place dans la file\u00a0: 1.")


async def test_forged_altered_expired_and_foreign_cookies_are_refused_and_counted(
    haven: Haven, app: Haven
) -> None:
    await queueing(haven)
    signer = Signer([TEST_SECRET])
    now = haven.shield.room.now()  # type: ignore[union-attr]
    forged_pass = Signer(["x" * 40]).pass_(Pass("main", "me", now, now + 600))
    expired_pass = signer.pass_(Pass("main", "me", now - 700, now - 100))
    foreign_pass = signer.pass_(Pass("other-room", "me", now, now + 600))
    good_ticket = signer.ticket(Ticket("main", 1, now, 0))
    altered_ticket = good_ticket.replace(".1.", ".0.", 1)
    for name, value in [
        ("haven_pass", forged_pass),
        ("haven_pass", expired_pass),
        ("haven_pass", foreign_pass),
        ("haven_ticket", altered_ticket),
    ]:
        async with browser(haven) as client:
            client.cookies.set(name, value)
            answer = await client.get(SIGN_UP)
            assert answer.status_code == 503, name  # nobody gets in on a pass we did not mint
            assert "haven_ticket=" in answer.headers["set-cookie"]  # a real place instead
    refused = haven.shield.refused  # type: ignore[union-attr]
    assert refused == {
        ("haven_pass", "forged"): 1,
        ("haven_pass", "expired"): 1,
        ("haven_pass", "foreign"): 1,
        ("haven_ticket", "forged"): 1,
    }
    metrics = haven.metrics.render().decode()
    worker = os.getpid()
    assert (
        f'haven_shield_refused_cookies_total{{cookie="haven_pass",reason="forged",worker="{worker}"}} 1.0'
        in metrics
    )


async def test_the_anonymous_api_is_not_queued(haven: Haven) -> None:
    await queueing(haven)
    async with browser(haven) as client:
        answer = await client.post("/api/v1/crs", json={})
    assert answer.status_code == 200
    assert "set-cookie" not in answer.headers


async def test_one_client_sending_too_much_gets_429_with_retry_after(app: Haven, tmp_path: Path) -> None:
    haven = gated(app, tmp_path / "var", HAVEN_RATE_PER_ADDRESS="5")
    async with browser(haven) as client:
        statuses = [(await client.post("/api/v1/crs", json={})).status_code for _ in range(7)]
        refused = await client.post("/api/v1/crs", json={})
    assert statuses[:5] == [200] * 5
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert "Retry-After" in refused.json()["error"]["message"]
    async with browser(haven, "198.51.100.99") as neighbour:  # another address is not affected
        assert (await neighbour.post("/api/v1/crs", json={})).status_code == 200


async def test_operators_need_the_token(haven: Haven) -> None:
    async with browser(haven) as client:
        assert (await client.get("/admin/api/room")).status_code == 401
        wrong = await client.get("/admin/api/room", headers={"Authorization": "Bearer " + "w" * 40})
        assert wrong.status_code == 401
        assert wrong.headers["www-authenticate"].startswith("Bearer")
        right = await client.get("/admin/api/room", headers=admin_headers(haven))
    assert right.status_code == 200
    assert right.json()["mode"] == "auto"
    assert right.json()["store"] == "memory"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "dance"}, "action"),
        ({"action": "rate"}, "rate"),
        ({"action": "rate", "rate": -1}, "rate"),
        ({"action": "rate", "rate": True}, "rate"),
        ({"action": "schedule", "start": "tomorrow"}, "start"),
        ({"action": "schedule", "start": "2026-11-03T21:00"}, "start"),  # no time zone
        ({"action": "schedule", "start": "2026-11-03T21:00-05:00", "seed": 5}, "seed"),
        ([1, 2], "body"),
    ],
)
async def test_a_bad_operator_request_names_its_field(haven: Haven, body: object, field: str) -> None:
    async with browser(haven) as client:
        answer = await client.post("/admin/api/room", json=body, headers=admin_headers(haven))
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", field]


async def test_operators_schedule_an_event_and_open_the_gates(haven: Haven) -> None:
    state = await steer(haven, action="schedule", start="2030-01-01T09:00-05:00", seed="published-later")
    assert state["mode"] == "event"
    assert state["event_seed"] is None  # not shown before the draw
    async with browser(haven) as client:
        before = await client.get(SIGN_UP)
        assert before.status_code == 503
        assert "09:00" in before.text
        assert (await client.get("/api/v1/waiting-room")).json()["state"] == "before-opening"
        state = await steer(haven, action="open")
        assert state["mode"] == "open"
        assert (await client.get(SIGN_UP)).status_code == 200


async def test_the_shield_reports_in_the_metrics(haven: Haven) -> None:
    async with browser(haven) as client:
        await client.get(SIGN_UP)
        metrics = (await client.get("/metrics")).text
    for name in (
        "haven_shield_queue_length",
        "haven_shield_serving_counter",
        "haven_shield_active_passes",
        "haven_shield_admission_rate",
        "haven_shield_eta_error_median",
        "haven_shield_limit",
        "haven_shield_in_flight",
        "haven_shield_store_degraded",
        "haven_shield_sheds_total",
    ):
        assert name in metrics, name


def test_several_workers_need_a_shared_room(tmp_path: Path) -> None:
    from haven.settings import SettingsError
    from tests.conftest import make_settings

    with pytest.raises(SettingsError, match="HAVEN_REDIS_URL"):
        make_settings(tmp_path, HAVEN_WORKERS="2")
    assert make_settings(tmp_path, HAVEN_WORKERS="2", HAVEN_SHIELD="false").workers == 2


async def test_the_waiting_page_answers_head_and_refuses_post(haven: Haven) -> None:
    async with browser(haven) as client:
        assert (await client.head("/en/waiting-room")).status_code == 200
        assert (await client.post("/en/waiting-room")).status_code == 405


@pytest.mark.parametrize(
    ("asked", "kept"),
    [
        ("/en/account", "/en/account"),  # a page of this site: kept
        ("//evil.example/x", ""),  # another site, to a browser
        ("/\\evil.example/x", ""),
        ("https://evil.example/x", ""),
        ("/en/account\r\nLocation: x", ""),
    ],
)
async def test_next_never_leads_off_site(haven: Haven, asked: str, kept: str) -> None:
    """Where the waiting page goes on to, and what its "Check your place" button carries along."""
    await queueing(haven)
    async with browser(haven) as client:
        waiting = (await client.get("/en/waiting-room", params={"next": asked})).text
        await steer(haven, action="open")
        turn = (await client.get("/en/waiting-room", params={"next": asked})).text
    carried = [field["value"] for field in elements(waiting, "input", name="next")]
    forms = elements(waiting, "form")
    # Each of the page's forms (check your place, email me) carries it along, or none when refused.
    assert carried == ([kept] * len(forms) if kept else [])
    assert elements(waiting, "div", role="status")[0]["data-continue"] == (kept or "/en/")
    assert elements(turn, "a", class_="button")[0]["href"] == (kept or "/en/")


async def test_odd_cookies_never_cause_a_server_error(haven: Haven) -> None:
    await queueing(haven)
    async with browser(haven) as client:
        raw = "haven_holder=x.\u00e9t\u00e9; haven_pass=..; haven_ticket=\u00ff".encode("latin-1")
        answer = await client.get(SIGN_UP, headers={b"cookie": raw})
    assert answer.status_code == 503  # a place, as for anyone without a valid cookie


async def test_a_look_at_the_waiting_page_takes_no_place(haven: Haven) -> None:
    await queueing(haven)
    async with browser(haven) as client:
        looked = await client.head("/en/waiting-room")
        assert looked.status_code == 503
        assert "haven_ticket" not in client.cookies
        assert int(looked.headers["content-length"]) > 0  # the length the GET would have
    state = await steer(haven, action="pause")
    assert state["issued"] == 0


async def test_a_copied_ticket_lets_in_one_person(haven: Haven) -> None:
    await queueing(haven)
    async with browser(haven) as owner:
        await owner.get(SIGN_UP)
        ticket = owner.cookies["haven_ticket"]
        room = haven.shield.room  # type: ignore[union-attr]
        await room.store.advance(room.name, 1, room.now())
        await room.tick()
        assert (await owner.get(SIGN_UP)).status_code == 200
    async with browser(haven) as copier:
        copier.cookies.set("haven_ticket", ticket)
        answer = await copier.get(SIGN_UP)
    assert answer.status_code == 200  # told it is their turn (the owner's turn)...
    assert "It is your turn" in answer.text
    assert "haven_pass" not in copier.cookies  # ...but no second pass comes with it
