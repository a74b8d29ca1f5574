"""The in-memory line across a restart: written at a clean shutdown, read back at start-up, and never
brought back after a crash.

The store's round trip runs with explicit times; the shield's in-process; and the real server is
stopped with SIGTERM (a clean shutdown) and with SIGKILL (a crash) between two starts.
"""

from __future__ import annotations

import json
import logging
import stat
from collections.abc import Awaitable, Callable
from dataclasses import fields
from pathlib import Path

import httpx
import pytest

from haven.app import Haven
from haven.shield.store import RoomState, Store
from haven.shield.store.memory import MemoryStore
from haven.shield.store.redis import RedisStore
from haven.shield.store.saved import FILE_NAME, VERSION, SavedRoom
from tests.server import free_port, kill, launch, migrate_for, stop
from tests.shield.gate_kit import browser, gated, position_in, steer, tick
from tests.shield.test_served import SIGN_UP, every_worker_says, fresh_visit, haven_room, place, poll

ROOM = "main"
T0 = 1_764_000_000.25  # a realistic wall-clock time, with a fraction
KEPT = 60.0  # a passed place may be claimed this long
HISTORY = 120.0  # the store remembers when places were passed for this long
NOW = T0 + 202  # when the line below is saved


async def busy_line() -> MemoryStore:
    """A store whose room has every field of its state away from a fresh room's, and a second room.

    Ten tickets (ada holds 3, bea 7); the counter passed 2 at T0 + 1 and 5 at T0 + 200; 4 was
    claimed; the first checkpoint is forgotten (1 and 2 lapsed); two passes; an event drawn with
    a fixed rate set beforehand and the safety net on."""
    store = MemoryStore()
    for number in range(1, 11):
        holder = {3: "ada", 7: "bea"}.get(number, "")
        assert await store.join(ROOM, holder, T0, KEPT) == number
    await store.advance(ROOM, 2, T0 + 1)
    await store.advance(ROOM, 3, T0 + 200)
    assert await store.claim(ROOM, 4, 4, T0 + 201, KEPT)
    assert await store.sweep(ROOM, T0 + 201, HISTORY) == 2
    await store.hold_pass(ROOM, "first", T0 + 3600)
    await store.hold_pass(ROOM, "second", T0 + 3700)
    await store.configure(
        ROOM, mode="event", rate=3.0, queueing=True, event_start=T0 + 150, event_seed="a seed"
    )
    assert await store.start_event(ROOM) == 10
    await store.join("other", "", T0, KEPT)
    return store


def restarted(store: MemoryStore, folder: Path, now: float = NOW) -> MemoryStore:
    """What a new process reads back after ``store`` was saved at a clean shutdown at ``now``."""
    assert SavedRoom(store, folder).save(now)
    again = MemoryStore()
    assert SavedRoom(again, folder).restore(now + 30)
    return again


def files_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


# The store's round trip --------------------------------------------------------------------------


async def test_every_field_of_the_room_comes_back_after_a_restart(tmp_path: Path) -> None:
    store = await busy_line()
    before = await store.state(ROOM, NOW)
    fresh = RoomState(issued=0, serving=0, waiting=0, passes=0, claimed=0, lapsed=0)
    unchanged = [f.name for f in fields(RoomState) if getattr(before, f.name) == getattr(fresh, f.name)]
    assert not unchanged, f"the line leaves these as in a fresh room, so they prove nothing: {unchanged}"
    again = restarted(store, tmp_path)
    assert await again.state(ROOM, NOW + 30) == before
    assert await again.state("other", NOW + 30) == await store.state("other", NOW + 30)
    for number in range(13):
        assert await again.passed_at(ROOM, number) == await store.passed_at(ROOM, number)


async def test_a_restored_line_goes_on_as_the_old_one_would(tmp_path: Path) -> None:
    store = await busy_line()
    again = restarted(store, tmp_path)
    later = NOW + 40
    steps: list[Callable[[Store], Awaitable[object]]] = [
        lambda s: s.claim(ROOM, 4, 4, later, KEPT),  # claimed before the restart: refused
        lambda s: s.claim(ROOM, 5, 5, later, KEPT),  # passed, not claimed: once
        lambda s: s.claim(ROOM, 5, 5, later, KEPT),
        lambda s: s.claim(ROOM, 2, 2, later, KEPT),  # lapsed before the restart
        lambda s: s.join(ROOM, "ada", later, KEPT),  # passed, within its time: the same number
        lambda s: s.join(ROOM, "bea", later, KEPT),  # still waiting: the same number
        lambda s: s.join(ROOM, "", later, KEPT),  # a newcomer: after everyone
        lambda s: s.state(ROOM, later),
        lambda s: s.advance(ROOM, 3, later),
        lambda s: s.sweep(ROOM, T0 + 3650, HISTORY),  # one pass expired, the checkpoints forgotten
        lambda s: s.state(ROOM, T0 + 3650),
        lambda s: s.join(ROOM, "ada", T0 + 3650, KEPT),  # her place lapsed: a new number
    ]
    for step in steps:
        assert await step(again) == await step(store)
    state = await again.state(ROOM, T0 + 3650)
    assert (state.passes, state.claimed, state.expired) == (1, 2, 8)


async def test_a_fixed_rate_starts_its_clock_again_after_a_restart(tmp_path: Path) -> None:
    store = MemoryStore()
    for _ in range(100):
        await store.join(ROOM, "", T0, KEPT)
    await store.advance_clocked(ROOM, 10.0, T0)  # starts the clock
    assert await store.advance_clocked(ROOM, 10.0, T0 + 1) == 10
    again = restarted(store, tmp_path, T0 + 1)
    # Five seconds down are five seconds without an advance, not fifty people let in at once.
    assert await again.advance_clocked(ROOM, 10.0, T0 + 6) == 10
    assert await again.advance_clocked(ROOM, 10.0, T0 + 7) == 20


# The file -----------------------------------------------------------------------------------------


async def test_the_saved_line_is_one_private_versioned_file(tmp_path: Path) -> None:
    store = await busy_line()
    assert SavedRoom(store, tmp_path).save(NOW)
    assert files_in(tmp_path) == [FILE_NAME]  # no draft left beside it
    saved = tmp_path / FILE_NAME
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600  # it names accounts
    data = json.loads(saved.read_text())
    assert (data["version"], data["saved_at"], sorted(data["rooms"])) == (VERSION, NOW, ["main", "other"])
    assert SavedRoom(store, tmp_path).save(NOW + 1)  # replaced whole
    assert json.loads(saved.read_text())["saved_at"] == NOW + 1


async def test_a_line_read_back_is_deleted_so_that_a_crash_later_cannot_bring_it_back(
    tmp_path: Path,
) -> None:
    store = await busy_line()
    SavedRoom(store, tmp_path).save(NOW)
    assert SavedRoom(MemoryStore(), tmp_path).restore(NOW)
    assert not (tmp_path / FILE_NAME).exists()
    after_a_crash = MemoryStore()
    assert not SavedRoom(after_a_crash, tmp_path).restore(NOW + 600)
    assert (await after_a_crash.state(ROOM, NOW)).issued == 0


async def test_without_a_file_the_room_starts_empty(tmp_path: Path) -> None:
    store = MemoryStore()
    assert not SavedRoom(store, tmp_path).restore(NOW)
    assert (await store.state(ROOM, NOW)).issued == 0
    assert files_in(tmp_path) == []


def saved_with(
    top: dict[str, object] | None = None,
    room: dict[str, object] | None = None,
    state: dict[str, object] | None = None,
) -> bytes:
    """A saved file of one room (three tickets, one passed, paused), with changes to its ``top``
    level, to the ``room`` or to its ``state``."""
    fields: dict[str, object] = {
        "issued": 3, "serving": 1, "claimed": 0, "lapsed": 0, "mode": "paused", "rate": 0.0,
        "queueing": False, "event_start": 0.0, "event_seed": "", "prequeue": -1, "event_base": 0,
        "expired": 0,
    }  # fmt: skip
    line: dict[str, object] = {"checkpoints": [[1, T0]], "claims": [], "holders": [], "passes": []}
    line = {"state": fields | (state or {}), **line, **(room or {})}
    data = {"version": VERSION, "saved_at": T0, "rooms": {ROOM: line}, **(top or {})}
    return json.dumps(data).encode()


async def test_the_sample_file_is_read_back(tmp_path: Path) -> None:
    """The file the damaged ones below are made from reads back: each of them fails for its damage."""
    (tmp_path / FILE_NAME).write_bytes(saved_with())
    store = MemoryStore()
    assert SavedRoom(store, tmp_path).restore(T0)
    state = await store.state(ROOM, T0)
    assert (state.issued, state.serving, state.mode) == (3, 1, "paused")


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b'{"version": 1, "rooms": {', id="cut-short"),
        pytest.param(b"\xff\xfe\x00garbage", id="not-text"),
        pytest.param(b"[1, 2, 3]", id="not-an-object"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="nested-too-deep"),
        pytest.param(saved_with({"version": 2}), id="another-version"),
        pytest.param(saved_with({"version": None}), id="no-version"),
        pytest.param(saved_with({"version": True}), id="true-for-a-version"),
        pytest.param(saved_with({"saved_at": "yesterday"}), id="no-time"),
        pytest.param(saved_with({"rooms": []}), id="rooms-not-an-object"),
        pytest.param(saved_with(state={"serving": 4}), id="serving-past-issued"),
        pytest.param(saved_with(state={"issued": -3}), id="negative-count"),
        pytest.param(saved_with(state={"issued": True}), id="true-for-a-number"),
        pytest.param(saved_with(state={"mode": "closed"}), id="unknown-mode"),
        pytest.param(saved_with(state={"rate": "fast"}), id="text-for-a-rate"),
        pytest.param(saved_with(state={"queueing": 1}), id="number-for-a-flag"),
        pytest.param(saved_with(room={"checkpoints": [[1, T0], [1, T0 + 1]]}), id="checkpoints-out-of-order"),
        pytest.param(saved_with(room={"checkpoints": [[2, T0]]}), id="checkpoint-past-serving"),
        pytest.param(saved_with(room={"holders": [["ada", 3], ["bea", 2]]}), id="holders-out-of-order"),
        pytest.param(saved_with(room={"passes": [["p"]]}), id="half-a-pair"),
        pytest.param(saved_with(room={"claims": "1"}), id="claims-not-a-list"),
    ],
)
async def test_a_damaged_file_is_set_aside_and_the_room_starts_empty(
    content: bytes, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / FILE_NAME).write_bytes(content)
    store = MemoryStore()
    await store.join("running", "", T0, KEPT)  # nothing is replaced by half a file
    with caplog.at_level(logging.WARNING, logger="haven.shield"):
        assert not SavedRoom(store, tmp_path).restore(T0)
    assert "cannot be read back" in caplog.text
    assert not (tmp_path / FILE_NAME).exists()
    assert (tmp_path / f"{FILE_NAME}.bad").read_bytes() == content  # kept for a look
    assert (await store.state("running", T0)).issued == 1
    assert (await store.state(ROOM, T0)).issued == 0


async def test_a_line_that_cannot_be_written_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_folder = tmp_path / "var"
    not_a_folder.write_text("a file where the folder should be")
    with caplog.at_level(logging.ERROR, logger="haven.shield"):
        assert not SavedRoom(await busy_line(), not_a_folder).save(NOW)
    assert "cannot save the waiting room" in caplog.text


# The shield ----------------------------------------------------------------------------------------


async def test_the_shield_keeps_its_line_over_a_clean_restart(app: Haven, tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    first = gated(app, var_dir)
    assert first.shield is not None
    first.shield.start()
    await steer(first, action="pause")
    await tick(first)
    async with browser(first, "198.51.100.1") as ada, browser(first, "198.51.100.2") as bea:
        assert position_in((await ada.get(SIGN_UP)).text) == 1
        assert position_in((await bea.get(SIGN_UP)).text) == 2
        cookies = ada.cookies, bea.cookies
    await first.shield.stop()
    assert (var_dir / FILE_NAME).exists()

    second = gated(app, var_dir)
    shield = second.shield
    assert shield is not None
    shield.start()
    # Read back before the first tick, which then gives the worker the line it found.
    assert not (var_dir / FILE_NAME).exists()
    assert (await shield.room.shared.state(shield.room.name, shield.room.now())).issued == 2
    await tick(second)
    assert (shield.room.state.issued, shield.room.state.mode) == (2, "paused")
    for position, jar in enumerate(cookies, start=1):
        async with browser(second, f"198.51.100.{position}") as person:
            person.cookies = jar
            assert position_in((await person.get(SIGN_UP)).text) == position
    assert shield.room.state.issued == 2  # the same tickets, not new ones
    await shield.stop()


async def test_a_shared_room_s_local_stand_in_is_never_saved(app: Haven, tmp_path: Path) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    var_dir = tmp_path / "var"
    haven = gated(app, var_dir, store=RedisStore(nowhere, timeout=0.2))
    shield = haven.shield
    assert shield is not None
    shield.start()
    await tick(haven)
    assert shield.room.degraded
    await shield.room.local.configure(shield.room.name, mode="paused")
    await tick(haven)
    async with browser(haven) as newcomer:
        assert position_in((await newcomer.get(SIGN_UP)).text) == 1  # a place in the stand-in line
    await shield.stop()
    assert not (var_dir / FILE_NAME).exists()


# A real server ------------------------------------------------------------------------------------

ENV = {"HAVEN_LOG_LEVEL": "warning"}


@pytest.mark.server
def test_a_real_server_stopped_cleanly_keeps_its_line_and_everyone_s_place(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    migrate_for(var_dir, **ENV)
    server = launch(var_dir, free_port(), **ENV)
    try:
        haven_room(server, var_dir, "pause", **ENV)
        poll(lambda: every_worker_says(server, queueing=True), "the room never paused")
        early = [httpx.Cookies() for _ in range(3)]
        assert [place(fresh_visit(server, jar)) for jar in early] == [1, 2, 3]
        haven_room(server, var_dir, "rate", "20", **ENV)
        poll(lambda: haven_room(server, var_dir, "status", **ENV)["serving"] == 3, "the line never moved")
        haven_room(server, var_dir, "pause", **ENV)
        spent = early[0]["haven_ticket"]
        assert fresh_visit(server, early[0]).status_code == 200  # the first claims their turn
        assert "haven_pass" in early[0]
        late = [httpx.Cookies() for _ in range(2)]
        assert [place(fresh_visit(server, jar)) for jar in late] == [1, 2]  # tickets 4 and 5
        before = haven_room(server, var_dir, "status", **ENV)
    finally:
        stop(server.process)  # SIGTERM: Granian runs the app's shutdown, which saves the line
    saved = var_dir / FILE_NAME
    assert saved.exists(), server.log.read_text()
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600

    server = launch(var_dir, free_port(), **ENV)
    try:
        assert not saved.exists()  # read back and deleted before the server answered
        after = haven_room(server, var_dir, "status", **ENV)
        kept = ("mode", "issued", "serving", "waiting", "claimed", "lapsed")
        assert {key: after[key] for key in kept} == {key: before[key] for key in kept}
        assert (after["mode"], after["issued"], after["serving"]) == ("paused", 5, 3)
        assert [place(fresh_visit(server, jar)) for jar in late] == [1, 2]  # still where they were
        copy = httpx.Cookies()
        copy.set("haven_ticket", spent, domain="127.0.0.1")
        fresh_visit(server, copy)
        assert "haven_pass" not in copy  # a turn claimed before the restart is not claimed again
        assert fresh_visit(server, early[1]).status_code == 200  # reached before, claimed after
        assert "haven_pass" in early[1]
        assert fresh_visit(server, early[0]).status_code == 200  # people in stay in
        assert haven_room(server, var_dir, "status", **ENV)["issued"] == 5  # nobody joined again
        haven_room(server, var_dir, "rate", "20", **ENV)
        poll(lambda: fresh_visit(server, late[0]).status_code == 200, "the restored line never moved")
        assert "haven_pass" in late[0]
    finally:
        stop(server.process)


@pytest.mark.server
def test_a_real_server_killed_starts_with_an_empty_room(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    migrate_for(var_dir, **ENV)
    server = launch(var_dir, free_port(), **ENV)
    try:
        haven_room(server, var_dir, "pause", **ENV)
        poll(lambda: every_worker_says(server, queueing=True), "the room never paused")
        waiting = httpx.Cookies()
        assert place(fresh_visit(server, waiting)) == 1
    finally:
        kill(server.process)  # SIGKILL: no shutdown, nothing saved
    assert not (var_dir / FILE_NAME).exists()

    server = launch(var_dir, free_port(), **ENV)
    try:
        status = haven_room(server, var_dir, "status", **ENV)
        assert (status["mode"], status["issued"], status["serving"]) == ("auto", 0, 0)
        assert fresh_visit(server, waiting).status_code == 200  # no line: straight in
    finally:
        stop(server.process)
