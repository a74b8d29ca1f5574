"""Drive the eligibility check the way a browser does: read each form, fill the questions it asks,
follow redirects. Shared by the in-process tests and the browser-free smoke checks."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlencode, urlsplit

import httpx

from haven.surge.persona import form_fields


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
