"""The optional proof-of-work to join the queue: off by default; when on, no place without it, and a
solution buys one place."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from urllib.parse import quote

from haven.app import Haven
from haven.shield.tokens import Signer
from haven.shield.work import CHALLENGE_SECONDS, Work, leading_zero_bits, solve
from tests.shield.gate_kit import browser, gated, position_in, steer

SIGN_UP = "/en/account/sign-up"


def test_leading_zero_bits_are_counted_across_bytes() -> None:
    assert leading_zero_bits(b"\xff") == 0
    assert leading_zero_bits(b"\x01") == 7
    assert leading_zero_bits(b"\x00\x00\x10") == 19
    assert leading_zero_bits(b"\x00\x00") == 16


def test_a_solution_is_checked_once_and_only_while_fresh() -> None:
    clock = [1_800_000_000.0]
    work = Work(Signer(["k" * 40]), "main", 8, now=lambda: clock[0])
    answer = solve(work.challenge(), 8)
    assert work.check(answer)
    assert not work.check(answer)  # used
    challenge = work.challenge()
    answer = solve(challenge, 8)
    wrong = next(
        f"{challenge}:{n}"
        for n in range(1000)
        if leading_zero_bits(hashlib.sha256(f"{challenge}:{n}".encode()).digest()) < 8
    )
    assert not work.check(wrong)
    clock[0] += CHALLENGE_SECONDS + 1
    assert not work.check(answer)  # stale
    forged = solve(Work(Signer(["x" * 40]), "main", 8).challenge(), 8)
    assert not work.check(forged)
    other_room = solve(Work(Signer(["k" * 40]), "other", 8, now=lambda: clock[0]).challenge(), 8)
    assert not work.check(other_room)
    assert work.solved == 1


async def test_with_work_on_a_place_costs_a_solution(app: Haven, tmp_path: Path) -> None:
    haven = gated(app, tmp_path / "var", HAVEN_JOIN_WORK="8")
    await steer(haven, action="pause")
    async with browser(haven) as client:
        asked = await client.get(SIGN_UP)
        assert asked.status_code == 503
        assert "haven_ticket" not in client.cookies  # no place yet
        assert "Getting your place in the queue" in asked.text
        challenge = re.search(r'data-challenge="([^"]+)"', asked.text).group(1)  # type: ignore[union-attr]
        assert 'data-bits="8"' in asked.text
        answer = solve(challenge, 8)
        joined = await client.get(f"/en/waiting-room?next={SIGN_UP}&work={quote(answer)}")
        assert joined.status_code == 503
        assert position_in(joined.text) == 1
        assert "haven_ticket" in client.cookies
    async with browser(haven) as copycat:  # the same solution does not buy a second place
        again = await copycat.get(f"/en/waiting-room?work={quote(answer)}")
        assert "haven_ticket" not in copycat.cookies
        assert "Getting your place in the queue" in again.text


async def test_work_is_off_by_default(app: Haven, tmp_path: Path) -> None:
    haven = gated(app, tmp_path / "var")
    await steer(haven, action="pause")
    async with browser(haven) as client:
        assert position_in((await client.get(SIGN_UP)).text) == 1
