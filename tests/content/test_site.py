"""The public site over HTTP, in-process: every page, both languages, and how it is cached."""

from __future__ import annotations

import gzip
import xml.etree.ElementTree as ET

import httpx
import pytest

from haven.accounts.paths import PATHS as ACCOUNT_PATHS
from haven.app import Haven
from haven.content.pages import Page, load_library
from haven.feedback.paths import PATHS as FEEDBACK_PATHS
from haven.web.pagecache import PUBLIC_PAGE
from tests.html import elements, hrefs

LIBRARY = load_library()
PAGES = [page for lang in ("en", "fr") for page in LIBRARY.in_language(lang)]
OTHER = {"en": "fr", "fr": "en"}


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.path)
async def test_every_page_answers_in_its_language_with_a_toggle_to_its_translation(
    client: httpx.AsyncClient, page: Page
) -> None:
    response = await client.get(page.path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html = response.text
    assert elements(html, "html")[0]["lang"] == page.lang
    translation = LIBRARY.translation(page)
    toggle = elements(html, "a", hreflang=OTHER[page.lang])
    assert [link["href"] for link in toggle] == [translation.path]
    assert toggle[0]["lang"] == OTHER[page.lang]
    assert f"<h1>{page.title}</h1>" in html.replace("&#39;", "'")
    alternates = {link["hreflang"]: link["href"] for link in elements(html, "link", rel="alternate")}
    assert alternates[OTHER[page.lang]].endswith(translation.path)


async def test_public_pages_are_cacheable_compressed_and_cookie_free(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/en/immigrate", headers={"accept-encoding": "gzip"})
    assert response.headers["cache-control"] == PUBLIC_PAGE
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["etag"].startswith('"')
    assert response.headers["etag"].endswith('-gz"')
    assert "set-cookie" not in response.headers
    plain = await client.get("/en/immigrate", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.headers["etag"] != response.headers["etag"]
    assert response.text == plain.text  # httpx decoded the gzip body: the same page


async def test_gzip_is_not_sent_to_a_client_that_refuses_it(client: httpx.AsyncClient) -> None:
    for value in ("gzip;q=0", "br", "gzip;q=0, *", "*;q=0", "gzip;q=zero"):
        response = await client.get("/en/study", headers={"accept-encoding": value})
        assert "content-encoding" not in response.headers, value
    for value in ("gzip, deflate, br, zstd", "*", "br;q=1.0, gzip;q=0.8", "GZIP"):
        response = await client.get("/en/study", headers={"accept-encoding": value})
        assert response.headers.get("content-encoding") == "gzip", value


async def test_if_none_match_gets_304_with_validators_and_no_body(
    client: httpx.AsyncClient,
) -> None:
    first = await client.get("/fr/etudier", headers={"accept-encoding": "identity"})
    etag = first.headers["etag"]
    for value in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = await client.get(
            "/fr/etudier", headers={"if-none-match": value, "accept-encoding": "identity"}
        )
        assert again.status_code == 304, value
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["cache-control"] == PUBLIC_PAGE
    stale = await client.get("/fr/etudier", headers={"if-none-match": '"stale"'})
    assert stale.status_code == 200


async def test_head_sends_the_headers_of_get_without_the_body(client: httpx.AsyncClient) -> None:
    get = await client.get("/en/work", headers={"accept-encoding": "gzip"})
    head = await client.head("/en/work", headers={"accept-encoding": "gzip"})
    assert head.status_code == 200
    assert head.content == b""
    for name in ("content-length", "etag", "cache-control", "content-type", "content-encoding"):
        assert head.headers[name] == get.headers[name]


async def test_other_methods_on_a_page_get_405_with_allow(client: httpx.AsyncClient) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND"):
        response = await client.request(method, "/en/visit")
        assert response.status_code == 405, method
        assert response.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    "path", ["/en/nowhere", "/fr/nulle-part", "/nowhere", "/en/immigrate/express-entry/x", "/%00"]
)
async def test_unknown_paths_get_the_bilingual_404_page(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    html = response.text
    assert elements(html, "html")[0]["lang"] == "en"
    assert elements(html, "section", lang="fr")
    assert "Page not found" in html
    assert "Nous ne pouvons trouver cette page" in html
    assert elements(html, "meta", name="robots")[0]["content"] == "noindex"
    assert "etag" not in response.headers


async def test_a_post_to_an_unknown_path_gets_the_404_page_too(client: httpx.AsyncClient) -> None:
    response = await client.post("/en/nowhere", content=b"x=1")
    assert response.status_code == 404
    assert "Page not found" in response.text


async def test_the_root_is_a_bilingual_page_english_left_french_right(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    html = response.text
    sections = elements(html, "section")
    assert [section["lang"] for section in sections] == ["en", "fr"]
    assert {"/en/", "/fr/"} <= set(hrefs(html))
    assert response.headers["cache-control"] == PUBLIC_PAGE


async def test_language_roots_and_trailing_slashes_redirect_to_the_canonical_address(
    client: httpx.AsyncClient,
) -> None:
    for path, target in (("/en", "/en/"), ("/fr", "/fr/"), ("/en/immigrate/", "/en/immigrate")):
        response = await client.get(path)
        assert response.status_code == 301
        assert response.headers["location"] == target


async def test_assets_have_hashed_names_and_are_immutable(client: httpx.AsyncClient, app: Haven) -> None:
    page = (await client.get("/en/")).text
    stylesheet = elements(page, "link", rel="stylesheet")[0]["href"]
    script = elements(page, "script")[0]["src"]
    for url in (stylesheet, script):
        assert url.startswith("/static/")
        assert len(url.split(".")) == 3  # name.hash.ext
        response = await client.get(url, headers={"accept-encoding": "gzip"})
        assert response.status_code == 200
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["content-encoding"] == "gzip"
    assert (await client.get("/static/haven.css")).status_code == 404


async def test_every_link_between_pages_leads_somewhere(client: httpx.AsyncClient) -> None:
    seen: set[str] = set()
    for page in PAGES:
        html = (await client.get(page.path)).text
        for href in hrefs(html):
            # The header's "Sign in" leads to the account's home and the footer's "Report a problem"
            # to its form, pages of a started app: their own tests follow them (this app serves
            # the public pages only).
            if href in ACCOUNT_PATHS["home"].values() or href in FEEDBACK_PATHS["report"].values():
                continue
            if href.startswith("/") and href not in seen:
                seen.add(href)
                response = await client.get(href)
                assert response.status_code == 200, f"{page.path} links to {href}"
    assert {page.path for page in PAGES} <= seen, "every page is linked from another one"


async def test_the_sitemap_lists_every_page_with_its_translation(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/sitemap.xml")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/xml; charset=utf-8"
    namespaces = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9", "x": "http://www.w3.org/1999/xhtml"}
    root = ET.fromstring(response.content)  # noqa: S314 - our own document
    entries = root.findall("s:url", namespaces)
    assert len(entries) == len(PAGES)
    for entry in entries:
        loc = entry.findtext("s:loc", namespaces=namespaces)
        assert loc is not None
        assert loc.startswith("http://127.0.0.1:")
        langs = {link.get("hreflang") for link in entry.findall("x:link", namespaces)}
        assert langs == {"en", "fr"}


async def test_robots_txt_points_to_the_sitemap(client: httpx.AsyncClient) -> None:
    response = await client.get("/robots.txt")
    assert response.status_code == 200
    assert "Sitemap: http://" in response.text
    assert "Disallow: /api/" in response.text


async def test_the_footer_says_haven_is_not_a_government_site_in_both_languages(
    client: httpx.AsyncClient,
) -> None:
    english = (await client.get("/en/")).text
    french = (await client.get("/fr/")).text
    assert "not a Government of Canada website" in english
    assert "https://www.canada.ca/en/services/immigration-citizenship.html" in english
    assert "pas un site Web du gouvernement du Canada" in french
    assert "https://www.canada.ca/fr/services/immigration-citoyennete.html" in french


async def test_the_help_page_shows_the_configured_contact_address(
    client: httpx.AsyncClient,
) -> None:
    html = (await client.get("/en/help")).text
    assert "mailto:help@haven.invalid" in html


async def test_gzip_bodies_are_the_same_page(app: Haven) -> None:
    cached = app.site.responses["/fr/"]
    assert cached.gzipped is not None
    assert gzip.decompress(cached.gzipped.body) == cached.plain.body
