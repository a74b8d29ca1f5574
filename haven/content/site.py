"""The public site, rendered once at start-up into finished responses kept in memory.

``build_site`` turns the content library, the bilingual system pages (root, 404, 503, 500), the sitemap,
``robots.txt`` and the static assets into ``CachedResponse`` objects keyed by URL path. The same objects
are what ``haven export-static`` writes to disk, so the app and a static mirror serve identical bytes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final
from xml.sax.saxutils import escape, quoteattr

from markupsafe import Markup

from haven.content.markdown import render_body
from haven.content.pages import Library, Page, load_library
from haven.settings import Settings
from haven.web.assets import Asset, load_assets
from haven.web.i18n import LANGUAGES, N_, Language
from haven.web.pagecache import (
    HTML,
    IMMUTABLE,
    NO_STORE,
    PUBLIC_PAGE,
    SHORT_PUBLIC,
    CachedResponse,
    build,
    redirect,
)
from haven.web.templates import Renderer, render_bilingual

FOOTER_KEYS: Final = ("help", "service-status", "cookies", "privacy", "accessibility")
# The header's main sections and tools (content pages, or routes other features name in ``links``).
SECTION_KEYS: Final = (
    "immigrate",
    "express-entry",
    "study",
    "work",
    "visit",
    "family-sponsorship",
    "refugees",
    "citizenship",
)
TOOL_KEYS: Final = ("check-eligibility", "crs-calculator", "fsw-calculator")
ACCOUNT_KEY: Final = "account"  # the account's home: a route of the accounts feature, in ``links``
REPORT_KEY: Final = "report"  # "report a problem with this page": a route of the feedback feature
SEARCH_PATHS: Final[dict[Language, str]] = {"en": "/en/search", "fr": "/fr/recherche"}
# Content pages that are live: the site renders their words but does not finish them; another part of
# Haven fills the live figures in and serves them (the service status page: the waiting room's state,
# ``haven.shield.status_page``). They are in the sitemap and the footer, not in a static export.
LIVE_KEYS: Final = ("service-status", "rounds-of-invitations")  # rendered by their features
# How long a client told "busy" should wait before trying again, in seconds.
BUSY_RETRY_AFTER: Final = 30


@dataclass(frozen=True)
class Site:
    """Everything public, finished. ``files`` maps export file names to the responses they hold."""

    responses: Mapping[str, CachedResponse]
    not_found: CachedResponse
    busy: CachedResponse
    problem: CachedResponse
    library: Library
    assets: Mapping[str, Asset]
    files: Mapping[str, CachedResponse]
    renderer: Renderer
    base_url: str
    # (language, key) of each live page → the context its template takes, as a content page's.
    live_pages: Mapping[tuple[Language, str], Mapping[str, Any]]
    # Each language's header: its sections, its tools and the account's address.
    navigation: Mapping[Language, Mapping[str, Any]]

    def chrome(self, lang: Language) -> dict[str, object]:
        """What every page of the site layout needs besides its own content."""
        return {
            "footer_links": [
                (self.library.get(lang, key).title, self.library.get(lang, key).path) for key in FOOTER_KEYS
            ],
            "nav": self.navigation[lang],
        }

    def crumbs(self, lang: Language, key: str) -> list[tuple[str, str]]:
        """The breadcrumb trail of a page that sits below the content page ``key``, that page included."""
        page = self.library.get(lang, key)
        _ = self.renderer.gettext(lang)
        trail = [*self.library.breadcrumbs(page), page]
        return [(_("Home") if crumb.key == "home" else crumb.title, crumb.path) for crumb in trail]

    def export_files(self) -> Iterator[tuple[str, bytes]]:
        """(relative file name, bytes) for a static mirror, with ``.gz`` twins where gzip pays."""
        for name, response in sorted(self.files.items()):
            yield name, response.plain.body
            if response.gzipped is not None:
                yield name + ".gz", response.gzipped.body


def build_site(
    settings: Settings, *, dynamic_links: Mapping[str, Mapping[Language, str]] | None = None
) -> Site:
    """Render the whole public site. ``dynamic_links`` names routes other features serve (the
    eligibility questions, say) so content pages can link to them once they exist."""
    library = load_library()
    assets = load_assets()
    links = dynamic_links or {}

    def asset(name: str) -> str:
        return assets[name].url

    renderer = Renderer({"asset": asset, "contact_email": settings.contact_email})
    base = settings.base_url
    responses: dict[str, CachedResponse] = {}
    files: dict[str, CachedResponse] = {}
    live_pages: dict[tuple[Language, str], Mapping[str, Any]] = {}
    navigation: dict[Language, Mapping[str, Any]] = {}

    for lang in LANGUAGES:
        _ = renderer.gettext(lang)
        table_label = _("Table, scrolls sideways on small screens")
        footer_links = [(library.get(lang, key).title, library.get(lang, key).path) for key in FOOTER_KEYS]
        navigation[lang] = _navigation(library, links, lang, _)

        def resolve(key: str, lang: Language = lang) -> str | None:
            page = library.pages.get((lang, key))
            return page.path if page is not None else links.get(key, {}).get(lang)

        for page in library.in_language(lang):
            other = library.translation(page)
            context: dict[str, Any] = {
                "page": page,
                "title": page.title,
                "description": page.summary,
                # Safe: our Markdown renderer escapes raw HTML (html=False); only its own tags remain.
                "body": Markup(render_body(page, resolve, table_label)),  # noqa: S704
                "canonical": base + page.path,
                "alternates": {p.lang: base + p.path for p in (page, other)},
                "toggle_href": other.path,
                "crumbs": [
                    (_("Home") if crumb.key == "home" else crumb.title, crumb.path)
                    for crumb in library.breadcrumbs(page)
                ],
                "children": [library.get(lang, key) for key in page.children],
                "tasks": [library.get(lang, key) for key in page.tasks],
                "footer_links": footer_links,
                "nav": navigation[lang],
                "start_href": links.get(page.key, {}).get(lang),
                "noindex": False,
            }
            if page.slug:
                responses[page.path + "/"] = redirect(page.path)
            if page.key in LIVE_KEYS:
                live_pages[(lang, page.key)] = context
                continue
            html = renderer.render(f"content/{page.template}.html", lang, **context)
            response = build(html.encode(), content_type=HTML, cache_control=PUBLIC_PAGE)
            responses[page.path] = response
            files[_file_name(page.path)] = response
        responses[f"/{lang}"] = redirect(f"/{lang}/")

    def bilingual(template: str, *, status: int, cache_control: str, **extra: Any) -> CachedResponse:
        html = render_bilingual(renderer, template, noindex=status != 200, **extra)
        headers = {"x-robots-tag": "noindex"} if status != 200 else {}
        if status == 503:
            headers["retry-after"] = str(BUSY_RETRY_AFTER)
        return build(
            html.encode(),
            content_type=HTML,
            cache_control=cache_control,
            status=status,
            extra_headers=headers,
        )

    home = {lang: library.get(lang, "home") for lang in LANGUAGES}
    root = bilingual(
        "root",
        status=200,
        cache_control=PUBLIC_PAGE,
        canonical=base + "/",
        description=f"{home['en'].summary} / {home['fr'].summary}",
        alternates={"en": base + "/en/", "fr": base + "/fr/", "x-default": base + "/"},
    )
    responses["/"] = root
    files["index.html"] = root
    not_found = bilingual("not_found", status=404, cache_control=SHORT_PUBLIC)
    busy = bilingual("busy", status=503, cache_control=NO_STORE)
    problem = bilingual("problem", status=500, cache_control=NO_STORE)
    files.update({"404.html": not_found, "503.html": busy, "500.html": problem})

    sitemap = build(
        _sitemap(library, base).encode(),
        content_type="application/xml; charset=utf-8",
        cache_control=PUBLIC_PAGE,
    )
    robots = build(
        _robots(base).encode(), content_type="text/plain; charset=utf-8", cache_control=PUBLIC_PAGE
    )
    responses["/sitemap.xml"] = files["sitemap.xml"] = sitemap
    responses["/robots.txt"] = files["robots.txt"] = robots

    for item in assets.values():
        response = build(
            item.body, content_type=item.content_type, cache_control=IMMUTABLE, route_class="static"
        )
        responses[item.url] = response
        files[item.url.lstrip("/")] = response

    return Site(
        responses, not_found, busy, problem, library, assets, files, renderer, base, live_pages, navigation
    )


TOOL_TITLES: Final = {
    "crs-calculator": N_("CRS calculator"),
    "fsw-calculator": N_("Federal Skilled Worker points"),
}
TOOL_SUMMARIES: Final = {
    "crs-calculator": N_(
        "Estimate your Comprehensive Ranking System (CRS) score for Express Entry, factor by factor."
    ),
    "fsw-calculator": N_(
        "Work out your points on the Federal Skilled Worker Program’s 67-point selection grid."
    ),
}


def _navigation(
    library: Library, links: Mapping[str, Mapping[Language, str]], lang: Language, gettext: Any
) -> dict[str, Any]:
    """The header of ``lang``: (title, address) of each main section and tool, and the account's."""
    sections = [(library.get(lang, key).title, library.get(lang, key).path) for key in SECTION_KEYS]
    tools = []
    summaries = {}  # of the tools that are not content pages: what the search shows for them
    for key in TOOL_KEYS:
        page = library.pages.get((lang, key))
        if page is not None:
            tools.append((page.title, page.path))
        elif key in links:
            tools.append((gettext(TOOL_TITLES[key]), links[key][lang]))
            summaries[links[key][lang]] = gettext(TOOL_SUMMARIES[key])
    account = links.get(ACCOUNT_KEY, {}).get(lang)
    return {
        "report": links.get(REPORT_KEY, {}).get(lang),
        "sections": sections,
        "tools": tools,
        "tool_summaries": summaries,
        "account": account,
        "search": SEARCH_PATHS[lang],
    }


def _file_name(path: str) -> str:
    """``/en/`` → ``en/index.html``; ``/en/immigrate`` → ``en/immigrate.html``."""
    trimmed = path.strip("/")
    return f"{trimmed}/index.html" if path.endswith("/") else f"{trimmed}.html"


def _sitemap(library: Library, base: str) -> str:
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:xhtml="http://www.w3.org/1999/xhtml">',
    ]
    for lang in LANGUAGES:
        for page in library.in_language(lang):
            lines.append(_sitemap_entry(page, library.translation(page), base))
    lines.append("</urlset>\n")
    return "\n".join(lines)


def _sitemap_entry(page: Page, other: Page, base: str) -> str:
    alternates = "".join(
        f'<xhtml:link rel="alternate" hreflang="{p.lang}" href={quoteattr(base + p.path)}/>'
        for p in sorted((page, other), key=lambda p: p.lang)
    )
    return (
        f"<url><loc>{escape(base + page.path)}</loc>"
        f"<lastmod>{page.modified.isoformat()}</lastmod>{alternates}</url>"
    )


def _robots(base: str) -> str:
    return "\n".join(
        [
            "User-agent: *",
            "Disallow: /api/",
            "Disallow: /healthz",
            "Disallow: /readyz",
            "Disallow: /metrics",
            f"Sitemap: {base}/sitemap.xml",
            "",
        ]
    )
