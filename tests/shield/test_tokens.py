"""Tickets and passes: only Haven can mint them, and a changed one is refused with its reason."""

from __future__ import annotations

import pytest

from haven.shield.tokens import Pass, Refused, Signer, Ticket

KEY = "k" * 40
OLD_KEY = "o" * 40
NOW = 1_800_000_000.0


def test_a_ticket_reads_back_as_issued() -> None:
    signer = Signer([KEY])
    ticket = Ticket("main", 42, NOW, 300)
    assert signer.read_ticket(signer.ticket(ticket), "main", NOW + 5, 3600) == ticket


def test_a_pass_reads_back_until_it_expires() -> None:
    signer = Signer([KEY])
    granted = Pass("main", "abc", NOW, NOW + 1800)
    token = signer.pass_(granted)
    assert signer.read_pass(token, "main", NOW + 1799) == granted
    with pytest.raises(Refused) as refused:
        signer.read_pass(token, "main", NOW + 1800)
    assert refused.value.reason == "expired"


def test_an_old_ticket_is_refused_as_expired() -> None:
    signer = Signer([KEY])
    token = signer.ticket(Ticket("main", 1, NOW, -1))
    with pytest.raises(Refused) as refused:
        signer.read_ticket(token, "main", NOW + 3601, 3600)
    assert refused.value.reason == "expired"


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.replace(".42.", ".1."),  # a better place
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # another signature
        lambda t: t.replace("t.main", "p.main", 1),  # a ticket passed off as a pass
    ],
)
def test_an_altered_ticket_is_refused(change: object) -> None:
    signer = Signer([KEY])
    token = signer.ticket(Ticket("main", 42, NOW, 10))
    altered = change(token)  # type: ignore[operator]
    assert altered != token
    with pytest.raises(Refused) as refused:
        signer.read_ticket(altered, "main", NOW, 3600)
    assert refused.value.reason == "forged"


def test_a_ticket_signed_with_another_key_is_forged() -> None:
    forged = Signer(["x" * 40]).ticket(Ticket("main", 1, NOW, 0))
    with pytest.raises(Refused) as refused:
        Signer([KEY]).read_ticket(forged, "main", NOW, 3600)
    assert refused.value.reason == "forged"


def test_a_ticket_of_another_room_is_foreign() -> None:
    signer = Signer([KEY])
    token = signer.ticket(Ticket("other", 1, NOW, 0))
    with pytest.raises(Refused) as refused:
        signer.read_ticket(token, "main", NOW, 3600)
    assert refused.value.reason == "foreign"


def test_a_pass_cannot_be_used_as_a_ticket_nor_the_other_way() -> None:
    signer = Signer([KEY])
    ticket = signer.ticket(Ticket("main", 1, NOW, 0))
    granted = signer.pass_(Pass("main", "id", NOW, NOW + 60))
    with pytest.raises(Refused) as as_pass:
        signer.read_pass(ticket, "main", NOW)
    with pytest.raises(Refused) as as_ticket:
        signer.read_ticket(granted, "main", NOW, 3600)
    assert as_pass.value.reason == as_ticket.value.reason == "foreign"


@pytest.mark.parametrize("garbage", ["", "x", "a.b.c", "t.main.1.2.3.kid.mac.extra", "é" * 10, "t." * 200])
def test_garbage_is_malformed(garbage: str) -> None:
    with pytest.raises(Refused) as refused:
        Signer([KEY]).read_ticket(garbage, "main", NOW, 3600)
    assert refused.value.reason == "malformed"


def test_keys_rotate_without_losing_places() -> None:
    before = Signer([OLD_KEY])
    token = before.ticket(Ticket("main", 7, NOW, 0))
    after = Signer([KEY, OLD_KEY])
    assert after.read_ticket(token, "main", NOW, 3600).number == 7
    fresh = after.ticket(Ticket("main", 8, NOW, 0))
    assert Signer([KEY]).read_ticket(fresh, "main", NOW, 3600).number == 8  # signed with the new key
    with pytest.raises(Refused):
        Signer([KEY]).read_ticket(token, "main", NOW, 3600)  # the old key retired: refused
