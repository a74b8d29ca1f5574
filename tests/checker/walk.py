"""Drive the eligibility check the way a browser does: read each form, fill the questions it asks,
follow redirects. Shared by the in-process tests and the browser-free smoke checks."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlencode, urlsplit

import httpx

# A full set of answers; only those each page asks for are sent.
PERSONA: dict[str, str] = {
    "status": "outside", "age": "29", "partner": "coming", "education": "master", "where": "eca",
    "test1": "ielts_general", "s1r": "8", "s1w": "7.5", "s1l": "8.5", "s1s": "7.5",
    "test2": "tef_canada", "s2r": "210", "s2w": "320", "s2l": "250", "s2s": "320",
    "p_edu": "bachelor", "p_test": "celpip_general", "spr": "7", "spw": "7", "spl": "7", "sps": "7",
    "p_work": "0", "p_study": "no", "cwork": "0", "fwork": "3", "continuous": "yes", "trade": "no",
    "offer": "no", "pnp": "no", "relative": "sibling", "family": "2", "funds": "30000", "quebec": "no",
}  # fmt: skip


def form_fields(html: str) -> tuple[set[str], dict[str, str]]:
    """(names of the visible inputs, hidden inputs with their values) of the page's form."""
    form = html.split('<form method="get"', 1)[1].split("</form>", 1)[0]
    hidden = {
        n: unescape(v) for n, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)
    }
    hidden.pop("go", None)  # the "submitted" marker, not an answer
    names = set(re.findall(r'<input[^>]*name="([^"]+)"', form)) - set(hidden) - {"go"}
    return names, hidden


async def walk(
    client: httpx.AsyncClient, start: str, answers: dict[str, str], limit: int = 80
) -> tuple[httpx.Response, list[str]]:
    """Answer every question from ``start`` to the results page; returns it and the paths asked."""
    url = start
    asked: list[str] = []
    for _ in range(limit):
        response = await client.get(url)
        if response.status_code == 303:
            url = response.headers["location"]
            continue
        assert response.status_code == 200, f"{url}: {response.status_code}"
        path = urlsplit(url).path
        last = path.rsplit("/", 1)[1]
        if last in ("results", "resultats"):
            return response, asked
        if last in ("check-answers", "verifier-reponses"):
            link = re.search(r'href="([^"]*/(?:results|resultats)\?[^"]*)"', response.text)
            assert link is not None
            url = unescape(link.group(1))
            continue
        names, hidden = form_fields(response.text)
        asked.append(path)
        url = path + "?" + urlencode({**hidden, **{name: answers[name] for name in names}, "go": "1"})
    raise AssertionError(f"no results page after {limit} requests")
