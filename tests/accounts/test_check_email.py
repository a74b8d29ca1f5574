"""The "check your email" page names the address the email went to: kept for it in a signed cookie
for 15 minutes (never in the page's address), after signing up, asking for a new password or for the
link again; without that cookie, or with one not ours, the page says it without the address."""

from __future__ import annotations

import re
from html import unescape

from haven.web.cookies import SENT_TO_COOKIE
from tests.accounts.factories import PASSWORD
from tests.visitor import Visitor

CHECK = "/en/account/check-your-email"


def words(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


async def test_after_signing_up_the_page_names_the_address(site: Visitor) -> None:
    sent = await site.submit("/en/account/sign-up", {"email": "Ada@Example.org", "password": PASSWORD})
    assert sent.headers["location"] == CHECK  # the address is not in the page's address
    cookie = next(v for k, v in sent.headers.multi_items() if k == "set-cookie" and SENT_TO_COOKIE in v)
    assert "Max-Age=900" in cookie
    assert "HttpOnly" in cookie
    page = await site.get(CHECK)
    assert "We have sent an email to ada@example.org with a link to confirm your address" in words(page.text)


async def test_a_reset_names_the_address_without_saying_whether_it_has_an_account(site: Visitor) -> None:
    await site.submit("/en/account/forgot-password", {"email": "nobody@example.org"})
    page = await site.get(CHECK + "?reset=1")
    assert "If an account uses nobody@example.org, we have sent it a link" in words(page.text)


async def test_in_french(site: Visitor) -> None:
    await site.submit("/fr/compte/inscription", {"email": "bea@example.org", "password": PASSWORD})
    page = await site.get("/fr/compte/verifiez-vos-courriels")
    assert "Nous avons envoyé à bea@example.org un courriel" in words(page.text)


async def test_without_the_cookie_or_with_a_forged_one_the_page_names_no_address(site: Visitor) -> None:
    generic = "We have sent you an email with a link to confirm your address"
    assert generic in words((await site.get(CHECK)).text)
    site.plant(SENT_TO_COOKIE, "ZXZlQGV4YW1wbGUub3Jn.forged")  # eve@example.org, not signed by Haven
    page = await site.get(CHECK)
    assert generic in words(page.text)
    assert "eve@example.org" not in page.text
