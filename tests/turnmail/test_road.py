"""The email road end to end over HTTP: leave an address on the waiting page, the counter reaches
the number, the email is in the outbox, its link lets the person in once, and the address is gone."""

from __future__ import annotations

import asyncio
import re

import httpx
from sqlalchemy import func, select

from haven.mail.models import OutboxMessage
from haven.turnmail.models import TurnEmail
from tests.turnmail.conftest import Road, queueing
from tests.visitor import Visitor

GOING_TO = "/en/account/sign-up"
FORM = "/en/waiting-room/email"


async def wait_in_line(visitor: Visitor, page: str = f"/en/waiting-room?next={GOING_TO}") -> httpx.Response:
    answer = await visitor.get(page)
    assert answer.status_code == 503, answer.text[:300]
    assert "haven_ticket" in visitor.client.cookies
    return answer


async def leave(visitor: Visitor, email: str, path: str = FORM, next_: str = GOING_TO) -> httpx.Response:
    return await visitor.client.post(path, data={"email": email, "next": next_})


async def stored(road: Road) -> tuple[list[TurnEmail], list[OutboxMessage]]:
    async with road.haven.services.database.transaction() as session:
        rows = list((await session.scalars(select(TurnEmail))).all())
        outbox = list((await session.scalars(select(OutboxMessage))).all())
    return rows, outbox


async def test_an_address_left_while_waiting_brings_a_link_that_lets_the_person_in_once(
    road: Road, person: Visitor
) -> None:
    await queueing(road)
    await wait_in_line(person)
    kept = await leave(person, "ana@example.org")
    assert kept.status_code == 200, kept.text[:500]
    assert "We will email you at ana@example.org when it is your turn." in kept.text
    assert "You can close this page." in kept.text
    assert kept.headers["cache-control"] == "private, no-store"
    assert await person.mails() == []  # not yet: the counter has not reached the number

    await road.turn()
    mails = await person.mails()
    assert len(mails) == 1
    assert "To: ana@example.org" in mails[0]
    assert "Subject: It is your turn in the queue for Haven" in mails[0]
    assert "within 15 minutes" in mails[0]

    link = await person.link_in_last_mail()
    assert link.startswith("/en/waiting-room/your-turn?token=")
    person.client.cookies.clear()  # the link is opened in the mail app's browser: no ticket there
    page = await person.get(link)
    assert page.status_code == 200
    token = re.search(r'name="token" value="([^"]+)"', page.text)
    assert token is not None
    again = await person.get(link)
    assert again.status_code == 200  # looking at the page does not spend the link

    entered = await person.client.post("/en/waiting-room/your-turn", data={"token": token.group(1)})
    assert entered.status_code == 303
    assert entered.headers["location"] == GOING_TO
    assert "haven_pass" in person.client.cookies
    inside = await person.get(GOING_TO)
    assert inside.status_code == 200
    assert "Create your Haven account" in inside.text  # the page itself, not the waiting room

    person.client.cookies.clear()
    second = await person.client.post("/en/waiting-room/your-turn", data={"token": token.group(1)})
    assert second.status_code == 409
    assert "This link has already been used" in second.text
    assert "haven_pass" not in person.client.cookies
    assert (await person.get(link)).status_code == 409

    rows, outbox = await stored(road)
    assert [row.email for row in rows] == [None]
    assert all(message.recipient != "ana@example.org" for message in outbox)
    assert [(message.recipient, message.body) for message in outbox] == [("(erased)", "")]


async def test_one_email_per_ticket_and_a_second_address_replaces_the_first(
    road: Road, person: Visitor
) -> None:
    await queueing(road)
    await wait_in_line(person)
    assert (await leave(person, "typo@exmaple.org")).status_code == 200
    assert (await leave(person, "fixed@example.org")).status_code == 200
    form = await person.get(FORM)
    assert "We will email you at fixed@example.org when it is your turn." in form.text
    await road.turn()
    await road.turn()  # a second tick sends nothing more
    mails = await person.mails()
    assert len(mails) == 1
    assert "To: fixed@example.org" in mails[0]
    late = await leave(person, "other@example.org")
    assert late.status_code == 200
    assert "It is your turn" in late.text  # no new address once the turn has come


async def test_an_expired_link_says_so_and_offers_to_join_again(road: Road, person: Visitor) -> None:
    await queueing(road)
    await wait_in_line(person)
    await leave(person, "late@example.org")
    await road.turn()
    link = await person.link_in_last_mail()
    road.later(15 * 60 + 1)
    page = await person.get(link)
    assert page.status_code == 410
    assert "This link has expired" in page.text
    assert f'href="/en/waiting-room?next={GOING_TO}"' in page.text
    token = link.split("token=", 1)[1]
    refused = await person.client.post("/en/waiting-room/your-turn", data={"token": token})
    assert refused.status_code == 410
    assert "haven_pass" not in person.client.cookies


async def test_an_altered_link_is_refused_without_a_server_error(road: Road, person: Visitor) -> None:
    for token in ("", "x", "1.2.forged", "9" * 400, "\u00e9t\u00e9"):
        page = await person.client.get("/en/waiting-room/your-turn", params={"token": token})
        assert page.status_code == 400
        assert "This link does not work" in page.text
        posted = await person.client.post("/en/waiting-room/your-turn", data={"token": token})
        assert posted.status_code == 400


async def test_a_bad_address_gets_a_message_at_the_field(road: Road, person: Visitor) -> None:
    await queueing(road)
    await wait_in_line(person)
    for typed, message in (
        ("", "Enter your email address"),
        ("not an address", "Enter an email address in the correct format, like name@example.com"),
        ("a@" + "b" * 300 + ".org", "Enter an email address in the correct format, like name@example.com"),
    ):
        answer = await leave(person, typed)
        assert answer.status_code == 422
        assert "<title>Error:" in answer.text
        assert 'href="#email"' in answer.text  # the summary links to the field
        assert (
            f'id="email-error" class="error-message"><span class="visually-hidden">Error:</span> {message}'
            in answer.text
        )
        assert f'value="{typed[:320]}"' in answer.text  # what was typed is kept
    rows, _ = await stored(road)
    assert rows == []


async def test_without_a_place_there_is_nothing_to_email_about(road: Road, person: Visitor) -> None:
    await queueing(road)
    answer = await leave(person, "nobody@example.org")  # a post from elsewhere arrives without the cookie
    assert answer.status_code == 400
    assert "You do not have a place in the queue" in answer.text
    assert (
        await person.client.post(FORM, content=b"\xff", headers={"content-type": "text/plain"})
    ).status_code == 400
    assert (await person.client.put(FORM)).status_code == 405
    rows, _ = await stored(road)
    assert rows == []


async def test_an_address_may_be_given_only_a_few_times_an_hour(road: Road, person: Visitor) -> None:
    await queueing(road)
    per_address = road.haven.settings.turn_mails_per_address
    assert per_address == 3  # the default
    for n in range(per_address + 1):
        async with Visitor.of(road.haven, person.mail_dir, address=f"198.51.100.{n + 1}") as someone:
            await wait_in_line(someone)
            answer = await leave(someone, "Target@Example.org" if n % 2 else "target@example.org")
        if n < per_address:
            assert answer.status_code == 200
    assert answer.status_code == 429
    assert "This address was given too many times in the last hour" in answer.text
    assert 'href="#email"' in answer.text
    road.later(3601)
    async with Visitor.of(road.haven, person.mail_dir, address="198.51.100.99") as someone:
        await wait_in_line(someone)
        assert (await leave(someone, "target@example.org")).status_code == 200  # an hour on


async def test_one_client_may_leave_only_a_handful_of_addresses_an_hour(road: Road, person: Visitor) -> None:
    await queueing(road)
    per_client = road.haven.settings.turn_mails_per_client
    assert per_client == 10  # the default
    for n in range(per_client + 1):
        async with Visitor.of(road.haven, person.mail_dir, address="203.0.113.50") as someone:
            await wait_in_line(someone)
            answer = await leave(someone, f"person{n}@example.org")
        if n < per_client:
            assert answer.status_code == 200
    assert answer.status_code == 429
    assert "Too many addresses were left from your connection" in answer.text
    rows, _ = await stored(road)
    assert len(rows) == per_client
    assert {row.client_key for row in rows} != {"203.0.113.50"}  # kept as a keyed hash only


async def test_a_signed_in_person_is_emailed_at_their_account_address(road: Road, person: Visitor) -> None:
    await person.sign_up_and_in("member@example.org")
    before = len(await person.mails())
    for cookie in [c for c in person.client.cookies.jar if c.name == "haven_pass"]:
        person.client.cookies.jar.clear(cookie.domain, cookie.path, cookie.name)  # it expired
    await queueing(road)
    await wait_in_line(person)
    form = await person.get(f"{FORM}?next={GOING_TO}")
    assert form.status_code == 200
    assert "We will use the address of your Haven account: member@example.org." in form.text
    assert 'name="email"' not in form.text
    kept = await leave(person, "someone.else@example.org")  # the account's address, whatever is typed
    assert kept.status_code == 200
    assert "We will email you at member@example.org when it is your turn." in kept.text
    await road.turn()
    mails = (await person.mails())[before:]
    assert len(mails) == 1
    assert "To: member@example.org" in mails[0]


async def test_the_road_in_french(road: Road, person: Visitor) -> None:
    await queueing(road)
    await wait_in_line(person, "/fr/salle-d-attente?next=/fr/compte/inscription")
    bad = await leave(person, "pas une adresse", "/fr/salle-d-attente/courriel", "/fr/compte/inscription")
    assert bad.status_code == 422
    assert "<title>Erreur" in bad.text
    kept = await leave(person, "zoe@example.org", "/fr/salle-d-attente/courriel", "/fr/compte/inscription")
    assert kept.status_code == 200
    assert '<html lang="fr">' in kept.text
    assert "zoe@example.org" in kept.text
    await road.turn()
    mails = await person.mails()
    assert len(mails) == 1
    assert "Subject: C’est votre tour dans la file d’attente de Haven" in mails[0]
    link = await person.link_in_last_mail()
    assert link.startswith("/fr/salle-d-attente/votre-tour?token=")
    token = link.split("token=", 1)[1]
    entered = await person.client.post("/fr/salle-d-attente/votre-tour", data={"token": token})
    assert entered.status_code == 303
    assert entered.headers["location"] == "/fr/compte/inscription"
    again = await person.client.post("/fr/salle-d-attente/votre-tour", data={"token": token})
    assert again.status_code == 409
    assert "Ce lien a déjà été utilisé" in again.text


async def test_each_email_is_sent_by_one_worker_only(road: Road, person: Visitor) -> None:
    await queueing(road)
    await wait_in_line(person)
    await leave(person, "once@example.org")
    room = road.shield.room
    await room.store.advance(room.name, 1, room.now())
    await room.tick()
    services = road.haven.services
    sent = [road.turnmail.send_due(services, room.state.serving, room.now()) for _ in range(4)]
    assert sum(await asyncio.gather(*sent)) == 1
    async with services.database.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


async def test_the_waiting_page_offers_the_form_in_each_language(road: Road, person: Visitor) -> None:
    await queueing(road)
    english = await wait_in_line(person)
    assert 'action="/en/waiting-room/email"' in english.text
    assert f'name="next" value="{GOING_TO}"' in english.text
    french = await person.get("/fr/salle-d-attente")
    assert 'action="/fr/salle-d-attente/courriel"' in french.text
    bilingual = await person.get("/waiting-room")
    assert 'id="email-en"' in bilingual.text
    assert 'id="email-fr"' in bilingual.text
