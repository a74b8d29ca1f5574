"""Search over the pages and tools, in each language: accent-insensitive, word beginnings, every word
of the query, a results page without JavaScript, finished bytes kept for the next asker, and no
database (the app serving these tests never started its services)."""

from __future__ import annotations

import httpx
import pytest

from haven.content.search import Index
from haven.web.i18n import fold

SEARCH = {"en": "/en/search", "fr": "/fr/recherche"}


async def results(client: httpx.AsyncClient, lang: str, query: str) -> httpx.Response:
    return await client.get(SEARCH[lang], params={"q": query})


def titles(response: httpx.Response) -> list[str]:
    return [
        part.split(">", 1)[1].split("</a>", 1)[0]
        for part in response.text.split('class="search-results__title"')[1:]
    ]


@pytest.mark.parametrize(
    ("lang", "query", "first"),
    [
        ("en", "express entry", "Express Entry"),
        ("fr", "entrée express", "Entrée express"),
        ("fr", "ENTREE EXPRESS", "Entrée express"),  # no accents, no case
        ("en", "crs calculator", "CRS calculator"),
        ("en", "study permit", "Study in Canada"),
        ("en", "rounds of invitations", "Rounds of invitations"),
        ("fr", "citoyennete", "Citoyenneté canadienne"),
    ],
)
async def test_a_search_finds_the_page_people_mean(
    client: httpx.AsyncClient, lang: str, query: str, first: str
) -> None:
    response = await results(client, lang, query)
    assert response.status_code == 200
    assert titles(response)[0] == first, titles(response)
    assert response.headers["cache-control"].startswith("public")
    assert "set-cookie" not in response.headers


async def test_the_results_page_says_when_nothing_matches_and_escapes_the_query(
    client: httpx.AsyncClient,
) -> None:
    response = await results(client, "en", "<script>zzqx</script>")
    assert response.status_code == 200
    assert "No results for" in response.text
    assert "<script>zzqx" not in response.text
    assert "&lt;script&gt;zzqx" in response.text
    empty = await results(client, "fr", "")
    assert empty.status_code == 200
    assert 'name="q"' in empty.text
    assert "search-results" not in empty.text


async def test_every_page_has_the_search_box(client: httpx.AsyncClient) -> None:
    for path, target in (("/en/", "/en/search"), ("/fr/immigrer/entree-express", "/fr/recherche")):
        page = await client.get(path)
        assert f'<form class="site-search" method="get" action="{target}" role="search">' in page.text


def test_the_index_matches_word_beginnings_and_needs_every_word() -> None:
    index = Index("en")
    index.add("Immigrate to Canada", "/en/immigrate", "The main ways to come.")
    index.add("Study in Canada", "/en/study", "Study permits and schools.", "A study permit is not a visa.")
    index.freeze()
    assert [hit.document.path for hit in index.search("immigr")] == ["/en/immigrate"]
    assert [hit.document.path for hit in index.search("canada permit")] == ["/en/study"]
    assert index.search("canada nothing") == []
    assert index.search("the of") == []  # only stop words
    assert fold("Équivalence") == "equivalence"
